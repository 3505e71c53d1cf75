//! Pages in a real browser (see `support::browser`): what a person sees on the home page and
//! while resetting a password or accepting an invitation, in Japanese and English, with a screenshot of each page under
//! `target/screenshots/`.

// The single sign-on tests' identity provider, shared rather than copied.
#[allow(dead_code)]
#[path = "../webhooks/tests/fake_idp/mod.rs"]
mod fake_idp;
mod support;

use std::sync::Arc;

use fake_idp::{CLIENT_ID, CLIENT_SECRET, FakeIdp, Person};
use frontdesk_connectors::openid::OidcHttpClient;
use frontdesk_core::domain::people::Role;
use frontdesk_core::engine::Actor;
use frontdesk_core::engine::auth::NewAdmin;
use frontdesk_core::engine::invitation::NewInvitation;
use frontdesk_core::engine::sso::SsoChange;
use frontdesk_core::i18n::Lang;
use frontdesk_core::testing::test_start;
use support::browser::{Browser, Site};

/// Creates an account on `site` and returns the link of its reset mail.
async fn reset_link(site: &Site, email: &str, language: Lang) -> String {
    let tenant = site.engine.ensure_tenant("acme", "Acme").await.unwrap();
    let new = NewAdmin {
        email: email.into(),
        password: "Old#Pass42x".into(),
        role: Role::Admin,
        can_export: false,
        language,
    };
    site.engine
        .create_account(tenant.id, None, &new)
        .await
        .unwrap();
    site.engine
        .request_password_reset("acme", email, "127.0.0.1")
        .await
        .unwrap();
    site.engine.dispatch_due().await.unwrap();
    let mails = site.mailer.sent();
    let body = &mails.last().expect("a reset mail").body;
    let start = body
        .find(&site.base)
        .expect("the mail links to this server");
    body[start..].split_whitespace().next().unwrap().to_owned()
}

