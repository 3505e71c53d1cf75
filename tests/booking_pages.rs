//! The booking page and the guest's manage page in a real browser (see `support::browser`):
//! a guest books a slot in their time zone and gets the reception code the database holds,
//! a slot taken meanwhile is refused kindly with fresh times offered, the guest moves and
//! cancels from the manage link, the page speaks Japanese, and a guest books with the
//! keyboard alone. A screenshot of each page state is saved under
//! `target/screenshots/booking-*.png`.
//!
//! The server's clock starts on Wednesday 2026-11-25 at 09:00 in Tokyo (00:00 UTC); Alice's
//! link `alice` offers 30 or 60 minutes on weekdays 09:00–18:00 in Tokyo, in person at `hq`.

mod support;

use chrono::NaiveDate;
use fantoccini::key::Key;
use frontdesk_core::engine::Actor;
use frontdesk_core::engine::booking::{HostInput, LinkInput};
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::i18n::Lang;
use frontdesk_core::testing::acme_owner;
use serde_json::{Value, json};
use support::browser::{Browser, Site};

/// Thursday 2026-11-26 10:00 in Tokyo.
const THURSDAY_TEN: &str = "2026-11-26T01:00:00Z";

/// Acme on a site: location `hq` (Head office), Alice Sato, and her link `alice`.
struct Scheduling {
    site: Site,
    owner: Actor,
}

impl Scheduling {
    async fn open() -> Scheduling {
        let site = Site::start().await;
        let engine = &site.engine;
        let (_, owner) = acme_owner(engine).await;
        let location = LocationInput {
            slug: "hq".into(),
            name: "Head office".into(),
            time_zone: "Asia/Tokyo".into(),
        };
        engine.create_location(&owner, location).await.unwrap();
        let alice = EmployeeInput {
            email: "alice@acme.example".into(),
            name: "Alice Sato".into(),
            name_kana: "さとう ありす".into(),
            department: String::new(),
            time_zone: "Asia/Tokyo".into(),
            language: Lang::En,
            notification: frontdesk_core::domain::people::NotificationPreference::Email,
            chat_identities: Default::default(),
        };
        engine.create_employee(&owner, alice).await.unwrap();
        let weekday = json!([["09:00", "18:00"]]);
        let rules = json!({
            "time_zone": "Asia/Tokyo",
            "durations_minutes": [30, 60],
            "weekly": {"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday},
            "questions": [{"key": "topic", "label_ja": "ご用件", "label_en": "Topic", "required": true}],
            "place": {"kind": "in_person", "location": "hq"}
        });
        for (slug, single_use) in [("alice", false), ("alice-once", true)] {
            let link = LinkInput {
                slug: slug.into(),
                title: "Product demo".into(),
                kind: "one_on_one".into(),
                hosts: vec![HostInput {
                    email: "alice@acme.example".into(),
                    weight: 1,
                }],
                owner: Some("alice@acme.example".into()),
                rules: serde_json::from_value(rules.clone()).unwrap(),
                single_use,
                active: true,
            };
            engine.create_booking_link(&owner, link).await.unwrap();
        }
        // A link with no hours at all that books five days ahead at most.
        let closed = LinkInput {
            slug: "alice-closed".into(),
            title: "Office hours".into(),
            kind: "one_on_one".into(),
            hosts: vec![],
            owner: Some("alice@acme.example".into()),
            rules: serde_json::from_value(json!({
                "time_zone": "Asia/Tokyo", "durations_minutes": [30], "weekly": {},
                "window_days": 5, "place": {"kind": "phone"}
            }))
            .unwrap(),
            single_use: false,
            active: true,
        };
        engine.create_booking_link(&owner, closed).await.unwrap();
        Scheduling { site, owner }
    }

    /// Books `start` through the API as `name` (another guest, another browser).
    async fn book_through_the_api(&self, link: &str, start: &str, name: &str) -> (u16, Value) {
        let reply = reqwest::Client::new()
            .post(
                self.site
                    .url(&format!("/api/v1/public/links/{link}/bookings")),
            )
            .header("idempotency-key", format!("api-{name}"))
            .json(&json!({
                "start": start,
                "name": name,
                "email": "someone@globex.example",
                "tz": "Europe/Berlin",
                "answers": {"topic": "Pricing"}
            }))
            .send()
            .await
            .unwrap();
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap())
    }

