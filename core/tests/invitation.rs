//! Owners invite admins and receptionists by email; the invitee chooses a password through
//! a single-use link that works for 72 hours.

mod common;

use chrono::Duration;
use common::{Fixture, OWNER_PASSWORD};
use frontdesk_core::Error;
use frontdesk_core::domain::password::PasswordViolation;
use frontdesk_core::domain::people::{Lang, Role};
use frontdesk_core::engine::invitation::NewInvitation;
use frontdesk_core::storage_tests;
use frontdesk_core::testing::TestDb;

const INVITEE: &str = "new.admin@acme.example";
const PASSWORD: &str = "Green-Lobby-7315";

fn invitation(email: &str, role: Role, language: Lang) -> NewInvitation {
    NewInvitation {
        email: email.into(),
        role,
        can_export: false,
        language,
    }
}

/// The token in the link of an invitation mail.
fn token_in(body: &str) -> String {
    let start = body
        .find("/invitation?token=")
        .expect("the mail holds an invitation link")
        + "/invitation?token=".len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Invites `email` as the owner and returns the token of the mail that is delivered.
async fn invite(f: &Fixture, email: &str, role: Role, language: Lang) -> String {
    let before = f.mailer.sent().len();
    f.engine
        .invite(&f.owner, &invitation(email, role, language))
        .await
        .expect("invite");
    assert_eq!(f.engine.dispatch_due().await.expect("dispatch"), 1);
    let sent = f.mailer.sent();
    assert_eq!(sent.len(), before + 1, "exactly one mail is delivered");
    let mail = sent.last().unwrap();
    assert_eq!(mail.to, email);
    token_in(&mail.body)
}

async fn signs_in(f: &Fixture, email: &str, password: &str) -> bool {
    f.engine
        .login("acme", email, password, "198.51.100.9")
        .await
        .is_ok()
}

storage_tests! {
    async fn an_invited_admin_accepts_and_signs_in_with_the_chosen_password(t: &TestDb) {
        let f = Fixture::new(t).await;
        let token = invite(&f, INVITEE, Role::Admin, Lang::En).await;
        let mail = f.mailer.sent().pop().unwrap();
        assert!(mail.body.contains("72 hours"), "{}", mail.body);
        assert!(mail.body.contains("owner@acme.example"), "{}", mail.body);

        let pending = f.engine.invitations(&f.owner).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].email, INVITEE);
        assert_eq!(pending[0].role, Role::Admin);

        let account = f
            .engine
            .accept_invitation(&token, PASSWORD, "203.0.113.5")
            .await
            .expect("accept");
        assert_eq!(account.role, Role::Admin);
        assert_eq!(account.email, INVITEE);
        assert!(signs_in(&f, INVITEE, PASSWORD).await);
        assert!(f.engine.invitations(&f.owner).await.unwrap().is_empty());

        let invited = f.logged("account.invite").await;
        assert_eq!(invited.len(), 1);
        assert_eq!(invited[0].actor, "owner@acme.example");
        let created: Vec<_> = f
            .logged("account.create")
            .await
            .into_iter()
            .filter(|e| e.actor == INVITEE)
            .collect();
        assert_eq!(created.len(), 1, "the invitee's account.create is logged");
        assert_eq!(created[0].ip, "203.0.113.5");
    }

    async fn an_invitation_mail_is_written_in_the_invitees_language(t: &TestDb) {
        let f = Fixture::new(t).await;
        invite(&f, "uketsuke@acme.example", Role::Receptionist, Lang::Ja).await;
        let mail = f.mailer.sent().pop().unwrap();
        assert!(mail.subject.contains("招待"), "{}", mail.subject);
        assert!(mail.body.contains("受付担当"), "{}", mail.body);
        assert!(mail.body.contains("72 時間"), "{}", mail.body);
    }

    async fn an_invitation_link_expires_after_seventy_two_hours(t: &TestDb) {
        let f = Fixture::new(t).await;
        let token = invite(&f, INVITEE, Role::Admin, Lang::En).await;
        f.clock.advance(Duration::hours(72));
        let late = f.engine.accept_invitation(&token, PASSWORD, "203.0.113.5").await;
        assert!(matches!(late, Err(Error::InvalidInvitation)), "{late:?}");
        assert!(f.engine.invitations(&f.owner).await.unwrap().is_empty());
        assert!(!signs_in(&f, INVITEE, PASSWORD).await);
    }

    async fn an_invitation_link_still_works_just_before_it_expires(t: &TestDb) {
        let f = Fixture::new(t).await;
        let token = invite(&f, INVITEE, Role::Admin, Lang::En).await;
        f.clock.advance(Duration::hours(72) - Duration::minutes(1));
        f.engine
            .accept_invitation(&token, PASSWORD, "203.0.113.5")
            .await
            .expect("in time");
        assert!(signs_in(&f, INVITEE, PASSWORD).await);
    }

    async fn an_invitation_link_works_only_once(t: &TestDb) {
        let f = Fixture::new(t).await;
        let token = invite(&f, INVITEE, Role::Admin, Lang::En).await;
        f.engine
            .accept_invitation(&token, PASSWORD, "203.0.113.5")
            .await
            .expect("accept");
        let again = f
            .engine
            .accept_invitation(&token, "Other-Secret-2468", "203.0.113.5")
            .await;
        assert!(matches!(again, Err(Error::InvalidInvitation)), "{again:?}");
        assert!(signs_in(&f, INVITEE, PASSWORD).await);
        assert!(!signs_in(&f, INVITEE, "Other-Secret-2468").await);
    }

    async fn of_two_concurrent_accepts_of_one_invitation_exactly_one_wins(t: &TestDb) {
        let f = Fixture::new(t).await;
        let token = invite(&f, INVITEE, Role::Admin, Lang::En).await;
        let (a, b) = tokio::join!(
            f.engine.accept_invitation(&token, "First-Secret-1111", "10.0.0.1"),
            f.engine.accept_invitation(&token, "Second-Secret-2222", "10.0.0.2"),
        );
        let (winner, loser) = match (&a, &b) {
            (Ok(_), Err(Error::InvalidInvitation)) => ("First-Secret-1111", "Second-Secret-2222"),
            (Err(Error::InvalidInvitation), Ok(_)) => ("Second-Secret-2222", "First-Secret-1111"),
            other => panic!("expected exactly one success: {other:?}"),
        };
        assert!(signs_in(&f, INVITEE, winner).await);
        assert!(!signs_in(&f, INVITEE, loser).await);
        let accounts = f.engine.accounts(&f.owner).await.unwrap();
        assert_eq!(accounts.iter().filter(|a| a.email == INVITEE).count(), 1);
    }

    async fn a_weak_password_is_refused_and_leaves_the_link_usable(t: &TestDb) {
        let f = Fixture::new(t).await;
        let token = invite(&f, INVITEE, Role::Admin, Lang::En).await;
        for weak in ["short", "new.admin@acme.example-X1"] {
            let refused = f.engine.accept_invitation(&token, weak, "203.0.113.5").await;
            assert!(matches!(refused, Err(Error::WeakPassword(_))), "{weak}: {refused:?}");
        }
        let with_email = f
            .engine
            .accept_invitation(&token, "Xnew.admin@acme.example1", "203.0.113.5")
            .await;
        match with_email {
            Err(Error::WeakPassword(v)) => {
                assert!(v.contains(&PasswordViolation::ContainsEmail), "{v:?}")
            }
            other => panic!("expected a weak password: {other:?}"),
        }
        f.engine
            .accept_invitation(&token, PASSWORD, "203.0.113.5")
            .await
            .expect("a good password still works");
    }

    async fn an_email_that_already_has_an_account_cannot_be_invited(t: &TestDb) {
        let f = Fixture::new(t).await;
        f.account("taken@acme.example", Role::Receptionist, false).await;
        let refused = f
            .engine
            .invite(&f.owner, &invitation("Taken@ACME.example", Role::Admin, Lang::En))
            .await;
        assert!(matches!(refused, Err(Error::Conflict(_))), "{refused:?}");
        assert!(f.mailer.sent().iter().all(|m| m.to != "taken@acme.example"));
        assert!(f.engine.invitations(&f.owner).await.unwrap().is_empty());
    }

    async fn a_new_invitation_to_the_same_email_retires_the_older_one(t: &TestDb) {
        let f = Fixture::new(t).await;
        let old = invite(&f, INVITEE, Role::Receptionist, Lang::En).await;
        let new = invite(&f, INVITEE, Role::Admin, Lang::En).await;
        let pending = f.engine.invitations(&f.owner).await.unwrap();
        assert_eq!(pending.len(), 1);
        assert_eq!(pending[0].role, Role::Admin);
        let stale = f.engine.accept_invitation(&old, PASSWORD, "203.0.113.5").await;
        assert!(matches!(stale, Err(Error::InvalidInvitation)), "{stale:?}");
        let account = f
            .engine
            .accept_invitation(&new, PASSWORD, "203.0.113.5")
            .await
            .expect("the newest link works");
        assert_eq!(account.role, Role::Admin);
    }

    async fn two_concurrent_invitations_to_one_email_leave_one_pending(t: &TestDb) {
        let f = Fixture::new(t).await;
        let as_admin = invitation(INVITEE, Role::Admin, Lang::En);
        let as_receptionist = invitation(INVITEE, Role::Receptionist, Lang::En);
        let (a, b) = tokio::join!(
            f.engine.invite(&f.owner, &as_admin),
            f.engine.invite(&f.owner, &as_receptionist),
        );
        a.expect("first");
        b.expect("second");
        assert_eq!(f.engine.invitations(&f.owner).await.unwrap().len(), 1);
    }

    async fn only_owners_invite_and_nobody_is_invited_as_an_owner(t: &TestDb) {
        let f = Fixture::new(t).await;
        let admin = f.account("admin@acme.example", Role::Admin, true).await;
        let desk = f.account("desk@acme.example", Role::Receptionist, false).await;
        for actor in [&admin, &desk] {
            let invited = f
                .engine
                .invite(actor, &invitation(INVITEE, Role::Receptionist, Lang::En))
                .await;
            assert!(matches!(invited, Err(Error::Forbidden)), "{invited:?}");
            let listed = f.engine.invitations(actor).await;
            assert!(matches!(listed, Err(Error::Forbidden)), "{listed:?}");
        }
        let owner = f
            .engine
            .invite(&f.owner, &invitation(INVITEE, Role::Owner, Lang::En))
            .await;
        assert!(matches!(owner, Err(Error::Invalid { .. })), "{owner:?}");
        assert!(f.engine.invitations(&f.owner).await.unwrap().is_empty());
    }

    async fn an_unknown_token_is_refused(t: &TestDb) {
        let f = Fixture::new(t).await;
        let made_up = f
            .engine
            .accept_invitation("not-a-real-token", OWNER_PASSWORD, "203.0.113.5")
            .await;
        assert!(matches!(made_up, Err(Error::InvalidInvitation)), "{made_up:?}");
    }
}