/// Has the owner of `acme` on `site` invite `email`; returns the link of the invitation mail.
async fn invitation_link(site: &Site, email: &str, language: Lang) -> String {
    let tenant = site.engine.ensure_tenant("acme", "Acme").await.unwrap();
    let new = NewAdmin {
        email: "owner@acme.example".into(),
        password: "Keep#Pass42x".into(),
        role: Role::Owner,
        can_export: true,
        language: Lang::En,
    };
    let owner = Actor {
        account: site
            .engine
            .create_account(tenant.id, None, &new)
            .await
            .unwrap(),
        ip: "127.0.0.1".into(),
    };
    let invitation = NewInvitation {
        email: email.into(),
        role: Role::Receptionist,
        can_export: false,
        language,
    };
    site.engine.invite(&owner, &invitation).await.unwrap();
    site.engine.dispatch_due().await.unwrap();
    let mails = site.mailer.sent();
    let mail = mails.last().expect("an invitation mail");
    assert_eq!(mail.to, email);
    let start = mail
        .body
        .find(&site.base)
        .expect("the mail links to this server");
    mail.body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_receptionist_chooses_a_password_from_the_mail_in_japanese_and_signs_in() {
    let Some(browser) = Browser::start("ja").await else {
        return;
    };
    let site = Site::start().await;
    let link = invitation_link(&site, "yuki@acme.example", Lang::Ja).await;
    assert!(link.contains("/invitation?token="), "{link}");

    browser.open(&link).await;
    assert_eq!(browser.text_of("h1").await, "招待を受ける");
    browser.screenshot("invitation-form-ja").await;

    browser.type_into("#password", "Password1!").await;
    browser.click("button[type=submit]").await;
    let refused = browser.text_of("[role=alert]").await;
    assert!(refused.contains("よく使われているパスワード"), "{refused}");
    browser.screenshot("invitation-error-ja").await;

    browser.type_into("#password", "Tsubaki#2026x").await;
    browser.click("button[type=submit]").await;
    assert!(
        browser
            .text_of("[role=status]")
            .await
            .contains("アカウントを作成しました")
    );
    browser.screenshot("invitation-done-ja").await;

    let signed_in = site
        .engine
        .login("acme", "yuki@acme.example", "Tsubaki#2026x", "127.0.0.1")
        .await
        .expect("the new account signs in");
    assert_eq!(signed_in.account.role, Role::Receptionist);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invitation_page_speaks_english_and_refuses_a_used_link() {
    let Some(browser) = Browser::start("en-US,en").await else {
        return;
    };
    let site = Site::start().await;
    let link = invitation_link(&site, "sam@acme.example", Lang::En).await;

    browser.open(&link).await;
    assert_eq!(browser.text_of("h1").await, "Accept your invitation");
    browser.screenshot("invitation-form-en").await;
    browser.type_into("#password", "sam@acme.example-1X").await;
    browser.click("button[type=submit]").await;
    let refused = browser.text_of("[role=alert]").await;
    assert!(refused.contains("The account was not created"), "{refused}");
    browser.screenshot("invitation-error-en").await;

    browser.type_into("#password", "Birch#2026x").await;
    browser.click("button[type=submit]").await;
    assert!(
        browser
            .text_of("[role=status]")
            .await
            .contains("Your account has been created")
    );
    browser.screenshot("invitation-done-en").await;

    browser.open(&link).await;
    browser.type_into("#password", "Other#2026y").await;
    browser.click("button[type=submit]").await;
    assert!(
        browser
            .text_of("[role=alert]")
            .await
            .contains("already used or has expired")
    );
    browser.screenshot("invitation-used-link-en").await;
    assert!(
        site.engine
            .login("acme", "sam@acme.example", "Birch#2026x", "127.0.0.1")
            .await
            .is_ok()
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sets_a_new_password_from_the_reset_mail_in_japanese() {
    let Some(browser) = Browser::start("ja").await else {
        return;
    };
    let site = Site::start().await;
    let link = reset_link(&site, "hanako@acme.example", Lang::Ja).await;

    browser.open(&link).await;
    assert_eq!(browser.text_of("h1").await, "新しいパスワードの設定");
    browser.screenshot("reset-form-ja").await;

    browser.type_into("#new_password", "Password1!").await;
    browser.click("button[type=submit]").await;
    let refused = browser.text_of("[role=alert]").await;
    assert!(refused.contains("よく使われているパスワード"), "{refused}");
    browser.screenshot("reset-error-ja").await;

    browser.type_into("#new_password", "Sakura#2026x").await;
    browser.click("button[type=submit]").await;
    assert!(
        browser
            .text_of("[role=status]")
            .await
            .contains("パスワードを変更しました")
    );
    browser.screenshot("reset-done-ja").await;

    assert!(
        site.engine
            .login("acme", "hanako@acme.example", "Sakura#2026x", "127.0.0.1")
            .await
            .is_ok()
    );
    assert!(
        site.engine
            .login("acme", "hanako@acme.example", "Old#Pass42x", "127.0.0.1")
            .await
            .is_err()
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reset_page_speaks_english_and_refuses_a_used_link() {
    let Some(browser) = Browser::start("en-US,en").await else {
        return;
    };
    let site = Site::start().await;
    let link = reset_link(&site, "bob@acme.example", Lang::En).await;

    browser.open(&link).await;
    assert_eq!(browser.text_of("h1").await, "Choose a new password");
    browser.screenshot("reset-form-en").await;
    browser.type_into("#new_password", "zqxvlpwk1").await;
    browser.click("button[type=submit]").await;
    let refused = browser.text_of("[role=alert]").await;
    assert!(refused.contains("at least three of"), "{refused}");
    browser.screenshot("reset-error-en").await;

    browser.type_into("#new_password", "Maple#2026x").await;
    browser.click("button[type=submit]").await;
    assert!(
        browser
            .text_of("[role=status]")
            .await
            .contains("Your password has been changed")
    );
    browser.screenshot("reset-done-en").await;

    browser.open(&link).await;
    browser.type_into("#new_password", "Other#2026y").await;
    browser.click("button[type=submit]").await;
    assert!(
        browser
            .text_of("[role=alert]")
            .await
            .contains("invalid or has expired")
    );
    browser.screenshot("reset-used-link-en").await;
    assert!(
        site.engine
            .login("acme", "bob@acme.example", "Maple#2026x", "127.0.0.1")
            .await
            .is_ok()
    );
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_page_says_what_frontdesk_is_in_the_browsers_language() {
    let site = Site::start().await;
    for (language, name, intro) in [
        ("ja", "home-ja", "受付・日程調整・会議室管理"),
        (
            "en-US,en",
            "home-en",
            "Reception, scheduling and meeting rooms",
        ),
    ] {
        let Some(browser) = Browser::start(language).await else {
            return;
        };
        browser.open(&site.url("/")).await;
        assert_eq!(browser.text_of("h1").await, "Frontdesk");
        let text = browser.text_of("body").await;
        assert!(text.contains(intro), "{language}: {text}");
        browser.screenshot(name).await;
        browser.click("a[href='/healthz']").await;
        assert!(browser.text_of("body").await.contains("\"status\":\"ok\""));
        browser.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_signs_in_through_the_identity_provider_on_another_site_and_a_refusal_says_why() {
    let Some(browser) = Browser::start("ja").await else {
        return;
    };
    // The identity provider on `localhost`, the app on 127.0.0.1: two sites, so the
    // cookies cross a real cross-site redirect as they do in production.
    let idp = FakeIdp::start_named(test_start(), "hanako@acme.example", "localhost").await;
    let site = Site::start_with_openid(Some(Arc::new(OidcHttpClient::new().unwrap()))).await;
    let tenant = site.engine.ensure_tenant("acme", "Acme").await.unwrap();
    let mut owner = None;
    for (email, role) in [
        ("owner@acme.example", Role::Owner),
        ("hanako@acme.example", Role::Admin),
    ] {
        let new = NewAdmin {
            email: email.into(),
            password: "Keep#Pass42x".into(),
            role,
            can_export: false,
            language: Lang::Ja,
        };
        let account = site
            .engine
            .create_account(tenant.id, None, &new)
            .await
            .unwrap();
        owner.get_or_insert(Actor {
            account,
            ip: "127.0.0.1".into(),
        });
    }
    let change = SsoChange {
        issuer: idp.issuer.clone(),
        client_id: CLIENT_ID.into(),
        client_secret: Some(CLIENT_SECRET.into()),
        require_sso: true,
    };
    site.engine
        .set_sso_settings(&owner.unwrap(), change)
        .await
        .unwrap();

    idp.ask_before_redirecting();
    browser.open(&site.url("/sso/acme/start")).await;
    browser.click("#continue").await;
    assert_eq!(browser.text_of("h1").await, "Frontdesk");
    browser.open(&site.url("/api/v1/auth/me")).await;
    let me = browser.text_of("body").await;
    assert!(me.contains("hanako@acme.example"), "signed in: {me}");

    idp.sign_in_as(Person {
        email: "nobody@acme.example".into(),
        email_verified: true,
    });
    browser.open(&site.url("/sso/acme/start")).await;
    browser.click("#continue").await;
    assert_eq!(browser.text_of("h1").await, "シングルサインオン");
    let refused = browser.text_of("[role=alert]").await;
    assert!(refused.contains("アカウントがありません"), "{refused}");
    browser.screenshot("sso-no-account-ja").await;
    browser.close().await;
}
