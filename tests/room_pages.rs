//! The meeting room pages in a real browser (see `support::browser`): the demo's rooms as
//! their pages and door displays show them (room B in use by Bob with the private interview
//! after it masked, room A free, booked at the door and freed again, a door display in
//! another browser following live), the pages in Japanese, the printed QR code read back
//! from the screen; outside the demo, a door display that is not paired yet, paired from the
//! admin's link, and an employee signed in to the web chat booking, checking in and finding
//! another room; and the rooms admin page with its door displays and the rooms' use. A
//! screenshot of each page state is saved under `target/screenshots/room-*.png`.
//!
//! The demo seeds its rooms around the real time it starts: room B in use since the last
//! quarter hour (Bob's "Sprint planning"), then Carol's private "Interview" right after it;
//! room A free, with Alice's "Design review" 15 to 20 minutes on.

mod support;

use std::path::Path;

use frontdesk_core::domain::people::NotificationPreference;
use frontdesk_core::engine::Actor;
use frontdesk_core::engine::directory::EmployeeInput;
use frontdesk_core::i18n::Lang;
use frontdesk_core::testing::acme_owner;
use serde_json::json;
use support::Server;
use support::browser::{Browser, Site};

/// The public URL the demo servers are given, which the printed QR codes carry.
const PUBLIC_URL: &str = "http://frontdesk.test:8080";

/// The owner of `acme` on a [`Site`] (see `acme_owner`).
const OWNER_EMAIL: &str = "owner@acme.example";
const OWNER_PASSWORD: &str = "Blue-Kiosk-4821";

/// `frontdesk serve --demo` on a fresh data dir, with [`PUBLIC_URL`].
async fn demo_server(data: &Path) -> Server {
    Server::start_demo(data, &[("FRONTDESK_PUBLIC_URL", PUBLIC_URL)]).await
}

/// Waits until the room page or door display shows `screen`.
async fn on_screen(browser: &Browser, screen: &str) {
    browser
        .wait_for(&format!("#room[data-screen='{screen}']"))
        .await;
}

/// Waits until the room's banner says `label` (its state, in the page's language).
async fn banner_says(browser: &Browser, label: &str) {
    browser.wait_for_text("#room-state-label", label).await;
}

/// The whole page as the browser holds it now (every attribute and hidden element).
async fn page_source(browser: &Browser) -> String {
    browser
        .run("return document.documentElement.outerHTML;", vec![])
        .await
        .as_str()
        .expect("the page's HTML")
        .to_owned()
}

/// Scrolls the element matching `css` into the window, for a screenshot of it.
async fn scroll_to(browser: &Browser, css: &str) {
    browser
        .run(
            "document.querySelector(arguments[0]).scrollIntoView({block: 'center'});",
            vec![json!(css)],
        )
        .await;
}