    /// The reception code the database holds for `visitor`'s meeting on `day`.
    async fn code_of(&self, visitor: &str, day: &str) -> String {
        let day: NaiveDate = day.parse().unwrap();
        let visits = self
            .site
            .engine
            .expected_visits(&self.owner, day, day)
            .await
            .unwrap();
        visits
            .into_iter()
            .find(|v| v.visitor_name == visitor && v.status != "withdrawn")
            .unwrap_or_else(|| panic!("no expected visit of {visitor} on {day}"))
            .code
    }

    async fn bookings(&self) -> i64 {
        self.site
            .db()
            .count("SELECT COUNT(*) FROM bookings WHERE status = 'confirmed'")
            .await
    }

    /// Stops the server (the browser is closed by each test).
    async fn close(mut self) {
        self.site.stop().await;
    }
}

/// Shows times in Tokyo: the zone picked in the page's select.
async fn in_tokyo(browser: &Browser) {
    browser.click("#zone option[value='Asia/Tokyo']").await;
    browser
        .wait_until("return document.getElementById('zone').value === 'Asia/Tokyo';")
        .await;
}

/// Waits until the calendar has loaded its month and marked the free days.
async fn calendar_loaded(browser: &Browser) {
    browser
        .wait_until(
            "return document.querySelector('.calendar-grid').getAttribute('aria-busy') === 'false' \
             && document.querySelectorAll('.calendar-day.free').length > 0;",
        )
        .await;
}

async fn on_step(browser: &Browser, step: &str) {
    browser
        .wait_for(&format!("#booking[data-step='{step}']"))
        .await;
}

