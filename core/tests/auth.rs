//! Signing in: wrong credentials, login throttling per account and per address, and
//! self-service password resets.

mod common;

use chrono::Duration;
use common::{Fixture, OWNER_PASSWORD};
use frontdesk_core::Error;
use frontdesk_core::domain::password::PasswordViolation;
use frontdesk_core::domain::people::{Lang, Role};
use frontdesk_core::engine::auth::NewAdmin;
use frontdesk_core::engine::{Actor, Engine};
use frontdesk_core::storage_tests;
use frontdesk_core::store::Db;
use frontdesk_core::testing::TestDb;

const OWNER: &str = "owner@acme.example";

/// The reset token in the link of a reset mail.
fn token_in(body: &str) -> String {
    let start = body
        .find("token=")
        .expect("the mail holds a link with a token")
        + "token=".len();
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// Asks for a reset of the owner's password and returns the token of the mail that is sent.
async fn reset_token(f: &Fixture) -> String {
    let before = f.mailer.sent().len();
    f.engine
        .request_password_reset("acme", OWNER, "198.51.100.7")
        .await
        .expect("reset request");
    assert_eq!(
        f.engine.dispatch_due().await.expect("dispatch"),
        1,
        "one message is sent"
    );
    let sent = f.mailer.sent();
    assert_eq!(sent.len(), before + 1, "exactly one mail is delivered");
    let mail = sent.last().unwrap();
    assert_eq!(mail.to, OWNER);
    token_in(&mail.body)
}

/// A transaction that keeps sign-ins from counting failures until it is released.
enum Holder {
    /// Holds SQLite's write lock; the pool is the one the sign-ins use.
    Sqlite(sqlx::SqlitePool, sqlx::Transaction<'static, sqlx::Sqlite>),
    /// Holds a new, uncommitted throttle row; the pool is the one the sign-ins use.
    Postgres(sqlx::PgPool, sqlx::Transaction<'static, sqlx::Postgres>),
}

impl Holder {
    /// How many sign-ins are waiting for this transaction.
    async fn waiting(&self) -> usize {
        match self {
            // Every guess holds a connection of the pool only while it reads (which the
            // write lock does not stop) or while it waits for the write lock; the holder
            // has one more. So when all are taken, all guesses have read and are waiting.
            Holder::Sqlite(pool, _) => (pool.size() as usize - pool.num_idle()).saturating_sub(1),
            Holder::Postgres(pool, _) => {
                const WAITING: &str = "SELECT COUNT(*) FROM pg_stat_activity \
                    WHERE datname = current_database() AND wait_event_type = 'Lock'";
                let waiting: i64 = sqlx::query_scalar(WAITING).fetch_one(pool).await.unwrap();
                waiting as usize
            }
        }
    }

    /// Lets the waiting sign-ins go on, leaving no trace.
    async fn release(self) {
        match self {
            Holder::Sqlite(_, tx) => tx.rollback().await.unwrap(),
            Holder::Postgres(_, tx) => tx.rollback().await.unwrap(),
        }
    }
}

/// Whether the owner can sign in with `password` (from a fresh address).
async fn signs_in(f: &Fixture, password: &str) -> bool {
    match f
        .engine
        .login("acme", OWNER, password, "203.0.113.50")
        .await
    {
        Ok(_) => true,
        Err(Error::BadCredentials) => false,
        Err(other) => panic!("unexpected login error: {other:?}"),
    }
}

storage_tests! {
    async fn ten_wrong_passwords_lock_the_account_for_fifteen_minutes(t: &TestDb) {
        let f = Fixture::new(t).await;
        for attempt in 1..=101 {
            let ip = format!("10.0.{}.{}", attempt / 256, attempt % 256);
            let result = f
                .engine
                .login("acme", OWNER, "Wrong-Password-99", &ip)
                .await;
            match result {
                Err(Error::BadCredentials) if attempt <= 10 => {}
                Err(Error::Throttled { retry_after_secs }) if attempt > 10 => {
                    assert!((1..=900).contains(&retry_after_secs), "{retry_after_secs}");
                }
                other => panic!("attempt {attempt}: unexpected {other:?}"),
            }
        }

        // The right password does not help while the account is locked.
        let locked = f
            .engine
            .login("acme", OWNER, OWNER_PASSWORD, "10.1.0.1")
            .await;
        assert!(
            matches!(
                locked,
                Err(Error::Throttled {
                    retry_after_secs: 900
                })
            ),
            "{locked:?}"
        );

        assert_eq!(f.logged("login.failed").await.len(), 10);
        let throttled = f.logged("login.throttled").await;
        assert_eq!(throttled.len(), 1, "92 refusals within a minute are one entry");
        assert!(throttled.iter().all(|e| e.actor == OWNER));
        assert!(f.logged("login.ok").await.is_empty());

        // Just before the lock ends it still holds; just after it the right password works.
        f.clock
            .advance(Duration::minutes(15) - Duration::seconds(1));
        let still = f
            .engine
            .login("acme", OWNER, OWNER_PASSWORD, "10.1.0.2")
            .await;
        assert!(
            matches!(
                still,
                Err(Error::Throttled {
                    retry_after_secs: 1
                })
            ),
            "{still:?}"
        );
        f.clock.advance(Duration::seconds(2));
        let sign_in = f
            .engine
            .login("acme", OWNER, OWNER_PASSWORD, "10.1.0.3")
            .await
            .expect("unlocked");
        assert_eq!(sign_in.account.email, OWNER);
        assert_eq!(
            f.engine
                .session(&sign_in.session_token)
                .await
                .unwrap()
                .map(|a| a.id),
            Some(f.owner.account.id)
        );
        assert_eq!(f.logged("login.ok").await.len(), 1);
    }

    async fn guesses_made_at_the_same_time_still_get_only_ten_answers(t: &TestDb) {
        // Every guess must pass the lock check before any failure is counted, or the test
        // proves nothing: guesses that run one after another are stopped by the lock check
        // alone, and the counting under the write lock is never needed. So the write path is
        // held shut (SQLite: another writer holds the lock; PostgreSQL: another transaction
        // holds the throttle row) until every guess is waiting there, on a pool large enough
        // for all of them to wait at once. Then at most ten may be answered.
        const GUESSES: usize = 20;
        let f = Fixture::new(t).await;
        let (db, holder) = match &t.db {
            Db::Sqlite(_) => {
                let options = t
                    .url()
                    .parse::<sqlx::sqlite::SqliteConnectOptions>()
                    .unwrap()
                    .busy_timeout(std::time::Duration::from_secs(30));
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(GUESSES as u32 + 1)
                    .connect_with(options)
                    .await
                    .unwrap();
                let holder = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                (Db::Sqlite(pool.clone()), Holder::Sqlite(pool, holder))
            }
            Db::Postgres(_) => {
                let pool = sqlx::postgres::PgPoolOptions::new()
                    .max_connections(GUESSES as u32 + 2)
                    .connect(t.url())
                    .await
                    .unwrap();
                let mut holder = pool.begin().await.unwrap();
                // Uncommitted: invisible to the lock check, but every counting upsert of this
                // key waits for it.
                sqlx::query(
                    "INSERT INTO login_throttle (throttle_key, window_start, failures) \
                     VALUES ('account:acme:owner@acme.example', 0, 0)",
                )
                .execute(&mut *holder)
                .await
                .unwrap();
                (Db::Postgres(pool.clone()), Holder::Postgres(pool, holder))
            }
        };
        let engine = Engine::new(db, f.engine.ports.clone(), common::settings());
        let guesses: Vec<_> = (0..GUESSES)
            .map(|n| {
                let engine = engine.clone();
                tokio::spawn(async move {
                    let ip = format!("10.0.1.{n}");
                    engine.login("acme", OWNER, "Wrong-Password-99", &ip).await
                })
            })
            .collect();
        tokio::time::timeout(std::time::Duration::from_secs(60), async {
            while holder.waiting().await < GUESSES {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("every guess reaches the write path");
        holder.release().await;

        let (mut answered, mut throttled) = (0, 0);
        for guess in guesses {
            match guess.await.unwrap() {
                Err(Error::BadCredentials) => answered += 1,
                Err(Error::Throttled { .. }) => throttled += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(
            (answered, throttled),
            (10, GUESSES - 10),
            "only ten guesses are answered"
        );
        assert_eq!(f.logged("login.failed").await.len(), 10);
        assert_eq!(f.logged("login.throttled").await.len(), 1, "one entry a minute");

        let right = f
            .engine
            .login("acme", OWNER, OWNER_PASSWORD, "10.0.2.1")
            .await;
        assert!(matches!(right, Err(Error::Throttled { .. })), "{right:?}");
    }

    async fn a_sign_in_racing_the_tenth_failure_either_wins_or_is_refused(t: &TestDb) {
        let f = Fixture::new(t).await;
        // Nine failures: one more locks the account.
        for n in 0..9 {
            let ip = format!("10.0.3.{n}");
            let wrong = f
                .engine
                .login("acme", OWNER, "Wrong-Password-99", &ip)
                .await;
            assert!(matches!(wrong, Err(Error::BadCredentials)), "{wrong:?}");
        }
        // The tenth wrong guess and the right password race. Either the right one comes
        // first and signs in (which clears the count), or it sees the lock.
        let (wrong, right) = tokio::join!(
            f.engine
                .login("acme", OWNER, "Wrong-Password-99", "10.0.3.100"),
            f.engine.login("acme", OWNER, OWNER_PASSWORD, "10.0.3.101"),
        );
        assert!(matches!(wrong, Err(Error::BadCredentials)), "{wrong:?}");
        match right {
            Ok(_) => {
                assert_eq!(f.logged("login.ok").await.len(), 1);
                let again = f
                    .engine
                    .login("acme", OWNER, OWNER_PASSWORD, "10.0.3.102")
                    .await;
                assert!(again.is_ok(), "a sign-in cleared the failures: {again:?}");
            }
            Err(Error::Throttled { .. }) => {
                assert!(f.logged("login.ok").await.is_empty());
                let again = f
                    .engine
                    .login("acme", OWNER, OWNER_PASSWORD, "10.0.3.102")
                    .await;
                assert!(matches!(again, Err(Error::Throttled { .. })), "{again:?}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    async fn a_lock_set_while_the_right_password_is_checked_is_respected(t: &TestDb) {
        let f = Fixture::new(t).await;
        let wrong = f
            .engine
            .login("acme", OWNER, "Wrong-Password-99", "10.0.4.1")
            .await;
        assert!(matches!(wrong, Err(Error::BadCredentials)), "{wrong:?}");
        let until = (common::start() + Duration::minutes(15)).timestamp_millis();
        const LOCK: &str = "UPDATE login_throttle SET locked_until = $1 \
            WHERE throttle_key = 'account:acme:owner@acme.example'";

        // Another sign-in is locking the account (its transaction is still open) while the
        // right password is being checked: the sign-in waits for it and is refused.
        let signing_in = |engine: frontdesk_core::engine::Engine| {
            tokio::spawn(async move {
                engine
                    .login("acme", OWNER, OWNER_PASSWORD, "10.0.4.2")
                    .await
            })
        };
        let result = match &t.db {
            Db::Postgres(pool) => {
                let mut locking = pool.begin().await.unwrap();
                sqlx::query(LOCK)
                    .bind(until)
                    .execute(&mut *locking)
                    .await
                    .unwrap();
                let login = signing_in(f.engine.clone());
                // Until the sign-in waits for the row this transaction holds (or is done).
                const WAITING: &str = "SELECT COUNT(*) FROM pg_stat_activity \
                    WHERE datname = current_database() AND wait_event_type = 'Lock'";
                loop {
                    let waiting: i64 = sqlx::query_scalar(WAITING).fetch_one(pool).await.unwrap();
                    if waiting > 0 || login.is_finished() {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
                locking.commit().await.unwrap();
                login.await.unwrap()
            }
            Db::Sqlite(pool) => {
                // SQLite writers are serialised: the sign-in's write waits for this one.
                let mut locking = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
                sqlx::query(LOCK)
                    .bind(until)
                    .execute(&mut *locking)
                    .await
                    .unwrap();
                let login = signing_in(f.engine.clone());
                tokio::task::yield_now().await;
                locking.commit().await.unwrap();
                login.await.unwrap()
            }
        };
        assert!(matches!(result, Err(Error::Throttled { .. })), "{result:?}");
        assert!(f.logged("login.ok").await.is_empty());
    }

    async fn a_hundred_failures_from_one_address_lock_that_address_only(t: &TestDb) {
        let f = Fixture::new(t).await;
        for n in 0..100 {
            let email = format!("nobody{n}@acme.example");
            let result = f
                .engine
                .login("acme", &email, "Wrong-Password-99", "10.9.9.9")
                .await;
            assert!(
                matches!(result, Err(Error::BadCredentials)),
                "attempt {n}: {result:?}"
            );
        }
        let locked = f
            .engine
            .login("acme", OWNER, OWNER_PASSWORD, "10.9.9.9")
            .await;
        assert!(matches!(locked, Err(Error::Throttled { .. })), "{locked:?}");
        assert_eq!(f.logged("login.failed").await.len(), 100);
        assert_eq!(f.logged("login.throttled").await.len(), 1);

        // The account itself is not locked: from another address it signs in.
        f.engine
            .login("acme", OWNER, OWNER_PASSWORD, "10.9.9.10")
            .await
            .expect("other address");

        // The address is free again after the lock.
        f.clock
            .advance(Duration::minutes(15) + Duration::seconds(1));
        f.engine
            .login("acme", OWNER, OWNER_PASSWORD, "10.9.9.9")
            .await
            .expect("lock over");
    }

    async fn an_unknown_account_and_a_wrong_password_give_the_same_answer(t: &TestDb) {
        let f = Fixture::new(t).await;
        let unknown = f
            .engine
            .login("acme", "nobody@acme.example", OWNER_PASSWORD, "10.0.0.1")
            .await;
        assert!(matches!(unknown, Err(Error::BadCredentials)), "{unknown:?}");
        let wrong = f
            .engine
            .login("acme", OWNER, "Wrong-Password-99", "10.0.0.1")
            .await;
        assert!(matches!(wrong, Err(Error::BadCredentials)), "{wrong:?}");
        let no_tenant = f
            .engine
            .login("nowhere", OWNER, OWNER_PASSWORD, "10.0.0.1")
            .await;
        assert!(
            matches!(no_tenant, Err(Error::BadCredentials)),
            "{no_tenant:?}"
        );
        assert_eq!(
            unknown.unwrap_err().to_string(),
            wrong.unwrap_err().to_string()
        );

        // Email case and surrounding spaces do not matter for the right password.
        f.engine
            .login("acme", " Owner@ACME.example ", OWNER_PASSWORD, "10.0.0.1")
            .await
            .expect("sign in");
    }

    async fn a_reset_link_sets_a_new_password_once(t: &TestDb) {
        let f = Fixture::new(t).await;
        let token = reset_token(&f).await;
        assert!(!token.is_empty());
        let mail = f.mailer.sent().pop().unwrap();
        assert!(
            mail.body.contains(&format!(
                "http://127.0.0.1:8080/password-reset?token={token}"
            )),
            "{}",
            mail.body
        );

        // A weak password is refused and does not use the token up.
        let weak = f
            .engine
            .reset_password(&token, "weak", "198.51.100.7")
            .await;
        assert!(matches!(weak, Err(Error::WeakPassword(_))), "{weak:?}");
        // So is one holding the account's own address.
        let own = f.engine.reset_password(&token, "Owner@acme.example-7", "198.51.100.7").await;
        assert!(
            matches!(&own, Err(Error::WeakPassword(v)) if v == &[PasswordViolation::ContainsEmail]),
            "{own:?}"
        );
        assert!(signs_in(&f, OWNER_PASSWORD).await, "nothing changed yet");

        f.engine
            .reset_password(&token, "New-Secret-8472", "198.51.100.7")
            .await
            .expect("reset");
        let again = f
            .engine
            .reset_password(&token, "Other-Secret-1234", "198.51.100.7")
            .await;
        assert!(matches!(again, Err(Error::InvalidResetToken)), "{again:?}");

        assert!(
            !signs_in(&f, OWNER_PASSWORD).await,
            "the old password no longer works"
        );
        assert!(
            !signs_in(&f, "Other-Secret-1234").await,
            "the refused reuse changed nothing"
        );
        assert!(signs_in(&f, "New-Secret-8472").await);

        assert_eq!(f.logged("password_reset.request").await.len(), 1);
        assert_eq!(f.logged("password_reset.complete").await.len(), 1);
    }

    async fn a_reset_ends_the_sessions_of_the_account(t: &TestDb) {
        let f = Fixture::new(t).await;
        let session = f
            .engine
            .login("acme", OWNER, OWNER_PASSWORD, "10.0.0.1")
            .await
            .unwrap()
            .session_token;
        assert!(f.engine.session(&session).await.unwrap().is_some());
        let token = reset_token(&f).await;
        f.engine
            .reset_password(&token, "New-Secret-8472", "10.0.0.1")
            .await
            .expect("reset");
        assert!(f.engine.session(&session).await.unwrap().is_none());
    }

    async fn a_reset_link_expires_after_sixty_minutes(t: &TestDb) {
        let f = Fixture::new(t).await;
        let token = reset_token(&f).await;
        f.clock.advance(Duration::minutes(61));
        let late = f
            .engine
            .reset_password(&token, "New-Secret-8472", "198.51.100.7")
            .await;
        assert!(matches!(late, Err(Error::InvalidResetToken)), "{late:?}");
        assert!(
            signs_in(&f, OWNER_PASSWORD).await,
            "the password is unchanged"
        );
        assert!(!signs_in(&f, "New-Secret-8472").await);
    }

    async fn an_unused_reset_link_still_works_just_before_it_expires(t: &TestDb) {
        let f = Fixture::new(t).await;
        let token = reset_token(&f).await;
        f.clock.advance(Duration::minutes(59));
        f.engine
            .reset_password(&token, "New-Secret-8472", "198.51.100.7")
            .await
            .expect("in time");
        assert!(signs_in(&f, "New-Secret-8472").await);
    }

    async fn of_two_concurrent_resets_with_one_link_exactly_one_wins(t: &TestDb) {
        let f = Fixture::new(t).await;
        let token = reset_token(&f).await;
        let (a, b) = tokio::join!(
            f.engine
                .reset_password(&token, "First-Secret-1111", "10.0.0.1"),
            f.engine
                .reset_password(&token, "Second-Secret-2222", "10.0.0.2"),
        );
        let (winner, loser) = match (&a, &b) {
            (Ok(()), Err(Error::InvalidResetToken)) => ("First-Secret-1111", "Second-Secret-2222"),
            (Err(Error::InvalidResetToken), Ok(())) => ("Second-Secret-2222", "First-Secret-1111"),
            other => panic!("expected exactly one success: {other:?}"),
        };
        assert!(signs_in(&f, winner).await, "the winner's password works");
        assert!(!signs_in(&f, loser).await, "the loser's password does not");
        assert!(!signs_in(&f, OWNER_PASSWORD).await);
        assert_eq!(f.logged("password_reset.complete").await.len(), 1);
    }

    async fn a_reset_asked_for_the_address_as_typed_reaches_the_account(t: &TestDb) {
        // Normalised as at sign-in: case, surrounding spaces and full-width letters.
        let f = Fixture::new(t).await;
        f.engine
            .request_password_reset("acme", " ＯＷＮＥＲ@Acme.Example ", "198.51.100.7")
            .await
            .unwrap();
        assert_eq!(f.engine.dispatch_due().await.unwrap(), 1);
        assert_eq!(f.mailer.sent()[0].to, OWNER);
    }

    async fn a_reset_for_an_unknown_email_answers_ok_and_sends_nothing(t: &TestDb) {
        let f = Fixture::new(t).await;
        f.engine
            .request_password_reset("acme", "nobody@acme.example", "10.0.0.1")
            .await
            .expect("same answer");
        f.engine
            .request_password_reset("nowhere", OWNER, "10.0.0.1")
            .await
            .expect("same answer");
        assert_eq!(f.engine.dispatch_due().await.unwrap(), 0);
        assert!(f.mailer.sent().is_empty());
        assert!(f.logged("password_reset.request").await.is_empty());
    }

    async fn a_session_ends_after_twelve_hours_and_at_logout(t: &TestDb) {
        let f = Fixture::new(t).await;
        let first = f
            .engine
            .login("acme", OWNER, OWNER_PASSWORD, "10.0.0.1")
            .await
            .unwrap();
        f.clock.advance(Duration::hours(12) - Duration::seconds(1));
        assert!(
            f.engine
                .session(&first.session_token)
                .await
                .unwrap()
                .is_some()
        );
        f.clock.advance(Duration::seconds(1));
        assert!(
            f.engine
                .session(&first.session_token)
                .await
                .unwrap()
                .is_none()
        );

        let second = f
            .engine
            .login("acme", OWNER, OWNER_PASSWORD, "10.0.0.1")
            .await
            .unwrap();
        let actor = Actor {
            account: second.account.clone(),
            ip: "10.0.0.1".into(),
        };
        f.engine
            .logout(&actor, &second.session_token)
            .await
            .unwrap();
        assert!(
            f.engine
                .session(&second.session_token)
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(f.logged("logout").await.len(), 1);
    }

    async fn only_an_owner_creates_accounts(t: &TestDb) {
        let f = Fixture::new(t).await;
        let admin = f.account("admin@acme.example", Role::Admin, true).await;
        let new = NewAdmin {
            email: "someone@acme.example".into(),
            password: OWNER_PASSWORD.into(),
            role: Role::Owner,
            can_export: true,
            language: Lang::En,
        };
        let refused = f
            .engine
            .create_account(f.tenant.id, Some(&admin), &new)
            .await;
        assert!(matches!(refused, Err(Error::Forbidden)), "{refused:?}");
        let weak = NewAdmin {
            password: "password1".into(),
            ..new.clone()
        };
        let weak = f
            .engine
            .create_account(f.tenant.id, Some(&f.owner), &weak)
            .await;
        assert!(matches!(weak, Err(Error::WeakPassword(_))), "{weak:?}");
        f.engine
            .create_account(f.tenant.id, Some(&f.owner), &new)
            .await
            .expect("owner creates");
        let twice = f
            .engine
            .create_account(f.tenant.id, Some(&f.owner), &new)
            .await;
        assert!(matches!(twice, Err(Error::Conflict(_))), "{twice:?}");
        let emails: Vec<_> = f
            .engine
            .accounts(&f.owner)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.email)
            .collect();
        assert_eq!(
            emails,
            [
                "admin@acme.example",
                "owner@acme.example",
                "someone@acme.example"
            ]
        );
        assert!(matches!(
            f.engine.accounts(&admin).await,
            Err(Error::Forbidden)
        ));
    }

    async fn a_made_up_reset_token_is_refused(t: &TestDb) {
        let f = Fixture::new(t).await;
        let made_up = f
            .engine
            .reset_password("not-a-real-token", "New-Secret-8472", "10.0.0.1")
            .await;
        assert!(
            matches!(made_up, Err(Error::InvalidResetToken)),
            "{made_up:?}"
        );
        assert!(signs_in(&f, OWNER_PASSWORD).await);
    }
}

storage_tests! {
    async fn a_new_password_retires_every_reset_link_sent_before_it(t: &TestDb) {
        let f = Fixture::new(t).await;
        let first = reset_token(&f).await;
        f.clock.advance(chrono::Duration::seconds(61));
        let second = reset_token(&f).await;
        f.engine
            .reset_password(&second, "New-Secret-8472", "198.51.100.7")
            .await
            .expect("reset with the newer link");
        let stale = f
            .engine
            .reset_password(&first, "Stale-Secret-1234", "198.51.100.7")
            .await;
        assert!(matches!(stale, Err(Error::InvalidResetToken)), "{stale:?}");
        assert!(signs_in(&f, "New-Secret-8472").await);
    }
}

storage_tests! {
    async fn reset_mails_to_one_account_are_sent_at_most_once_a_minute(t: &TestDb) {
        let f = Fixture::new(t).await;
        for _ in 0..5 {
            f.engine
                .request_password_reset("acme", &f.owner.account.email, "198.51.100.7")
                .await
                .expect("the request is answered");
        }
        f.engine.dispatch_due().await.unwrap();
        assert_eq!(f.mailer.sent().len(), 1, "five requests within a minute send one mail");
        f.clock.advance(chrono::Duration::seconds(61));
        f.engine
            .request_password_reset("acme", &f.owner.account.email, "198.51.100.7")
            .await
            .unwrap();
        f.engine.dispatch_due().await.unwrap();
        assert_eq!(f.mailer.sent().len(), 2, "a minute later another may be sent");
    }
}

storage_tests! {
    async fn signing_in_rehashes_a_password_stored_with_older_costs(t: &TestDb) {
        let f = Fixture::new(t).await;
        let tenant_id = f.tenant.id;
        let stored = |engine: frontdesk_core::engine::Engine| async move {
            let mut tx = engine.db.read().await.unwrap();
            frontdesk_core::store::account::find_by_email(&mut tx, tenant_id, "owner@acme.example")
                .await
                .unwrap()
                .unwrap()
                .password_hash
        };
        assert!(stored(f.engine.clone()).await.contains("m=1024,t=1,p=1"));

        // The operator raises the cost; the next sign-in stores the password at the new cost.
        let mut settings = common::settings();
        settings.password_hashing.memory_kib = 2048;
        settings.password_hashing.iterations = 2;
        let upgraded = frontdesk_core::engine::Engine::new(
            f.engine.db.clone(),
            f.engine.ports.clone(),
            settings,
        );
        upgraded
            .login("acme", "owner@acme.example", OWNER_PASSWORD, "192.0.2.1")
            .await
            .expect("the old hash still signs in");
        assert!(stored(upgraded.clone()).await.contains("m=2048,t=2,p=1"));
        upgraded
            .login("acme", "owner@acme.example", OWNER_PASSWORD, "192.0.2.1")
            .await
            .expect("and so does the new one");
    }
}

storage_tests! {
    async fn malformed_sign_in_input_is_refused_without_storing_anything(t: &TestDb) {
        let f = Fixture::new(t).await;
        let huge = format!("{}@acme.example", "x".repeat(100_000));
        for (tenant, email) in [("acme", huge.as_str()), ("acme", "not an email"), ("ACME!", OWNER)] {
            let answer = f.engine.login(tenant, email, "Wrong#Pass1", "203.0.113.1").await;
            assert!(matches!(answer, Err(Error::BadCredentials)), "{answer:?}");
        }
        assert!(f.logged("login.failed").await.is_empty());
        let mut tx = f.engine.db.read().await.unwrap();
        let locked = frontdesk_core::store::account::locked_until(&mut tx, "ip:203.0.113.1").await.unwrap();
        assert_eq!(locked, None);
        drop(tx);
        let counted = common::execute(&t.db, "DELETE FROM login_throttle").await.unwrap();
        assert_eq!(counted, 0, "no failure was counted");
    }
}

/// How many sign-in throttle counters exist (one per account and per address that failed).
async fn throttle_counters(db: &Db) -> i64 {
    const COUNT: &str = "SELECT COUNT(*) FROM login_throttle";
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(COUNT).fetch_one(pool).await.unwrap(),
        Db::Postgres(pool) => sqlx::query_scalar(COUNT).fetch_one(pool).await.unwrap(),
    }
}

storage_tests! {
    async fn concurrent_sign_ins_beyond_the_hashing_queue_are_busy_and_leave_no_trace(t: &TestDb) {
        let f = Fixture::new(t).await;
        // Two hashes at once (2 MiB of budget at 1 MiB each) and five waiting.
        let mut settings = common::settings();
        settings.hashing_limits.memory_budget_mib = 2;
        settings.hashing_limits.max_waiting = 5;
        let engine = Engine::new(f.engine.db.clone(), f.engine.ports.clone(), settings);
        engine.prepare_decoy().await.expect("decoy hash");

        // The held threads take two sign-ins and the queue five; nothing finishes until
        // the hold ends, so which sign-ins are refused does not depend on timing.
        let hold = engine.hold_hashing().await;
        let mut sign_ins = tokio::task::JoinSet::new();
        for n in 0..50 {
            let engine = engine.clone();
            sign_ins.spawn(async move {
                let email = format!("nobody{n}@acme.example");
                let ip = format!("10.0.9.{n}");
                engine.login("acme", &email, "Wrong-Password-99", &ip).await
            });
        }
        let mut busy = 0;
        while busy < 43 {
            match sign_ins.join_next().await.expect("a sign-in").unwrap() {
                Err(Error::Busy { retry_after_secs }) => {
                    assert!(retry_after_secs >= 1);
                    busy += 1;
                }
                other => panic!("only busy answers can come while hashing is held: {other:?}"),
            }
        }
        assert_eq!(throttle_counters(&engine.db).await, 0, "busy sign-ins count as no attempt");
        assert!(f.logged("login.failed").await.is_empty(), "and are not logged as failed");
        drop(hold);

        let mut wrong = 0;
        while let Some(answer) = sign_ins.join_next().await {
            match answer.unwrap() {
                Err(Error::BadCredentials) => wrong += 1,
                other => panic!("a queued sign-in is checked: {other:?}"),
            }
        }
        assert_eq!((busy, wrong), (43, 7), "two running and five waiting were checked");
        assert!(
            engine.most_hashes_in_flight() <= 2,
            "at most two hashes ran at once, saw {}",
            engine.most_hashes_in_flight()
        );
        assert_eq!(f.logged("login.failed").await.len(), 7, "only checked sign-ins are logged");
        assert_eq!(
            throttle_counters(&engine.db).await,
            14,
            "only checked sign-ins count, per account and per address"
        );
    }
}