/// Opens `url` as a new page load: a URL that differs from the current one only in its
/// fragment would otherwise not load the page again (as a tablet's camera opens a scanned
/// link in a fresh tab).
async fn open_fresh(browser: &Browser, url: &str) {
    browser.open("about:blank").await;
    browser.open(url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_b_shows_bobs_meeting_in_use_and_the_private_interview_masked_in_both_languages() {
    let Some(browser) = Browser::start("ja").await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let server = demo_server(data.path()).await;

    browser.open(&server.url("/r/room-b")).await;
    on_screen(&browser, "room").await;
    banner_says(&browser, "使用中").await;
    assert_eq!(browser.text_of("main > h1").await, "Room B / 会議室B");
    assert_eq!(
        browser.text_of("#room-details").await,
        "12名 · ディスプレイ、ビデオ会議 · 3階"
    );
    let current = browser.text_of("#room-current").await;
    assert!(
        current.contains("Sprint planning") && current.contains("Bob Tanaka"),
        "{current}"
    );
    assert!(browser.text_of("#room-when").await.ends_with("まで"));
    assert_eq!(
        browser.text_of("#room-next li .room-meeting-what").await,
        "非公開の予定"
    );
    assert_eq!(
        browser.attribute("#room", "data-state").await.as_deref(),
        Some("in_use")
    );
    // In use: end or extend, nothing to book or check in to.
    assert_eq!(browser.count("#room-end:not([hidden])").await, 1);
    assert_eq!(browser.count("#room-extend:not([hidden])").await, 1);
    assert_eq!(browser.count("#room-book:not([hidden])").await, 0);
    assert_eq!(browser.count("#room-check-in:not([hidden])").await, 0);
    // Room A is not free for 30 minutes either (Alice's review starts within 20).
    browser
        .wait_for_text("#room-others-none", "空いている会議室はほかにありません")
        .await;

    // The interview comes right after Bob's meeting: extending is refused, next to the
    // buttons, in the page's language.
    browser.click("#room-extend button[data-extend='15']").await;
    browser
        .wait_for_text("#room-error", "この会議室はその時間空いていません")
        .await;
    browser.screenshot("room-b-in-use-ja").await;

    // The private meeting's title and organizer are nowhere: not on the page, not in what
    // its script was sent.
    let html = page_source(&browser).await;
    for secret in ["Interview", "面接", "Carol", "すずき"] {
        assert!(!html.contains(secret), "{secret} shows in the page");
    }
    let status = support::client()
        .get(server.url("/api/v1/rooms/room-b/status"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(status.contains("Sprint planning"), "{status}");
    for secret in ["Interview", "面接", "Carol"] {
        assert!(!status.contains(secret), "{secret} in {status}");
    }

    // English in place: the banner, the masked meeting and the error shown.
    browser.click(".room-language[data-lang='en']").await;
    banner_says(&browser, "In use").await;
    assert_eq!(
        browser.attribute("html", "lang").await.as_deref(),
        Some("en")
    );
    assert_eq!(
        browser.text_of("#room-next li .room-meeting-what").await,
        "Private meeting"
    );
    assert_eq!(
        browser.text_of("#room-details").await,
        "12 seats · Display, Video conferencing · Floor 3"
    );
    browser
        .wait_for_text("#room-error", "This room is not free for that long")
        .await;
    assert!(browser.text_of("#room-when").await.starts_with("Until "));
    browser.screenshot("room-b-in-use-en").await;

    // The choice is kept: the page opens in English next time.
    browser.open(&server.url("/r/room-b")).await;
    banner_says(&browser, "In use").await;
    browser.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn room_a_is_booked_now_and_freed_again_while_its_door_display_follows_live() {
    let Some(page) = Browser::start("en").await else {
        return;
    };
    let Some(door) = Browser::start("en").await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let server = demo_server(data.path()).await;

    // The door display (the demo needs no pairing), in another browser.
    door.open(&server.url("/r/room-a/door")).await;
    on_screen(&door, "room").await;
    banner_says(&door, "Free").await;
    assert_eq!(door.text_of("main > h1").await, "Room A / 会議室A");
    let next = door.text_of("#room-next li").await;
    assert!(
        next.contains("Design review") && next.contains("Alice Sato"),
        "{next}"
    );
    assert_eq!(
        door.count("#room-others").await,
        0,
        "no other rooms at the door"
    );
    door.screenshot("room-a-door-free").await;

    page.open(&server.url("/r/room-a")).await;
    on_screen(&page, "room").await;
    banner_says(&page, "Free").await;
    assert!(page.text_of("#room-when").await.starts_with("Free until "));
    assert_eq!(page.count("#room-check-in:not([hidden])").await, 0);
    page.wait_for("#room-book:not([hidden])").await;
    page.screenshot("room-a-free").await;
    // Whatever changes from now on changes without the page loading again.
    page.run("window.roomTestMark = 'same page';", vec![]).await;

    // Alice's review starts within 20 minutes: 30 minutes do not fit, and the page says so.
    page.click("#room-book button[data-book='30']").await;
    page.wait_for_text("#room-error", "This room is not free for that long")
        .await;
    page.screenshot("room-a-book-too-long").await;

    // 15 minutes do: booked at the door is checked in at once.
    page.click("#room-book button[data-book='15']").await;
    banner_says(&page, "In use").await;
    page.wait_for("#room-end:not([hidden])").await;
    assert_eq!(page.count("#room-error:not([hidden])").await, 0);
    assert_eq!(
        page.count("#room-release:not([hidden])").await,
        0,
        "checked in"
    );
    assert_eq!(page.count("#room-book:not([hidden])").await, 0);
    // The booking's title, as the room's calendar holds it (in both languages).
    assert_eq!(
        page.text_of("#room-current").await,
        "Booked on the spot / 当日予約"
    );
    page.screenshot("room-a-in-use").await;

    // The door display follows by itself.
    banner_says(&door, "In use").await;
    door.wait_for("#room-end:not([hidden])").await;
    door.screenshot("room-a-door-in-use").await;

    page.click("#room-end").await;
    banner_says(&page, "Free").await;
    banner_says(&door, "Free").await;
    assert_eq!(
        page.run("return window.roomTestMark;", vec![]).await,
        json!("same page")
    );
    assert_eq!(
        page.attribute("#room", "data-live").await.as_deref(),
        Some("stream")
    );
    page.screenshot("room-a-freed").await;
    door.screenshot("room-a-door-freed").await;
    door.close().await;
    page.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_door_display_speaks_japanese_and_the_printed_qr_code_opens_the_room_page() {
    let Some(browser) = Browser::start("ja").await else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let server = demo_server(data.path()).await;

    browser.open(&server.url("/r/room-a/door")).await;
    on_screen(&browser, "room").await;
    banner_says(&browser, "空き").await;
    assert!(
        browser
            .text_of("#room-when")
            .await
            .ends_with("まで空いています")
    );
    assert_eq!(
        browser.text_of("#room-book .room-spans-label").await,
        "今すぐ予約"
    );
    assert_eq!(
        browser.text_of("#room-book button[data-book='30']").await,
        "30分"
    );
    assert_eq!(browser.text_of("#room-next-title").await, "この後の予定");
    browser.screenshot("room-a-door-free-ja").await;

    // The sheet to post by the door: both languages, and a QR code that, read from the
    // screen as a phone would, is the room page's address at the server's public URL.
    browser.open(&server.url("/r/room-a/qr")).await;
    browser.wait_for(".room-qr-code svg").await;
    assert_eq!(browser.text_of(".room-qr-name").await, "Room A / 会議室A");
    assert_eq!(browser.text_of(".room-qr-seats").await, "6名 / 6 seats");
    let scan = browser.text_of(".room-qr-scan").await;
    assert!(
        scan.contains("QRでチェックイン・予約") && scan.contains("Scan to check in or book"),
        "{scan}"
    );
    let shot = browser.screenshot("room-a-qr").await;
    let expected = format!("{PUBLIC_URL}/r/room-a");
    assert_eq!(qr_in_screenshot(&shot), expected);
    assert_eq!(
        browser.attribute("#room-qr", "data-url").await.as_deref(),
        Some(expected.as_str())
    );
    browser.close().await;
}

/// The text of the one QR code in a PNG screenshot (read as greyscale, as a scanner would).
fn qr_in_screenshot(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let channels = info.color_type.samples();
    let (width, height, stride) = (info.width as usize, info.height as usize, info.line_size);
    let grey = |x: usize, y: usize| -> u8 {
        let at = y * stride + x * channels;
        if channels < 3 {
            return pixels[at];
        }
        let [r, g, b] = [pixels[at], pixels[at + 1], pixels[at + 2]].map(u32::from);
        ((r * 299 + g * 587 + b * 114) / 1000) as u8
    };
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, grey);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the screen");
    grids[0].decode().expect("a readable QR code").1
}

/// Acme on a site, its owner signed in over the API (`http`), and the rooms `hall` (20
/// seats, display and video, 5th floor, Tokyo) and `booth` (2 seats) made over the API.
async fn acme_with_rooms() -> (Site, Actor, reqwest::Client) {
    let site = Site::start().await;
    let (_, owner) = acme_owner(&site.engine).await;
    let http = support::client();
    let login = http
        .post(site.url("/api/v1/auth/login"))
        .json(&json!({"tenant": "acme", "email": OWNER_EMAIL, "password": OWNER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    for room in [
        json!({"slug": "hall", "name": "大会議室 (Hall)", "capacity": 20, "time_zone": "Asia/Tokyo",
               "equipment": ["display", "video"], "floor": 5}),
        json!({"slug": "booth", "name": "Booth", "capacity": 2, "time_zone": "Asia/Tokyo"}),
    ] {
        let made = http
            .post(site.url("/api/v1/rooms"))
            .json(&room)
            .send()
            .await
            .unwrap();
        assert_eq!(made.status(), 201, "{}", made.text().await.unwrap());
    }
    (site, owner, http)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_door_display_is_paired_from_the_admins_page_the_rooms_use_shows_there_and_a_revoke_unpairs_it()
 {
    let Some(door) = Browser::start("en").await else {
        return;
    };
    let Some(admin) = Browser::start("ja").await else {
        return;
    };
    let (site, _, http) = acme_with_rooms().await;
    let door_url = site.url("/r/hall/door");

    // Outside the demo, a tablet that is not paired says so; so do the room page (with
    // the way to the web chat, in both languages) and the QR sheet.
    door.open(&door_url).await;
    on_screen(&door, "pairing").await;
    assert_eq!(
        door.text_of("#pairing-title").await,
        "This display is not paired yet"
    );
    door.screenshot("room-door-not-paired").await;
    door.open(&site.url("/r/hall")).await;
    on_screen(&door, "sign-in").await;
    let sign_in = door.text_of("#screen-sign-in").await;
    assert!(
        sign_in.contains("Sign in to use this room")
            && sign_in.contains("この会議室を使うにはサインインしてください"),
        "{sign_in}"
    );
    assert_eq!(
        door.attribute("#sign-in-link", "href").await.as_deref(),
        Some("/chat")
    );
    door.screenshot("room-page-sign-in").await;
    door.open(&site.url("/r/hall/qr")).await;
    assert!(door.text_of(".error").await.contains("/admin/rooms"));

    // The admin signs in on the rooms page and adds the hall's door display.
    admin.open(&site.url("/admin/rooms")).await;
    admin.wait_for("#admin-sign-in").await;
    admin.screenshot("room-admin-sign-in-ja").await;
    admin.type_into("#sign-in-tenant", "acme").await;
    admin.type_into("#sign-in-email", OWNER_EMAIL).await;
    admin
        .type_into("#sign-in-password", "wrong-password-1")
        .await;
    admin.click("#admin-sign-in button[type=submit]").await;
    admin.wait_for("#sign-in-error:not([hidden])").await;
    admin.type_into("#sign-in-password", OWNER_PASSWORD).await;
    admin.click("#admin-sign-in button[type=submit]").await;
    admin
        .wait_for_text("#room-hall-name", "大会議室 (Hall)")
        .await;
    assert!(
        admin
            .text_of(".room-card[aria-labelledby='room-hall-name']")
            .await
            .contains("20名 · ディスプレイ、ビデオ会議 · 5階")
    );
    assert_eq!(
        admin
            .attribute("#room-hall-name ~ ul a.room-qr-link", "href")
            .await
            .as_deref(),
        Some("/r/hall/qr")
    );
    admin
        .click(".door-form[data-room='hall'] button[type=submit]")
        .await;
    admin
        .wait_for(".door-form[data-room='hall'] .door-pairing:not([hidden])")
        .await;
    let code = admin
        .text_of(".door-form[data-room='hall'] .door-pairing-code")
        .await;
    let pairing_url = admin
        .attribute(".door-form[data-room='hall'] .door-pairing-url", "href")
        .await
        .expect("the pairing link");
    assert_eq!(pairing_url, format!("{door_url}#pair={code}"));
    assert_eq!(
        admin
            .count(".door-form[data-room='hall'] .door-pairing-qr svg")
            .await,
        1
    );
    scroll_to(&admin, ".door-form[data-room='hall'] .door-pairing").await;
    admin.screenshot("room-admin-door-pairing-ja").await;

    // A wrong code in the link: the display says so, in its language, and takes the code
    // out of the address.
    open_fresh(&door, &format!("{door_url}#pair=WRONGCODE2")).await;
    on_screen(&door, "pairing").await;
    door.wait_for_text("#pairing-error", "This pairing code is invalid")
        .await;
    assert!(!door.current_url().await.contains('#'));
    door.screenshot("room-door-wrong-code").await;

    // The admin's link pairs it: the room, free, with its buttons.
    open_fresh(&door, &pairing_url).await;
    on_screen(&door, "room").await;
    banner_says(&door, "Free").await;
    assert_eq!(door.text_of("main > h1").await, "大会議室 (Hall)");
    assert_eq!(door.current_url().await, door_url);
    door.screenshot("room-door-paired").await;

    // An hour's meeting booked at the door, then two hours on: it shows in the room's use.
    door.click("#room-book button[data-book='60']").await;
    banner_says(&door, "In use").await;
    site.clock.advance(chrono::Duration::hours(2));
    banner_says(&door, "Free").await;

    admin.open(&site.url("/admin/rooms")).await;
    admin.wait_for(".usage-table").await;
    // Rooms by slug: the booth, never used, then the hall: one meeting, an hour booked and
    // used, nobody missing.
    admin
        .wait_for_text(".usage-table tbody tr", "Booth 0.0 0.0 0.0 0 0 記録なし")
        .await;
    admin
        .wait_for_text(
            ".usage-table tbody tr",
            "大会議室 (Hall) 1.0 1.0 0.0 1 0 0%",
        )
        .await;
    // In the chart, the hall's booked and used bars are the longest; the booth's are empty.
    for bar in ["usage-booked", "usage-used"] {
        assert_eq!(
            admin
                .count(&format!(".usage-chart rect.{bar}[width='520.0']"))
                .await,
            1
        );
        assert_eq!(
            admin
                .count(&format!(".usage-chart rect.{bar}[width='0.0']"))
                .await,
            1
        );
    }
    scroll_to(&admin, ".usage-chart").await;
    admin.screenshot("room-admin-usage-ja").await;
    let csv_url = admin
        .attribute("#usage-csv", "href")
        .await
        .expect("the CSV link");
    let csv = http
        .get(site.url(&csv_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("\"hall\",\"大会議室 (Hall)\",1,1,0,1,0,0.000"),
        "{csv}"
    );

    // And in English.
    admin.click(".room-language[data-lang='en']").await;
    admin.wait_for_text("main > h1", "Meeting rooms").await;
    admin
        .wait_for_text(".usage-table thead", "Used hours")
        .await;
    scroll_to(&admin, ".usage-table").await;
    admin.screenshot("room-admin-usage-en").await;

    // The hall's door display is listed with when it was paired (09:00 in Tokyo on the
    // test clock). Revoked there, the tablet goes back to its pairing screen at once,
    // without a reload: its open stream is told.
    let hall_doors = ".room-card[aria-labelledby='room-hall-name'] .door-item";
    assert_eq!(admin.count(hall_doors).await, 1);
    assert!(
        admin
            .text_of(hall_doors)
            .await
            .contains("Paired on 2026-11-25 09:00"),
        "{}",
        admin.text_of(hall_doors).await
    );
    scroll_to(&admin, hall_doors).await;
    admin.screenshot("room-admin-door-list-en").await;
    door.wait_for("#room[data-live='stream']").await;
    // The first press asks again; the tablet still shows the room.
    admin.click(&format!("{hall_doors} .door-revoke")).await;
    admin
        .wait_for_text(
            &format!("{hall_doors} .door-revoke"),
            "Press again to revoke",
        )
        .await;
    on_screen(&door, "room").await;
    admin.click(&format!("{hall_doors} .door-revoke")).await;
    admin
        .wait_for_text(hall_doors, "Revoked: that tablet no longer shows the room.")
        .await;
    on_screen(&door, "pairing").await;
    assert_eq!(
        door.text_of("#pairing-title").await,
        "This display is not paired yet"
    );
    assert_eq!(admin.count(&format!("{hall_doors} .door-revoke")).await, 0);
    door.screenshot("room-door-revoked").await;
    scroll_to(&admin, hall_doors).await;
    admin.screenshot("room-admin-door-revoked-en").await;
    // The page opened again lists it no more.
    admin.open(&site.url("/admin/rooms")).await;
    admin.wait_for(".usage-table").await;
    assert_eq!(admin.count(hall_doors).await, 0);
    admin.close().await;
    door.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_employee_signed_in_to_the_web_chat_books_checks_in_and_finds_another_free_room() {
    let Some(browser) = Browser::start("en").await else {
        return;
    };
    let (site, owner, _) = acme_with_rooms().await;
    let input = EmployeeInput {
        email: "alice@acme.example".into(),
        name: "Alice Sato".into(),
        name_kana: String::new(),
        department: String::new(),
        time_zone: "Asia/Tokyo".into(),
        language: Lang::En,
        notification: NotificationPreference::Chat,
        chat_identities: Default::default(),
    };
    site.engine.create_employee(&owner, input).await.unwrap();

    // The room page sends an employee who is not signed in to the web chat, where the
    // mailed link signs them in.
    browser.open(&site.url("/r/hall")).await;
    on_screen(&browser, "sign-in").await;
    browser.click("#sign-in-link").await;
    browser.type_into("#tenant", "acme").await;
    browser.type_into("#email", "alice@acme.example").await;
    browser.click("button[type=submit]").await;
    browser.wait_for("[role=status]").await;
    site.engine.dispatch_due().await.unwrap();
    let mail = site.mailer.sent().pop().expect("a sign-in mail");
    let start = mail.body.find(&site.base).expect("the mail links here");
    let link = mail.body[start..].split_whitespace().next().unwrap();
    browser.open(link).await;
    browser.click("button[type=submit]").await;
    browser.wait_for("#chat-history").await;

    // Now the page is the room's (09:00 in Tokyo on the test clock), and the booth is free.
    browser.open(&site.url("/r/hall")).await;
    on_screen(&browser, "room").await;
    banner_says(&browser, "Free").await;
    assert_eq!(browser.text_of("#room-when").await, "Nothing else booked");
    browser
        .wait_for_text("#room-others-list a", "Booth 2 seats · Nothing else booked")
        .await;
    assert_eq!(
        browser.count("#room-others-list li").await,
        1,
        "not the hall itself"
    );

    // Booked from the phone, the room waits for a check-in at the door or here.
    browser.click("#room-book button[data-book='30']").await;
    banner_says(&browser, "Booked — not checked in").await;
    assert_eq!(
        browser.text_of("#room-release").await,
        "Released at 09:10 unless someone checks in"
    );
    assert_eq!(browser.text_of("#room-when").await, "Until 09:30");
    assert!(
        browser
            .text_of("#room-current")
            .await
            .contains("Alice Sato")
    );
    browser.screenshot("room-booked-not-checked-in").await;
    browser.click("#room-check-in").await;
    banner_says(&browser, "In use").await;
    assert_eq!(browser.count("#room-release:not([hidden])").await, 0);
    browser.screenshot("room-checked-in").await;

    // Another room free now is a link to its page.
    browser.click("#room-others-list a").await;
    on_screen(&browser, "room").await;
    browser.wait_for_text("main > h1", "Booth").await;
    banner_says(&browser, "Free").await;
    assert_eq!(browser.text_of("#room-details").await, "2 seats");
    browser.close().await;
}
