//! The visitor kiosk in a real browser (see `support::browser`): a tablet paired by the
//! admin's QR link, visitors checking in by reception code, by finding their host in kana or
//! romaji, or by a category, the entrance terms, the host's answer arriving live, check-out
//! by badge, and check-ins taken while the server is down that are recorded once when it is
//! back. A screenshot of each screen is saved under `target/screenshots/kiosk-*.png`.

mod support;

use std::time::Duration;

use fantoccini::key::Key;
use frontdesk_core::domain::people::{NotificationPreference, Platform};
use frontdesk_core::domain::visit::{
    Bilingual, Category, Contact, ExtraField, HostAnswer, ReceptionSettings, Terms,
};
use frontdesk_core::engine::Actor;
use frontdesk_core::engine::conversation::ChatUser;
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::expected_visit::ExpectedVisitInput;
use frontdesk_core::engine::reception::VisitView;
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::i18n::Lang;
use frontdesk_core::store::employee::Employee;
use frontdesk_core::testing::acme_owner;
use serde_json::Value;
use support::browser::{Browser, Site};

/// How long the server may take to record what the page sends on its own (kept check-ins
/// are sent again every 5 seconds).
const RECORDED: Duration = Duration::from_secs(30);

/// Acme's reception at `hq` (Tokyo) on a site: Alice Sato (佐藤 ありす) and Bob Tanaka,
/// the kiosk added by the owner (its pairing code not used yet), and `settings`.
struct Reception {
    site: Site,
    owner: Actor,
    tenant_id: i64,
    alice: Employee,
    /// The pairing code the admin's QR link carries.
    pairing_code: String,
}

impl Reception {
    async fn open(settings: ReceptionSettings) -> Reception {
        let site = Site::start().await;
        let engine = &site.engine;
        let (tenant, owner) = acme_owner(engine).await;
        engine
            .create_location(
                &owner,
                LocationInput {
                    slug: "hq".into(),
                    name: "本社 (Head office)".into(),
                    time_zone: "Asia/Tokyo".into(),
                },
            )
            .await
            .unwrap();
        let mut employees = Vec::new();
        for (email, name, kana, department) in [
            (
                "alice@acme.example",
                "佐藤 ありす",
                "さとう ありす",
                "営業部",
            ),
            ("bob@acme.example", "田中 ぼぶ", "たなか ぼぶ", "総務部"),
        ] {
            let input = EmployeeInput {
                email: email.into(),
                name: name.into(),
                name_kana: kana.into(),
                department: department.into(),
                time_zone: "Asia/Tokyo".into(),
                language: Lang::Ja,
                notification: NotificationPreference::Chat,
                chat_identities: Default::default(),
            };
            employees.push(engine.create_employee(&owner, input).await.unwrap());
        }
        engine
            .set_reception_settings(&owner, "hq", settings)
            .await
            .unwrap();
        let (_, pairing_code) = engine.add_kiosk(&owner, "hq", "Lobby").await.unwrap();
        Reception {
            owner,
            tenant_id: tenant.id,
            alice: employees.swap_remove(0),
            pairing_code,
            site,
        }
    }

    /// The kiosk page's address (what the pairing QR code links to, without its fragment).
    fn kiosk_url(&self) -> String {
        self.site.url("/kiosk/hq")
    }

    /// Expects `name` of `company` for Alice today; the reception code of the invitation.
    async fn expect(&self, name: &str, company: &str) -> String {
        let input = ExpectedVisitInput {
            location: "hq".into(),
            host: "alice@acme.example".into(),
            visitor_name: name.into(),
            visitor_company: company.into(),
            visitor_email: None,
            // The test clock's day in Tokyo.
            day: "2026-11-25".into(),
            time: Some("14:00".into()),
            purpose: Some("打ち合わせ".into()),
        };
        self.site
            .engine
            .add_expected_visit(&self.owner, &input)
            .await
            .unwrap()
            .code
    }

    /// The visitors on site at `hq`, as reception's list shows them.
    async fn on_site(&self) -> Vec<VisitView> {
        self.site
            .engine
            .on_site(&self.owner, Some("hq"))
            .await
            .unwrap()
    }

    /// Waits (bounded) until `name` is on site, and returns the visit.
    async fn visit_of(&self, name: &str) -> VisitView {
        let found = tokio::time::timeout(RECORDED, async {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            loop {
                tick.tick().await;
                if let Some(visit) = self
                    .on_site()
                    .await
                    .into_iter()
                    .find(|v| v.visitor_name == name)
                {
                    return visit;
                }
            }
        })
        .await;
        found.unwrap_or_else(|_| panic!("{name} was not checked in"))
    }