/// Picks `day` (YYYY-MM-DD) and then the slot starting at `start` (UTC, as the API says).
async fn pick(browser: &Browser, day: &str, start: &str) {
    calendar_loaded(browser).await;
    browser
        .click(&format!("button.calendar-day[data-day='{day}']"))
        .await;
    browser
        .click(&format!("button.slot[data-start='{start}']"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_books_a_slot_in_their_zone_and_gets_the_reception_code_the_database_holds() {
    let Some(browser) = Browser::start("en").await else {
        return;
    };
    let scheduling = Scheduling::open().await;
    let page = scheduling.site.url("/b/alice");
    browser.open(&page).await;
    calendar_loaded(&browser).await;
    assert_eq!(browser.text_of("main > h1").await, "Product demo");
    assert!(
        browser
            .text_of("#booking-about")
            .await
            .contains("With Alice Sato · In person at Head office")
    );
    // The guest's zone is this browser's, detected; the select offers others.
    let detected = browser
        .run(
            "return Intl.DateTimeFormat().resolvedOptions().timeZone;",
            vec![],
        )
        .await;
    assert_eq!(
        browser.property("#zone", "value").await.as_deref(),
        detected.as_str()
    );
    in_tokyo(&browser).await;
    calendar_loaded(&browser).await;
    browser
        .wait_for_text("#calendar-status", "November 2026")
        .await;
    // Weekdays from today on are free; the weekend and the past are not.
    assert_eq!(
        browser.count("button.calendar-day.free").await,
        4,
        "25, 26, 27 and 30 November"
    );
    assert!(
        browser
            .property("button.calendar-day[data-day='2026-11-28']", "disabled")
            .await
            .as_deref()
            == Some("true")
    );
    browser.screenshot("booking-calendar-en").await;

    browser
        .click("button.calendar-day[data-day='2026-11-26']")
        .await;
    browser
        .wait_for_text("#day-title", "Thursday 26 November")
        .await;
    assert_eq!(browser.count("button.slot").await, 18);
    assert_eq!(
        browser
            .text_of(&format!("button.slot[data-start='{THURSDAY_TEN}']"))
            .await,
        "10:00"
    );
    browser.screenshot("booking-day-en").await;

    browser
        .click(&format!("button.slot[data-start='{THURSDAY_TEN}']"))
        .await;
    on_step(&browser, "details").await;
    assert_eq!(
        browser.text_of("#chosen-when").await,
        "Thursday, 26 November 2026 10:00–10:30 (Asia/Tokyo)"
    );
    browser.type_into("#name", "Jane Doe").await;
    browser.type_into("#email", "jane@globex.example").await;
    browser.type_into("#company", "Globex").await;
    // The link's question is required: named next to it, nothing sent.
    browser.click("#details-submit").await;
    browser
        .wait_for_text("#question-0-error", "Please fill this in.")
        .await;
    assert!(browser.focused_is("#question-0").await);
    assert_eq!(scheduling.bookings().await, 0);
    browser
        .type_into("#question-0", "A demo for our team")
        .await;
    browser.screenshot("booking-details-en").await;
    browser.click("#details-submit").await;

    on_step(&browser, "done").await;
    assert_eq!(browser.text_of("#done-title").await, "You are booked");
    let code = browser.text_of("#reception-code").await;
    assert_eq!(code, scheduling.code_of("Jane Doe", "2026-11-26").await);
    assert_eq!(
        browser.text_of("#summary-when").await,
        "Thursday, 26 November 2026 10:00–10:30 (Asia/Tokyo)"
    );
    assert_eq!(browser.text_of("#summary-hosts").await, "Alice Sato");
    assert!(
        browser
            .text_of("#done-mail")
            .await
            .contains("jane@globex.example")
    );
    // The QR code is this server's drawing; it loaded.
    browser
        .wait_until(
            "const qr = document.querySelector('.booking-code-qr'); \
             return qr !== null && qr.complete && qr.naturalWidth > 0;",
        )
        .await;
    let google = browser.attribute("#add-google", "href").await.unwrap();
    assert!(
        google.starts_with("https://calendar.google.com/calendar/render?action=TEMPLATE&text=Product%20demo&dates=20261126T010000Z%2F20261126T013000Z"),
        "{google}"
    );
    let outlook = browser.attribute("#add-outlook", "href").await.unwrap();
    assert!(
        outlook.starts_with("https://outlook.office.com/calendar/0/deeplink/compose?subject=Product%20demo&startdt=2026-11-26T01%3A00%3A00Z&enddt=2026-11-26T01%3A30%3A00Z"),
        "{outlook}"
    );
    browser.screenshot("booking-confirmation-en").await;

    // The invitation downloads as a calendar file, without being cached.
    let ics_href = browser.property("#add-ics", "href").await.unwrap();
    let ics = reqwest::get(&ics_href).await.unwrap();
    assert_eq!(ics.status(), 200);
    assert_eq!(
        ics.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    assert_eq!(ics.headers()["cache-control"], "no-store");
    assert_eq!(ics.headers()["referrer-policy"], "no-referrer");
    let ics = ics.text().await.unwrap();
    assert!(ics.contains("DTSTART:20261126T010000Z"), "{ics}");
    assert!(ics.contains("SUMMARY:Product demo"), "{ics}");
    assert_eq!(scheduling.bookings().await, 1);

    // Reloaded, the page no longer offers the time just booked.
    browser.open(&page).await;
    calendar_loaded(&browser).await;
    browser
        .click("button.calendar-day[data-day='2026-11-26']")
        .await;
    browser
        .wait_for("button.slot[data-start='2026-11-26T00:30:00Z']")
        .await;
    assert_eq!(
        browser
            .count(&format!("button.slot[data-start='{THURSDAY_TEN}']"))
            .await,
        0
    );
    assert_eq!(browser.count("button.slot").await, 17);
    browser.close().await;
    scheduling.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_time_taken_meanwhile_is_refused_kindly_and_the_free_times_are_offered_again() {
    let Some(browser) = Browser::start("en").await else {
        return;
    };
    let scheduling = Scheduling::open().await;
    browser.open(&scheduling.site.url("/b/alice")).await;
    in_tokyo(&browser).await;
    pick(&browser, "2026-11-26", THURSDAY_TEN).await;
    on_step(&browser, "details").await;
    browser.type_into("#name", "Jane Doe").await;
    browser.type_into("#email", "jane@globex.example").await;
    browser.type_into("#question-0", "Pricing").await;

    // Someone else books 10:00 while Jane types.
    let (status, other) = scheduling
        .book_through_the_api("alice", THURSDAY_TEN, "Max Mustermann")
        .await;
    assert_eq!(status, 201, "{other}");

    browser.click("#details-submit").await;
    browser
        .wait_for_text("#booking-alert", "someone booked that time a moment ago")
        .await;
    on_step(&browser, "when").await;
    assert_eq!(
        browser.attribute("#booking-alert", "role").await.as_deref(),
        Some("alert")
    );
    // The day's times are fetched again: 10:00 is gone, the others are offered.
    browser
        .wait_for("button.slot[data-start='2026-11-26T00:30:00Z']")
        .await;
    assert_eq!(
        browser
            .count(&format!("button.slot[data-start='{THURSDAY_TEN}']"))
            .await,
        0
    );
    browser.screenshot("booking-taken-en").await;
    assert_eq!(scheduling.bookings().await, 1, "nothing double-booked");

    // Another time books at once: the details are kept.
    browser
        .click("button.slot[data-start='2026-11-26T01:30:00Z']")
        .await;
    on_step(&browser, "details").await;
    assert_eq!(
        browser.property("#name", "value").await.as_deref(),
        Some("Jane Doe")
    );
    // A double click books once.
    browser
        .run(
            "const submit = document.getElementById('details-submit'); submit.click(); submit.click(); return true;",
            vec![],
        )
        .await;
    on_step(&browser, "done").await;
    assert_eq!(
        browser.text_of("#reception-code").await,
        scheduling.code_of("Jane Doe", "2026-11-26").await
    );
    assert_eq!(scheduling.bookings().await, 2);
    browser.close().await;
    scheduling.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_moves_and_then_cancels_the_booking_from_the_manage_link() {
    let Some(browser) = Browser::start("en").await else {
        return;
    };
    let scheduling = Scheduling::open().await;
    let (status, booked) = scheduling
        .book_through_the_api("alice", THURSDAY_TEN, "Hanako Yamada")
        .await;
    assert_eq!(status, 201, "{booked}");
    let manage_url = booked["manage_url"].as_str().unwrap().to_owned();
    let id = booked["id"].as_str().unwrap().to_owned();
    let token = manage_url.split("?t=").nth(1).unwrap().to_owned();

    // The manage page carries the token: not cached, never sent on as a referrer.
    let reply = reqwest::get(&manage_url).await.unwrap();
    assert_eq!(reply.status(), 200);
    assert_eq!(reply.headers()["cache-control"], "no-store");
    assert_eq!(reply.headers()["referrer-policy"], "no-referrer");

    browser.open(&manage_url).await;
    on_step(&browser, "manage").await;
    in_tokyo(&browser).await;
    browser
        .wait_for_text(
            "#summary-when",
            "Thursday, 26 November 2026 10:00–10:30 (Asia/Tokyo)",
        )
        .await;
    assert_eq!(browser.text_of("#manage-title").await, "Product demo");
    assert_eq!(
        browser.text_of("#reception-code").await,
        scheduling.code_of("Hanako Yamada", "2026-11-26").await
    );
    browser.screenshot("booking-manage-en").await;

    // Move it to Friday 15:00 with the same calendar.
    browser.click("#manage-reschedule").await;
    on_step(&browser, "when").await;
    pick(&browser, "2026-11-27", "2026-11-27T06:00:00Z").await;
    on_step(&browser, "move").await;
    assert_eq!(
        browser.text_of("#move-when").await,
        "Friday, 27 November 2026 15:00–15:30 (Asia/Tokyo)"
    );
    browser.screenshot("booking-move-en").await;
    browser.click("#move-yes").await;
    browser
        .wait_for_text("#booking-notice", "Your booking was moved")
        .await;
    on_step(&browser, "manage").await;
    assert_eq!(
        browser.text_of("#summary-when").await,
        "Friday, 27 November 2026 15:00–15:30 (Asia/Tokyo)"
    );
    let moved = scheduling
        .site
        .engine
        .guest_booking(&id, &token)
        .await
        .unwrap();
    assert_eq!(moved.start, 1_795_759_200, "2026-11-27T06:00:00Z");
    assert_eq!(
        browser.text_of("#reception-code").await,
        scheduling.code_of("Hanako Yamada", "2026-11-27").await
    );
    browser.screenshot("booking-moved-en").await;

    // Cancel, after saying yes to the question.
    browser.click("#manage-cancel").await;
    browser
        .wait_for_text("#cancel-question", "Cancel this booking?")
        .await;
    assert!(browser.focused_is("#cancel-question").await);
    browser.screenshot("booking-cancel-confirm-en").await;
    browser.click("#cancel-yes").await;
    browser
        .wait_for_text("#booking-notice", "Your booking is cancelled")
        .await;
    let cancelled = scheduling
        .site
        .engine
        .guest_booking(&id, &token)
        .await
        .unwrap();
    assert_eq!(cancelled.status, "cancelled");
    assert_eq!(scheduling.bookings().await, 0);
    assert_eq!(browser.count("#reception-code").await, 0);
    assert_eq!(browser.count("#manage-actions:not([hidden])").await, 0);
    browser.screenshot("booking-cancelled-en").await;

    // A wrong token, an unknown link and a used single-use link are clear pages.
    let wrong = scheduling
        .site
        .url(&format!("/b/alice/bookings/{id}?t=not-the-token"));
    let reply = reqwest::get(&wrong).await.unwrap();
    assert_eq!(reply.status(), 404);
    assert_eq!(reply.headers()["referrer-policy"], "no-referrer");
    for path in [
        format!("/b/alice/bookings/{id}/invite.ics?t=not-the-token"),
        format!("/b/alice/bookings/{id}/code.svg?t=not-the-token"),
        format!("/b/alice-once/bookings/{id}?t={token}"),
    ] {
        let reply = reqwest::get(scheduling.site.url(&path)).await.unwrap();
        assert_eq!(reply.status(), 404, "{path}");
    }
    browser.open(&wrong).await;
    browser
        .wait_for_text("p.error", "This link is not valid")
        .await;
    assert_eq!(browser.text_of("main > h1").await, "Booking not found");
    browser.screenshot("booking-invalid-link-en").await;

    let unknown = reqwest::get(scheduling.site.url("/b/nobody"))
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let (status, once) = scheduling
        .book_through_the_api("alice-once", THURSDAY_TEN, "Only Once")
        .await;
    assert_eq!(status, 201, "{once}");
    let used = reqwest::get(scheduling.site.url("/b/alice-once"))
        .await
        .unwrap();
    assert_eq!(used.status(), 410);
    browser.open(&scheduling.site.url("/b/alice-once")).await;
    browser
        .wait_for_text("p.error", "has already been used")
        .await;
    browser.screenshot("booking-used-link-en").await;
    // Its booking has no times left to move to, but can still be seen and cancelled.
    browser.open(once["manage_url"].as_str().unwrap()).await;
    on_step(&browser, "manage").await;
    browser.wait_for_text("#manage-summary", "In person").await;
    assert_eq!(browser.count("#manage-reschedule[hidden]").await, 1);
    assert_eq!(browser.count("#manage-cancel:not([hidden])").await, 1);
    browser.close().await;
    scheduling.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_speaks_japanese_and_switches_language_in_place() {
    let Some(browser) = Browser::start("ja").await else {
        return;
    };
    let scheduling = Scheduling::open().await;
    browser.open(&scheduling.site.url("/b/alice")).await;
    calendar_loaded(&browser).await;
    assert_eq!(
        browser.attribute("html", "lang").await.as_deref(),
        Some("ja")
    );
    assert_eq!(browser.text_of("#when-title").await, "日付を選択");
    assert_eq!(browser.text_of("#month-label").await, "2026年11月");
    assert!(
        browser
            .text_of("#booking-about")
            .await
            .contains("担当：Alice Sato · Head officeにてご来訪")
    );
    assert_eq!(browser.text_of("#durations legend").await, "所要時間");
    in_tokyo(&browser).await;
    calendar_loaded(&browser).await;
    browser.screenshot("booking-calendar-ja").await;

    // An hour: Thursday's hours, starting 09:00 to 17:00.
    browser.click("#duration-60").await;
    calendar_loaded(&browser).await;
    browser
        .click("button.calendar-day[data-day='2026-11-26']")
        .await;
    browser.wait_for_text("#day-title", "11月26日").await;
    browser
        .wait_for("button.slot[data-start='2026-11-26T08:00:00Z']")
        .await;
    assert_eq!(browser.count("button.slot").await, 9, "hourly");
    browser.screenshot("booking-day-ja").await;
    browser
        .click(&format!("button.slot[data-start='{THURSDAY_TEN}']"))
        .await;
    on_step(&browser, "details").await;
    assert!(
        browser
            .text_of("#chosen-when")
            .await
            .contains("10:00–11:00")
    );
    assert_eq!(browser.text_of("label[for='question-0']").await, "ご用件");

    // English in place, and back: the question's label follows.
    browser.click(".booking-language[data-lang='en']").await;
    browser
        .wait_for_text("#details-title", "Your details")
        .await;
    assert_eq!(browser.text_of("label[for='question-0']").await, "Topic");
    browser.click(".booking-language[data-lang='ja']").await;
    browser.wait_for_text("#details-title", "お客様情報").await;

    browser.type_into("#name", "山田 花子").await;
    browser.type_into("#email", "not-an-address").await;
    browser.type_into("#question-0", "製品デモ").await;
    browser.click("#details-submit").await;
    // The server's words, in Japanese, next to the field.
    browser
        .wait_for_text("#email-error", "メールアドレスではありません")
        .await;
    assert_eq!(
        browser.attribute("#email", "aria-invalid").await.as_deref(),
        Some("true")
    );
    browser.screenshot("booking-details-ja").await;
    browser.type_into("#email", "hanako@example.jp").await;
    browser.click("#details-submit").await;
    on_step(&browser, "done").await;
    assert_eq!(browser.text_of("#done-title").await, "予約が完了しました");
    assert_eq!(
        browser.text_of("#reception-code").await,
        scheduling.code_of("山田 花子", "2026-11-26").await
    );
    assert!(
        browser
            .text_of("#summary-when")
            .await
            .contains("10:00–11:00 (Asia/Tokyo)")
    );
    browser.screenshot("booking-confirmation-ja").await;
    // On a phone the page fits its width: nothing scrolls sideways.
    browser.resize(390, 844).await;
    browser
        .wait_until("return document.documentElement.clientWidth <= 390;")
        .await;
    assert_eq!(
        browser
            .run(
                "return document.documentElement.scrollWidth <= document.documentElement.clientWidth;",
                vec![],
            )
            .await,
        Value::Bool(true)
    );
    browser.screenshot("booking-confirmation-ja-phone").await;
    browser.close().await;
    scheduling.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_books_with_the_keyboard_alone() {
    let Some(browser) = Browser::start("en").await else {
        return;
    };
    let scheduling = Scheduling::open().await;
    browser.open(&scheduling.site.url("/b/alice")).await;
    calendar_loaded(&browser).await;

    // Tab to the first free day; the focus is visible. The arrow keys move among the free
    // days (the 25th, 26th, 27th and 30th; up and down a week, where there is none), Home
    // and End to the first and last; Enter opens its times.
    browser.tab_to("button.calendar-day.free").await;
    assert!(browser.focused_is(":focus-visible").await);
    let focused_day = "return document.activeElement.dataset.day;";
    assert_eq!(browser.run(focused_day, vec![]).await, "2026-11-25");
    for (key, day) in [
        (Key::Right, "2026-11-26"),
        (Key::Right, "2026-11-27"),
        (Key::Right, "2026-11-30"),
        (Key::Right, "2026-11-30"),
        (Key::Up, "2026-11-30"),
        (Key::Left, "2026-11-27"),
        (Key::Home, "2026-11-25"),
        (Key::Down, "2026-11-25"),
        (Key::End, "2026-11-30"),
        (Key::Home, "2026-11-25"),
    ] {
        browser.press(key).await;
        assert_eq!(browser.run(focused_day, vec![]).await, day, "after {key:?}");
    }
    browser.screenshot("booking-keyboard-day-en").await;
    browser.press(Key::Enter).await;
    browser
        .wait_until("return document.activeElement.id === 'day-title';")
        .await;
    browser.tab_to("button.slot").await;
    let start = browser
        .run("return document.activeElement.dataset.start;", vec![])
        .await;
    assert_eq!(start, "2026-11-25T00:00:00Z", "the first time of the 25th");
    browser.press(Key::Enter).await;
    browser
        .wait_until("return document.activeElement.id === 'details-title';")
        .await;

    browser.tab_to("#name").await;
    browser.keyboard("Kim Lee").await;
    browser.press(Key::Tab).await;
    assert!(browser.focused_is("#email").await);
    browser.keyboard("kim@globex.example").await;
    browser.press(Key::Tab).await;
    browser.press(Key::Tab).await;
    assert!(browser.focused_is("#question-0").await, "company skipped");
    browser.keyboard("Integration").await;
    browser.screenshot("booking-keyboard-details-en").await;
    browser.press(Key::Enter).await;

    on_step(&browser, "done").await;
    browser
        .wait_until("return document.activeElement.id === 'done-title';")
        .await;
    assert_eq!(
        browser.text_of("#reception-code").await,
        scheduling.code_of("Kim Lee", "2026-11-25").await
    );
    browser.screenshot("booking-keyboard-done-en").await;
    assert_eq!(scheduling.bookings().await, 1);
    browser.close().await;
    scheduling.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_with_nothing_free_in_its_window_says_so_instead_of_pointing_to_the_next_month() {
    let Some(browser) = Browser::start("en").await else {
        return;
    };
    let scheduling = Scheduling::open().await;
    browser.open(&scheduling.site.url("/b/alice-closed")).await;
    browser
        .wait_until(
            "return document.getElementById('calendar-status').textContent \
             .includes('none can be booked later than this month');",
        )
        .await;
    let next_month = "return document.getElementById('month-next').disabled;";
    assert_eq!(
        browser.run(next_month, vec![]).await,
        true,
        "nothing to go to"
    );
    let free_days = "return document.querySelectorAll('.calendar-day.free').length;";
    assert_eq!(browser.run(free_days, vec![]).await, 0);
    browser.screenshot("booking-closed-en").await;
    browser.close().await;
    scheduling.close().await;
}
