//! Pages in a real browser (see `support::browser`): what a person sees on the home page,
//! while resetting a password or accepting an invitation, and in the web chat, in Japanese and English, with a screenshot of each page under
//! `target/screenshots/`.

// The single sign-on tests' identity provider, shared rather than copied.
#[allow(dead_code)]
#[path = "../webhooks/tests/fake_idp/mod.rs"]
mod fake_idp;
mod support;

use std::sync::Arc;

use fake_idp::{CLIENT_ID, CLIENT_SECRET, FakeIdp, Person};
use frontdesk_connectors::openid::OidcHttpClient;
use frontdesk_core::domain::chat::Message;
use frontdesk_core::domain::people::{NotificationPreference, Role};
use frontdesk_core::engine::Actor;
use frontdesk_core::engine::auth::NewAdmin;
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::invitation::NewInvitation;
use frontdesk_core::engine::sso::SsoChange;
use frontdesk_core::i18n::{self, Lang};
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

/// An employee of `acme` on `site` (created by its owner), in `language`.
async fn chat_employee(site: &Site, email: &str, name: &str, language: Lang) {
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
    let input = EmployeeInput {
        email: email.into(),
        name: name.into(),
        name_kana: String::new(),
        department: String::new(),
        time_zone: "Asia/Tokyo".into(),
        language,
        notification: NotificationPreference::Chat,
        chat_identities: Default::default(),
    };
    site.engine.create_employee(&owner, input).await.unwrap();
}

/// Signs `email` in to the web chat through the pages: the form, the mailed link, its button
/// (screenshots of each page named `web-chat-*-<lang>`).
async fn sign_in_to_chat(browser: &Browser, site: &Site, email: &str, sent: &str, lang: &str) {
    browser.open(&site.url("/chat")).await;
    browser.type_into("#tenant", "acme").await;
    browser.type_into("#email", email).await;
    browser.click("button[type=submit]").await;
    assert!(browser.text_of("[role=status]").await.contains(sent));
    browser
        .screenshot(&format!("web-chat-link-sent-{lang}"))
        .await;
    site.engine.dispatch_due().await.unwrap();
    let mails = site.mailer.sent();
    let mail = mails.last().expect("a sign-in mail");
    assert_eq!(mail.to, email);
    let start = mail.body.find(&site.base).expect("the mail links here");
    let link = mail.body[start..].split_whitespace().next().unwrap();
    assert!(link.contains("/chat/sign-in?token="), "{link}");
    browser.open(link).await;
    browser
        .screenshot(&format!("web-chat-sign-in-{lang}"))
        .await;
    browser.click("button[type=submit]").await;
    browser.text_of("#chat-history").await;
}

/// Writes a notice to every employee of `acme` signed in to the web chat, as a check-in would.
async fn notice_to(site: &Site, email: &str, text: &str) {
    let tenant = site.engine.ensure_tenant("acme", "Acme").await.unwrap();
    let mut tx = site.engine.db.read().await.unwrap();
    let employee = frontdesk_core::store::employee::find_by_email(&mut tx, tenant.id, email)
        .await
        .unwrap()
        .unwrap();
    drop(tx);
    let mut tx = site.engine.db.write().await.unwrap();
    site.engine
        .notify_employee(
            &mut tx,
            tenant.id,
            &employee,
            "visit:1",
            &Message::text(text),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // What the outbox dispatcher does when the caller wakes it after the commit.
    site.engine.wake_web_chat();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_employee_signs_in_to_the_web_chat_by_mail_asks_for_help_and_presses_its_button() {
    let Some(browser) = Browser::start("en-US,en").await else {
        return;
    };
    let site = Site::start().await;
    chat_employee(&site, "alice@acme.example", "Alice Sato", Lang::En).await;
    sign_in_to_chat(
        &browser,
        &site,
        "alice@acme.example",
        "a sign-in link is on its way",
        "en",
    )
    .await;
    assert_eq!(browser.text_of("h1").await, "Frontdesk chat");

    let help_title = i18n::text(Lang::En, "conversation.help.title");
    browser.type_into("#chat-text", "help").await;
    browser.click("#chat-composer button").await;
    browser
        .wait_for_text(".chat-message.from-frontdesk", &help_title)
        .await;
    browser
        .wait_for_text(".chat-message.from-employee", "help")
        .await;

    browser.type_into("#chat-text", "hello").await;
    browser.click("#chat-composer button").await;
    let not_understood = i18n::format(
        Lang::En,
        "conversation.not_understood",
        &[("word", "hello")],
    );
    browser
        .wait_for_text(".chat-message.from-frontdesk", &not_understood)
        .await;
    let button = i18n::text(Lang::En, "conversation.help.button");
    browser
        .click(".chat-message.from-frontdesk .chat-buttons button")
        .await;
    // The press shows as the button's label, and the help comes again.
    browser
        .wait_for_text(".chat-message.from-employee", &button)
        .await;
    let answers = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(50));
        loop {
            tick.tick().await;
            if browser.count(".chat-message.from-frontdesk").await == 3 {
                return;
            }
        }
    })
    .await;
    assert!(answers.is_ok(), "the button's answer arrived");
    let last = browser
        .text_of(".chat-message.from-frontdesk:last-child")
        .await;
    assert!(last.contains(&help_title), "{last}");

    // A notice arrives live, without reloading.
    notice_to(
        &site,
        "alice@acme.example",
        "Kenji Mori (Globex) is at the front desk",
    )
    .await;
    browser
        .wait_for_text(".chat-message.from-frontdesk", "Kenji Mori (Globex)")
        .await;
    browser.screenshot("web-chat-en").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_chat_speaks_the_employees_japanese() {
    let Some(browser) = Browser::start("ja").await else {
        return;
    };
    let site = Site::start().await;
    chat_employee(&site, "hana@acme.example", "佐藤 花", Lang::Ja).await;
    sign_in_to_chat(
        &browser,
        &site,
        "hana@acme.example",
        "サインインリンクをお送りしました",
        "ja",
    )
    .await;
    assert_eq!(browser.text_of("h1").await, "Frontdesk チャット");
    browser.type_into("#chat-text", "ヘルプ").await;
    browser.click("#chat-composer button").await;
    let help_title = i18n::text(Lang::Ja, "conversation.help.title");
    browser
        .wait_for_text(".chat-message.from-frontdesk", &help_title)
        .await;
    notice_to(
        &site,
        "hana@acme.example",
        "森 健二 様（Globex）が受付にお越しです",
    )
    .await;
    browser
        .wait_for_text(".chat-message.from-frontdesk", "森 健二 様")
        .await;
    browser.screenshot("web-chat-ja").await;
    browser.close().await;
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