    /// Alice answers `visit` with a button in chat.
    async fn alice_answers(&self, visit: &VisitView, answer: HostAnswer) {
        let alice = ChatUser {
            tenant_id: self.tenant_id,
            platform: Platform::Web,
            user_id: "alice".into(),
            locale: None,
        };
        self.site
            .engine
            .answer_visit(&alice, &self.alice, visit.id, answer)
            .await
            .unwrap();
    }
}

/// What every test's location has: categories and the offline message; `badge_printing`.
fn settings() -> ReceptionSettings {
    let alice = || Contact::Employee("alice@acme.example".into());
    ReceptionSettings {
        categories: [
            (
                Category::Delivery,
                Contact::Employee("bob@acme.example".into()),
            ),
            (Category::Interview, alice()),
            (Category::Other, alice()),
        ]
        .into(),
        offline_message: Bilingual {
            ja: "お手数ですが、内線 1234（総務部）までお電話ください。".into(),
            en: "Please call extension 1234 (General Affairs).".into(),
        },
        ..ReceptionSettings::default()
    }
}

fn terms(version: i64) -> Terms {
    Terms {
        version,
        text_ja: format!(
            "入館規約（第{version}版）\n1. 館内では入館証を見える位置に着用してください。\n2. 撮影・録音はご遠慮ください。\n3. 知り得た情報は第三者に開示しないでください。"
        ),
        text_en: format!(
            "Entrance terms (version {version})\n1. Wear your visitor badge where it can be seen.\n2. No photos or recordings.\n3. Keep what you learn here confidential."
        ),
        validity_days: 365,
    }
}

fn enter() -> String {
    char::from(Key::Enter).to_string()
}

/// Waits until the kiosk shows `screen`.
async fn on_screen(browser: &Browser, screen: &str) {
    browser
        .wait_for(&format!("#kiosk[data-screen='{screen}']"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_checks_in_with_the_code_from_the_invitation_and_sees_the_host_coming() {
    let Some(browser) = Browser::start("ja").await else {
        return;
    };
    let reception = Reception::open(settings()).await;
    let code = reception.expect("森 健二", "Globex").await;

    // A mistyped pairing code from the QR link: the pairing screen says so, and the right
    // code typed on it pairs the tablet.
    browser
        .open(&format!("{}#pair=WRONGCODE2", reception.kiosk_url()))
        .await;
    on_screen(&browser, "pairing").await;
    let refused = browser.text_of("#pairing-error").await;
    assert!(refused.contains("ペアリングコード"), "{refused}");
    assert!(
        !browser.current_url().await.contains('#'),
        "the code left the address"
    );
    browser.screenshot("kiosk-pairing-ja").await;
    browser
        .type_into("#pairing-code", &reception.pairing_code)
        .await;
    browser.send_keys("#pairing-code", &enter()).await;
    on_screen(&browser, "welcome").await;
    assert_eq!(browser.text_of("#welcome-title").await, "いらっしゃいませ");
    assert!(
        browser
            .text_of("#kiosk-location")
            .await
            .contains("本社 (Head office)")
    );
    browser.screenshot("kiosk-welcome-ja").await;

    // A code that is not today's is refused where it was typed, in the kiosk's language.
    browser.click("#choose-code").await;
    on_screen(&browser, "code").await;
    let wrong = if code == "135790" { "246802" } else { "135790" };
    browser
        .send_keys("#code-input", &format!("{wrong}{}", enter()))
        .await;
    browser
        .wait_for_text("#code-error", "この受付コードは本日有効ではありません")
        .await;
    browser.screenshot("kiosk-code-wrong-ja").await;

    // Half the code on the screen's keys, half typed; Enter checks in.
    for digit in code[..3].chars() {
        browser
            .click(&format!(".kiosk-keypad button[data-digit='{digit}']"))
            .await;
    }
    browser.send_keys("#code-input", &code[3..]).await;
    assert_eq!(
        browser.property("#code-input", "value").await.as_deref(),
        Some(code.as_str())
    );
    browser.screenshot("kiosk-code-ja").await;
    browser.send_keys("#code-input", &enter()).await;

    on_screen(&browser, "waiting").await;
    assert_eq!(
        browser.text_of("#waiting-title").await,
        "森 健二 様、ようこそ"
    );
    browser
        .wait_for_text("#waiting-status", "佐藤 ありすにご来訪をお知らせしました")
        .await;
    browser.screenshot("kiosk-waiting-ja").await;

    let visit = reception.visit_of("森 健二").await;
    assert_eq!(visit.host_name.as_deref(), Some("佐藤 ありす"));
    reception.alice_answers(&visit, HostAnswer::Coming).await;
    browser
        .wait_for_text("#waiting-status", "佐藤 ありすがただいま参ります。")
        .await;
    browser.screenshot("kiosk-host-coming-ja").await;

    // The next visitor starts from the welcome screen, with nothing of this one on it.
    browser.click("#screen-waiting .kiosk-done").await;
    on_screen(&browser, "welcome").await;
    assert_eq!(reception.on_site().await.len(), 1);
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_finds_the_host_by_kana_and_romaji_accepts_the_terms_and_is_asked_to_wait() {
    let Some(browser) = Browser::start("ja").await else {
        return;
    };
    let reception = Reception::open(ReceptionSettings {
        terms: Some(terms(1)),
        extra_fields: vec![ExtraField {
            key: "guests".into(),
            label_ja: "ご来訪の人数".into(),
            label_en: "Number of visitors".into(),
            required: true,
        }],
        ..settings()
    })
    .await;
    browser
        .open(&format!(
            "{}#pair={}",
            reception.kiosk_url(),
            reception.pairing_code
        ))
        .await;
    on_screen(&browser, "welcome").await;
    browser.click("#choose-host").await;
    on_screen(&browser, "host").await;

    // Kana finds 佐藤 as the visitor types; so do romaji and kanji.
    browser.send_keys("#host-query", "さとう").await;
    browser
        .wait_for_text(".kiosk-host .kiosk-host-name", "佐藤 ありす")
        .await;
    assert_eq!(browser.count(".kiosk-host").await, 1);
    browser
        .wait_for_text("#host-status", "1名が見つかりました")
        .await;
    browser.screenshot("kiosk-host-search-kana-ja").await;
    browser.type_into("#host-query", "sato").await;
    browser
        .wait_for_text(".kiosk-host .kiosk-host-detail", "さとう ありす · 営業部")
        .await;
    browser.screenshot("kiosk-host-search-romaji-ja").await;
    browser.type_into("#host-query", "佐藤").await;
    browser
        .wait_for_text(".kiosk-host .kiosk-host-name", "佐藤 ありす")
        .await;
    browser.type_into("#host-query", "やまもと").await;
    browser
        .wait_for_text("#host-status", "該当する担当者が見つかりません")
        .await;
    assert_eq!(browser.count(".kiosk-host").await, 0);
    browser.type_into("#host-query", "sato").await;
    browser.wait_for(".kiosk-host").await;
    browser.click(".kiosk-host").await;

    // Name, company and the location's own question; a required answer left out is named.
    on_screen(&browser, "visitor").await;
    assert!(
        browser
            .text_of("#visitor-about")
            .await
            .contains("佐藤 ありす")
    );
    browser.type_into("#visitor-name", "山田 太郎").await;
    browser
        .type_into("#visitor-company", "株式会社サンプル")
        .await;
    browser.send_keys("#visitor-company", &enter()).await;
    browser
        .wait_for_text("#extra-guests-error", "入力してください")
        .await;
    browser.type_into("#extra-guests", "2").await;
    browser.screenshot("kiosk-visitor-ja").await;
    browser.send_keys("#extra-guests", &enter()).await;

    on_screen(&browser, "terms").await;
    assert!(
        browser
            .text_of("#terms-text")
            .await
            .contains("撮影・録音はご遠慮ください")
    );
    browser.screenshot("kiosk-terms-ja").await;
    browser.click("#terms-accept").await;

    on_screen(&browser, "waiting").await;
    let visit = reception.visit_of("山田 太郎").await;
    assert_eq!(visit.visitor_company, "株式会社サンプル");
    assert_eq!(visit.host_name.as_deref(), Some("佐藤 ありす"));
    reception
        .alice_answers(&visit, HostAnswer::Delayed(5))
        .await;
    browser
        .wait_for_text("#waiting-status", "5分ほどお待ちください")
        .await;
    browser.screenshot("kiosk-host-delayed-ja").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_speaks_english_shows_terms_changed_meanwhile_and_checks_the_visitor_out_by_badge()
 {
    let Some(browser) = Browser::start("ja").await else {
        return;
    };
    let reception = Reception::open(ReceptionSettings {
        terms: Some(terms(1)),
        badge_printing: true,
        ..settings()
    })
    .await;
    browser
        .open(&format!(
            "{}#pair={}",
            reception.kiosk_url(),
            reception.pairing_code
        ))
        .await;
    on_screen(&browser, "welcome").await;
    browser.click(".kiosk-language[data-lang='en']").await;
    browser.wait_for_text("#welcome-title", "Welcome").await;
    assert_eq!(
        browser.attribute("html", "lang").await.as_deref(),
        Some("en")
    );
    assert_eq!(
        browser
            .attribute(".kiosk-language[data-lang='en']", "aria-pressed")
            .await
            .as_deref(),
        Some("true")
    );
    browser.screenshot("kiosk-welcome-en").await;

    // The terms change while the kiosk shows version 1: the server asks for the new ones,
    // and the kiosk shows them before checking in.
    reception
        .site
        .engine
        .set_reception_settings(
            &reception.owner,
            "hq",
            ReceptionSettings {
                terms: Some(terms(2)),
                badge_printing: true,
                ..settings()
            },
        )
        .await
        .unwrap();
    browser.click("#choose-category").await;
    on_screen(&browser, "category").await;
    browser.screenshot("kiosk-category-en").await;
    browser.click("#screen-category .kiosk-back").await;
    on_screen(&browser, "welcome").await;
    browser.click("#choose-host").await;
    browser.send_keys("#host-query", "sato").await;
    browser
        .wait_for_text(".kiosk-host .kiosk-host-detail", "営業部")
        .await;
    browser.send_keys("#host-query", &enter()).await;
    on_screen(&browser, "visitor").await;
    browser.type_into("#visitor-name", "Jane Doe").await;
    browser.type_into("#visitor-company", "Initech").await;
    browser.screenshot("kiosk-visitor-en").await;
    browser.send_keys("#visitor-company", &enter()).await;
    on_screen(&browser, "terms").await;
    let shown = browser.text_of("#terms-text").await;
    assert!(shown.contains("version 1"), "{shown}");
    browser.click("#terms-accept").await;
    browser
        .wait_for_text("#terms-changed", "The terms have just been updated")
        .await;
    assert!(browser.text_of("#terms-text").await.contains("version 2"));
    browser.screenshot("kiosk-terms-changed-en").await;
    assert!(reception.on_site().await.is_empty(), "not checked in yet");
    browser.click("#terms-accept").await;

    on_screen(&browser, "waiting").await;
    assert_eq!(browser.text_of("#waiting-title").await, "Welcome, Jane Doe");
    let visit = reception.visit_of("Jane Doe").await;
    reception
        .alice_answers(&visit, HostAnswer::Unavailable)
        .await;
    browser
        .wait_for_text(
            "#waiting-status",
            "佐藤 ありす is not available — someone else will come.",
        )
        .await;
    let badge = browser
        .attribute("#badge-print", "href")
        .await
        .expect("a badge to print");
    assert!(
        badge.contains(&format!("/kiosk/hq/badge/{}?t=", visit.public_id)),
        "{badge}"
    );
    browser.screenshot("kiosk-host-unavailable-en").await;

    // The badge to print: both languages, and the QR code to leave with.
    browser.open(&reception.site.url(&badge)).await;
    assert_eq!(browser.text_of(".badge-name").await, "Jane Doe");
    assert!(browser.text_of(".badge").await.contains("佐藤 ありす"));
    assert_eq!(browser.count(".badge-qr svg").await, 1);
    browser.screenshot("kiosk-badge").await;

    // Leaving: at the welcome screen, the scanner types the badge's QR (its URL) and Enter.
    browser.open(&reception.kiosk_url()).await;
    on_screen(&browser, "welcome").await;
    browser.click(".kiosk-language[data-lang='en']").await;
    browser.send_keys("#welcome-title", "x").await;
    assert_eq!(browser.count("#kiosk[data-screen='welcome']").await, 1);
    browser
        .send_keys("#welcome-title", &format!("{badge}{}", enter()))
        .await;
    on_screen(&browser, "checkout").await;
    browser
        .wait_for_text(
            "#checkout-done",
            "Thank you for visiting, Jane Doe. You have checked out.",
        )
        .await;
    browser.screenshot("kiosk-checked-out-en").await;
    assert!(reception.on_site().await.is_empty());
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_in_taken_while_the_server_is_down_is_recorded_once_when_it_is_back() {
    let Some(browser) = Browser::start("ja").await else {
        return;
    };
    let mut reception = Reception::open(settings()).await;
    browser
        .open(&format!(
            "{}#pair={}",
            reception.kiosk_url(),
            reception.pairing_code
        ))
        .await;
    on_screen(&browser, "welcome").await;
    // The service worker has kept the page and the kiosk's configuration.
    browser.wait_for("#kiosk[data-offline-ready='true']").await;

    reception.site.stop().await;
    // Even a restart of the tablet: the page and configuration come from the worker.
    browser.open(&reception.kiosk_url()).await;
    on_screen(&browser, "welcome").await;
    browser.wait_for_text("#kiosk-offline", "オフライン").await;
    browser.screenshot("kiosk-offline-welcome-ja").await;

    browser.click("#choose-category").await;
    browser.click("button[data-category='delivery']").await;
    on_screen(&browser, "visitor").await;
    browser.type_into("#visitor-name", "配達 一郎").await;
    browser.type_into("#visitor-company", "ヤマネコ運輸").await;
    browser.send_keys("#visitor-company", &enter()).await;
    on_screen(&browser, "offline").await;
    browser
        .wait_for_text("#offline-message", "内線 1234（総務部）")
        .await;
    browser.wait_for("#kiosk[data-pending='1']").await;
    browser.screenshot("kiosk-offline-saved-ja").await;
    let kept = browser
        .run(
            "return localStorage.getItem('frontdesk.kiosk.queue.hq');",
            vec![],
        )
        .await;

    // Back on the same address and database: the kept check-in is sent, once.
    reception.site.start_again().await;
    let visit = reception.visit_of("配達 一郎").await;
    assert_eq!(visit.visitor_company, "ヤマネコ運輸");
    browser.wait_for("#kiosk[data-pending='0']").await;

    // Sent again with its key (as when an answer was lost on the way): still one visit.
    browser
        .run(
            "localStorage.setItem('frontdesk.kiosk.queue.hq', arguments[0]); \
             window.dispatchEvent(new Event('online'));",
            vec![kept],
        )
        .await;
    browser.wait_for("#kiosk[data-pending='0']").await;
    let on_site = reception.on_site().await;
    assert_eq!(on_site.len(), 1, "{on_site:?}");
    assert_eq!(on_site[0].public_id, visit.public_id);
    browser.close().await;
}

/// A page must not load anything from elsewhere: the kiosk's answers carry the CSP, and its
/// manifest and worker are served from this server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kiosk_is_an_installable_app_served_only_from_this_server() {
    let site = Site::start().await;
    let http = reqwest::Client::new();
    let page = http.get(site.url("/kiosk/hq")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(html.contains("/kiosk/hq/manifest.webmanifest"), "{html}");
    assert!(!html.contains("http://") && !html.contains("https://"));

    let manifest: Value = http
        .get(site.url("/kiosk/hq/manifest.webmanifest"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(manifest["start_url"], "/kiosk/hq");
    assert_eq!(manifest["scope"], "/kiosk/");
    assert_eq!(manifest["icons"][0]["src"], "/assets/kiosk-icon.svg");

    let worker = http
        .get(site.url("/kiosk/service-worker.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(worker.status(), 200);
    assert!(
        worker.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(
        http.get(site.url("/kiosk/Not_A_Slug"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

/// `frontdesk serve --demo`: the kiosk of `hq` needs no pairing, and the demo visitor's
/// code, scanned from the invitation's QR code, checks them in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_kiosk_needs_no_pairing_and_takes_the_demo_visitors_scanned_code() {
    let Some(browser) = Browser::start("ja").await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let server = support::Server::start_demo(data.path(), &[]).await;
    assert!(
        server.stdout().contains("/kiosk/hq"),
        "the demo prints the kiosk's address: {}",
        server.stdout()
    );
    browser.open(&server.url("/kiosk/hq")).await;
    on_screen(&browser, "welcome").await;
    // The invitation mail's QR code held to the kiosk's scanner, which types it: straight
    // from the welcome screen.
    browser
        .send_keys("#welcome-title", &format!("246810{}", enter()))
        .await;
    on_screen(&browser, "waiting").await;
    browser
        .wait_for_text("#waiting-title", "様、ようこそ")
        .await;
    browser
        .wait_for_text("#waiting-status", "お知らせしました")
        .await;
    browser.screenshot("kiosk-demo-waiting-ja").await;

    // A kiosk address with a location that is not there says so.
    browser.open(&server.url("/kiosk/annex")).await;
    browser
        .wait_for_text("#loading-problem", "受付端末ではありません")
        .await;
    browser.close().await;
}
