//! The visit history and what hangs off it: visitor labels defined by admins and put on
//! visits by receptionists; the history filtered, paged and searched by sealed names (up
//! to a bound it admits to); visits and appointments downloaded as CSV with formulas
//! neutralised and every download logged; personal data deleted after the location's
//! retention period while the visit stays; and names sealed at rest throughout.

mod common;

use std::collections::BTreeMap;

use chrono::Duration;
use common::{Fixture, person};
use frontdesk_core::Error;
use frontdesk_core::domain::csv_cell::restore;
use frontdesk_core::domain::field::Invalid;
use frontdesk_core::domain::people::Role;
use frontdesk_core::domain::visit::{ExtraField, ReceptionSettings, VisitStatus};
use frontdesk_core::engine::expected_visit::ExpectedVisitInput;
use frontdesk_core::engine::reception::{CheckIn, Kiosk, VisitView};
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::engine::visit_history::{HistoryPage, HistoryQuery, SEARCH_BOUND};
use frontdesk_core::port::{Clock, SealedAt};
use frontdesk_core::storage_tests;
use frontdesk_core::store::employee::Employee;
use frontdesk_core::store::reception::{self as store, VisitRow};
use frontdesk_core::testing::TestDb;

/// Acme with the locations `hq` (Tokyo) and `annex`, a paired kiosk at each, and the
/// employees Alice and Bob.
struct Desk {
    f: Fixture,
    hq: Kiosk,
    annex: Kiosk,
    alice: Employee,
    bob: Employee,
}

impl Desk {
    async fn new(t: &TestDb) -> Desk {
        let f = Fixture::new(t).await;
        for (slug, name) in [("hq", "Head office"), ("annex", "Annex")] {
            let input = LocationInput {
                slug: slug.into(),
                name: name.into(),
                time_zone: "Asia/Tokyo".into(),
            };
            f.engine.create_location(&f.owner, input).await.unwrap();
        }
        let alice = f
            .engine
            .create_employee(&f.owner, person("alice@acme.example", "Alice Sato"))
            .await
            .unwrap();
        let bob = f
            .engine
            .create_employee(&f.owner, person("bob@acme.example", "Bob Tanaka"))
            .await
            .unwrap();
        let hq = Desk::pair(&f, "hq").await;
        let annex = Desk::pair(&f, "annex").await;
        Desk {
            f,
            hq,
            annex,
            alice,
            bob,
        }
    }

    async fn pair(f: &Fixture, slug: &str) -> Kiosk {
        let (_, code) = f.engine.add_kiosk(&f.owner, slug, "Lobby").await.unwrap();
        f.engine.pair_kiosk(slug, &code).await.unwrap().0
    }

    async fn visit(&self, kiosk: &Kiosk, host: &Employee, name: &str, company: &str) -> VisitView {
        let input = CheckIn {
            host: Some(serde_json::json!(host.profile.email)),
            visitor_name: Some(name.into()),
            visitor_company: Some(company.into()),
            ..CheckIn::default()
        };
        self.f
            .engine
            .check_in(kiosk, "192.0.2.50", input, None)
            .await
            .unwrap()
            .visit
    }

    async fn history(&self, query: HistoryQuery, limit: i64) -> HistoryPage {
        self.f
            .engine
            .visit_history(&self.f.owner, &query, limit)
            .await
            .unwrap()
    }

    async fn names(&self, query: HistoryQuery) -> Vec<String> {
        names(&self.history(query, 100).await.visits)
    }
}

fn names(visits: &[VisitView]) -> Vec<String> {
    visits.iter().map(|v| v.visitor_name.clone()).collect()
}

fn labels(visit: &VisitView) -> Vec<&str> {
    visit.labels.iter().map(|l| l.name.as_str()).collect()
}

fn invalid_field(err: Error) -> (String, Invalid) {
    match err {
        Error::Invalid { field, reason } => (field.into_owned(), reason),
        other => panic!("expected a refused field, got {other:?}"),
    }
}

/// The rows of a CSV download: the header, then each row's cells as written.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

/// The cell of column `name` in `row`, as written.
fn cell<'a>(rows: &'a [Vec<String>], row: &'a [String], name: &str) -> &'a str {
    let column = rows[0]
        .iter()
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name}"));
    &row[column]
}

storage_tests! {
    async fn labels_are_defined_by_admins_put_on_visits_by_receptionists_and_shown(t: &TestDb) {
        let desk = Desk::new(t).await;
        let f = &desk.f;
        let receptionist = f.account("desk@acme.example", Role::Receptionist, false).await;
        let viewer = f.account("viewer@acme.example", Role::Viewer, false).await;

        let vip = f.engine.create_visitor_label(&f.owner, " VIP ").await.unwrap();
        assert_eq!(vip.name, "VIP", "trimmed");
        let candidate = f.engine.create_visitor_label(&f.owner, "Candidate").await.unwrap();
        assert!(matches!(f.engine.create_visitor_label(&f.owner, "VIP").await, Err(Error::Conflict(_))));
        assert!(matches!(f.engine.create_visitor_label(&receptionist, "Vendor").await, Err(Error::Forbidden)));
        let (field, reason) = invalid_field(f.engine.create_visitor_label(&f.owner, &"x".repeat(51)).await.unwrap_err());
        assert_eq!((field.as_str(), reason), ("name", Invalid::TooLong { max: 50 }));
        assert!(matches!(f.engine.visitor_labels(&viewer).await, Err(Error::Forbidden)));
        let listed: Vec<String> = f.engine.visitor_labels(&receptionist).await.unwrap().into_iter().map(|l| l.name).collect();
        assert_eq!(listed, ["Candidate", "VIP"], "by name");

        let visit = desk.visit(&desk.hq, &desk.alice, "Kenji Mori", "Globex").await;
        assert!(visit.labels.is_empty());
        let labelled = f.engine
            .set_visit_labels(&receptionist, &visit.public_id, &[vip.id, candidate.id, vip.id])
            .await
            .unwrap();
        assert_eq!(labels(&labelled), ["Candidate", "VIP"]);
        let on_site = f.engine.on_site(&receptionist, None).await.unwrap();
        assert_eq!(labels(&on_site[0]), ["Candidate", "VIP"], "the evacuation list shows them too");

        // Ids that are not the tenant's labels are named; nothing changes.
        let globex = f.engine.ensure_tenant("globex", "Globex").await.unwrap();
        let globex_owner = common::owner_of(&f.engine, &globex, "owner@globex.example").await;
        let theirs = f.engine.create_visitor_label(&globex_owner, "Theirs").await.unwrap();
        let (field, reason) = invalid_field(
            f.engine.set_visit_labels(&receptionist, &visit.public_id, &[vip.id, theirs.id]).await.unwrap_err(),
        );
        assert_eq!((field.as_str(), reason), ("labels[1]", Invalid::UnknownLabel));
        assert!(matches!(
            f.engine.set_visit_labels(&globex_owner, &visit.public_id, &[theirs.id]).await,
            Err(Error::NotFound("visit"))
        ), "another tenant's visit is not found");
        assert!(matches!(f.engine.set_visit_labels(&viewer, &visit.public_id, &[]).await, Err(Error::Forbidden)));

        // Filtering by label; deleting a label takes it off the visit.
        let other = desk.visit(&desk.hq, &desk.bob, "Aiko Ueda", "Initech").await;
        let by_label = desk.names(HistoryQuery { label: Some(vip.id), ..HistoryQuery::default() }).await;
        assert_eq!(by_label, ["Kenji Mori"]);
        f.engine.delete_visitor_label(&f.owner, vip.id).await.unwrap();
        assert!(matches!(f.engine.delete_visitor_label(&f.owner, vip.id).await, Err(Error::NotFound(_))));
        let page = desk.history(HistoryQuery::default(), 10).await;
        assert_eq!(names(&page.visits), ["Aiko Ueda", "Kenji Mori"]);
        assert_eq!(labels(&page.visits[1]), ["Candidate"]);
        assert!(page.visits[0].labels.is_empty(), "{other:?}");

        for action in ["visitor_label.create", "visit.labels", "visitor_label.delete"] {
            assert!(!f.logged(action).await.is_empty(), "{action} is logged");
        }
    }

    async fn the_history_filters_pages_and_searches_sealed_names(t: &TestDb) {
        let desk = Desk::new(t).await;
        let f = &desk.f;
        let start = f.clock.now_ms();
        desk.visit(&desk.hq, &desk.alice, "Kenji Mori", "Globex").await;
        f.clock.advance(Duration::hours(1));
        desk.visit(&desk.annex, &desk.bob, "Hanako Kuroda", "ＡＣＭＥ株式会社").await;
        f.clock.advance(Duration::hours(1));
        let taro = desk.visit(&desk.hq, &desk.bob, "Taro Yamada", "Initech").await;
        f.engine.check_out_visit(&f.owner, &taro.public_id).await.unwrap();
        f.clock.advance(Duration::hours(1));
        desk.visit(&desk.hq, &desk.alice, "kenji ueda", "Umbrella").await;

        let all = HistoryQuery::default();
        assert_eq!(desk.names(all.clone()).await, ["kenji ueda", "Taro Yamada", "Hanako Kuroda", "Kenji Mori"]);

        // Pages, newest first.
        let first = desk.history(all.clone(), 2).await;
        assert_eq!(names(&first.visits), ["kenji ueda", "Taro Yamada"]);
        let second = desk.history(HistoryQuery { before: first.next_before, ..all.clone() }, 2).await;
        assert_eq!(names(&second.visits), ["Hanako Kuroda", "Kenji Mori"]);
        assert_eq!(second.next_before, None, "nothing older");

        let by = |query: HistoryQuery| desk.names(query);
        assert_eq!(by(HistoryQuery { location: Some("annex".into()), ..all.clone() }).await, ["Hanako Kuroda"]);
        assert_eq!(by(HistoryQuery { host: Some("bob@acme.example".into()), ..all.clone() }).await, ["Taro Yamada", "Hanako Kuroda"]);
        assert_eq!(by(HistoryQuery { host: Some(desk.alice.id.to_string()), ..all.clone() }).await, ["kenji ueda", "Kenji Mori"]);
        assert_eq!(by(HistoryQuery { status: Some(VisitStatus::CheckedOut), ..all.clone() }).await, ["Taro Yamada"]);
        let hour = Duration::hours(1).num_milliseconds();
        assert_eq!(
            by(HistoryQuery { from: Some(start + hour), to: Some(start + 3 * hour), ..all.clone() }).await,
            ["Taro Yamada", "Hanako Kuroda"],
            "from inclusive, to exclusive"
        );

        // Searching names and companies, whatever their case and width.
        let search = |q: &str| HistoryQuery { q: Some(q.into()), ..HistoryQuery::default() };
        assert_eq!(by(search("KENJI")).await, ["kenji ueda", "Kenji Mori"]);
        assert_eq!(by(search("acme")).await, ["Hanako Kuroda"], "full-width ＡＣＭＥ matches");
        assert_eq!(by(search("globex")).await, ["Kenji Mori"]);
        assert_eq!(by(HistoryQuery { location: Some("annex".into()), ..search("kenji") }).await, Vec::<String>::new());
        let one = desk.history(search("kenji"), 1).await;
        assert_eq!((names(&one.visits), one.truncated), (vec!["kenji ueda".to_owned()], false));
        let next = desk.history(HistoryQuery { before: one.next_before, ..search("kenji") }, 1).await;
        assert_eq!((names(&next.visits), next.next_before), (vec!["Kenji Mori".to_owned()], None));

        // What names nothing is said so; viewers see no visits.
        let unknown = f.engine.visit_history(&f.owner, &HistoryQuery { location: Some("moon".into()), ..all.clone() }, 10).await;
        assert!(matches!(unknown, Err(Error::NotFound("location"))));
        let unknown = f.engine.visit_history(&f.owner, &HistoryQuery { host: Some("nobody@acme.example".into()), ..all.clone() }, 10).await;
        assert!(matches!(unknown, Err(Error::NotFound("host"))));
        let unknown = f.engine.visit_history(&f.owner, &HistoryQuery { label: Some(42), ..all.clone() }, 10).await;
        assert!(matches!(unknown, Err(Error::NotFound("label"))));
        let viewer = f.account("viewer@acme.example", Role::Viewer, true).await;
        assert!(matches!(f.engine.visit_history(&viewer, &all, 10).await, Err(Error::Forbidden)));
    }

    async fn a_search_opens_at_most_the_bound_and_says_when_it_stopped(t: &TestDb) {
        let desk = Desk::new(t).await;
        let f = &desk.f;
        // The one visitor searched for came first; then more visits than a search opens.
        let needle = desk.visit(&desk.hq, &desk.alice, "Needle Visitor", "Globex").await;
        let tenant_id = f.tenant.id;
        let mut tx = f.engine.db.write().await.unwrap();
        for i in 0..SEARCH_BOUND {
            let public_id = format!("hay{i:05}");
            let seal = |column: &str, value: &str| {
                let at = SealedAt { tenant_id, table: "visits", column, row: &public_id };
                f.engine.seal_for_tenant(value.as_bytes(), at).unwrap()
            };
            let row = VisitRow {
                id: 0,
                tenant_id,
                location_id: needle.location_id,
                public_id: public_id.clone(),
                expected_visit_id: None,
                host_employee_id: Some(desk.bob.id),
                category: None,
                visitor_name_sealed: Some(seal("visitor_name", &format!("Hay {i}"))),
                visitor_company_sealed: Some(seal("visitor_company", "Stack Inc")),
                visitor_email_sealed: None,
                fields_sealed: None,
                purpose_sealed: None,
                status: "waiting".into(),
                delay_minutes: None,
                answered_by: None,
                answered_at: None,
                fallback_due_at: None,
                fallback_sent_at: None,
                day: "2026-11-25".into(),
                checked_in_at: needle.checked_in_at + 1 + i,
                checked_out_at: None,
                checked_out_by: None,
                reminder_sent_at: None,
                terms_version: None,
                badge_token_hash: None,
                idempotency_key: None,
                purged_at: None,
            };
            store::insert_visit(&mut tx, &row).await.unwrap();
        }
        tx.commit().await.unwrap();

        let search = HistoryQuery { q: Some("needle".into()), ..HistoryQuery::default() };
        let stopped = desk.history(search.clone(), 50).await;
        assert!(stopped.visits.is_empty(), "the needle is older than the bound");
        assert!(stopped.truncated, "and the page says the search stopped");
        let more = desk.history(HistoryQuery { before: stopped.next_before, ..search.clone() }, 50).await;
        assert_eq!((names(&more.visits), more.truncated, more.next_before), (vec!["Needle Visitor".to_owned()], false, None));
        // A range that leaves the newer visits out finds it at once.
        let narrow = HistoryQuery { to: Some(needle.checked_in_at + 1), ..search };
        assert_eq!(names(&desk.history(narrow, 50).await.visits), ["Needle Visitor"]);
    }

    async fn visits_and_appointments_download_as_csv_with_formulas_neutralised(t: &TestDb) {
        let desk = Desk::new(t).await;
        let f = &desk.f;
        let formula = r#"=HYPERLINK("http://x","y")"#;
        let visit = desk.visit(&desk.hq, &desk.alice, formula, "+81 Trading").await;
        let vip = f.engine.create_visitor_label(&f.owner, "@VIP").await.unwrap();
        f.engine.set_visit_labels(&f.owner, &visit.public_id, &[vip.id]).await.unwrap();
        desk.visit(&desk.annex, &desk.bob, "Aiko Ueda", "Initech").await;

        let text = f.engine.export_visits(&f.owner, &HistoryQuery::default()).await.unwrap();
        assert!(!text.starts_with('\u{feff}'), "UTF-8 without a BOM, like the other downloads");
        let rows = csv_rows(&text);
        assert_eq!(rows[0][..3], ["visit_id", "location", "checked_in_at_utc"]);
        assert_eq!(rows.len(), 3, "a header and two visits: {text}");
        let row = rows.iter().find(|r| r[0] == visit.public_id).expect("the visit's row");
        for (column, original) in [("visitor_name", formula), ("visitor_company", "+81 Trading"), ("labels", "@VIP")] {
            let written = cell(&rows, row, column);
            assert!(written.starts_with('\''), "{column} neutralised: {written}");
            assert_eq!(restore(written), original, "{column} reads back as typed");
        }
        assert_eq!(cell(&rows, row, "host"), "Alice Sato");
        assert_eq!(cell(&rows, row, "location"), "hq");
        let only_annex = f.engine
            .export_visits(&f.owner, &HistoryQuery { location: Some("annex".into()), ..HistoryQuery::default() })
            .await
            .unwrap();
        assert_eq!(csv_rows(&only_annex).len(), 2, "the filters apply");

        let expected = ExpectedVisitInput {
            location: "hq".into(),
            host: "bob@acme.example".into(),
            visitor_name: "@SUM(A1)".into(),
            visitor_company: "Globex".into(),
            visitor_email: None,
            day: "2026-11-26".into(),
            time: Some("10:00".into()),
            purpose: Some("-1 review".into()),
        };
        let announced = f.engine.add_expected_visit(&f.owner, &expected).await.unwrap();
        let day = |d: &str| d.parse().unwrap();
        let text = f.engine.export_expected_visits(&f.owner, day("2026-11-25"), day("2026-11-30")).await.unwrap();
        let rows = csv_rows(&text);
        assert_eq!(rows.len(), 2, "{text}");
        assert_eq!(restore(cell(&rows, &rows[1], "visitor_name")), "@SUM(A1)");
        assert!(cell(&rows, &rows[1], "visitor_name").starts_with('\''));
        assert_eq!(restore(cell(&rows, &rows[1], "appointment")), "-1 review");
        assert_eq!(cell(&rows, &rows[1], "reception_code"), announced.code);
        assert_eq!(cell(&rows, &rows[1], "starts_at_utc"), "2026-11-26T01:00:00Z");
        let too_long = f.engine.export_expected_visits(&f.owner, day("2026-01-01"), day("2027-01-03")).await;
        assert_eq!(invalid_field(too_long.unwrap_err()).0, "to");

        // The role and the account's own download permission are both needed.
        let admin = f.account("admin@acme.example", Role::Admin, false).await;
        let receptionist = f.account("desk@acme.example", Role::Receptionist, true).await;
        for actor in [&admin, &receptionist] {
            assert!(matches!(f.engine.export_visits(actor, &HistoryQuery::default()).await, Err(Error::Forbidden)));
            assert!(matches!(f.engine.export_expected_visits(actor, day("2026-11-25"), day("2026-11-30")).await, Err(Error::Forbidden)));
        }

        // Every download is logged (how many rows, never whose), and nothing is in clear.
        let logged = f.logged("visits.export").await;
        assert_eq!(logged.len(), 2);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&logged[1].detail).unwrap()["rows"], 2);
        assert_eq!(f.logged("expected_visits.export").await.len(), 1);
        for needle in ["HYPERLINK", "Aiko Ueda", "@SUM(A1)"] {
            assert_eq!(t.tables_containing(needle).await, Vec::<String>::new(), "{needle}");
        }
    }

    async fn personal_data_is_deleted_after_the_retention_period_and_the_visit_stays(t: &TestDb) {
        let desk = Desk::new(t).await;
        let f = &desk.f;
        let settings = ReceptionSettings {
            retention_days: 30,
            extra_fields: vec![ExtraField {
                key: "car_plate".into(),
                label_ja: "車両番号".into(),
                label_en: "Car plate".into(),
                required: false,
            }],
            ..ReceptionSettings::default()
        };
        f.engine.set_reception_settings(&f.owner, "hq", settings).await.unwrap();
        let hq = Desk::pair(f, "hq").await;
        let check_in = |name: &str, email: &str, plate: &str| CheckIn {
            host: Some(serde_json::json!("alice@acme.example")),
            visitor_name: Some(name.into()),
            visitor_company: Some(format!("{name} Corp")),
            visitor_email: Some(email.into()),
            fields: BTreeMap::from([("car_plate".to_owned(), plate.to_owned())]),
            ..CheckIn::default()
        };
        let old = f.engine
            .check_in(&hq, "192.0.2.50", check_in("Oldham Visitor", "oldham@example.org", "品川 300 あ 12-34"), None)
            .await
            .unwrap()
            .visit;
        f.clock.advance(Duration::days(31));
        let new = f.engine
            .check_in(&hq, "192.0.2.50", check_in("Newton Visitor", "newton@example.org", "練馬 500 さ 56-78"), None)
            .await
            .unwrap()
            .visit;
        assert_eq!(f.engine.purge_visitor_data().await.unwrap(), 1, "only the visit older than 30 days");
        assert_eq!(f.engine.purge_visitor_data().await.unwrap(), 0, "and only once");

        let raw = |public_id: String| async move {
            let mut tx = f.engine.db.read().await.unwrap();
            store::visit_by_public_id(&mut tx, f.tenant.id, &public_id).await.unwrap().expect("the visit row stays")
        };
        let old_row = raw(old.public_id.clone()).await;
        assert_eq!(
            (&old_row.visitor_name_sealed, &old_row.visitor_company_sealed, &old_row.visitor_email_sealed, &old_row.fields_sealed),
            (&None, &None, &None, &None),
            "NULL in the table"
        );
        assert!(old_row.purged_at.is_some());
        let new_row = raw(new.public_id.clone()).await;
        assert!(new_row.visitor_name_sealed.is_some() && new_row.visitor_email_sealed.is_some() && new_row.fields_sealed.is_some());
        assert!(new_row.purged_at.is_none());

        // The history keeps the anonymous visit; the newer one is whole.
        let page = desk.history(HistoryQuery::default(), 10).await;
        assert_eq!(names(&page.visits), ["Newton Visitor", ""]);
        assert_eq!(page.visits[1].host_name.as_deref(), Some("Alice Sato"));
        let csv = f.engine.export_visits(&f.owner, &HistoryQuery::default()).await.unwrap();
        assert!(csv.contains("newton@example.org") && csv.contains("練馬"), "{csv}");
        assert!(!csv.contains("Oldham") && !csv.contains("oldham@") && !csv.contains("品川"), "{csv}");

        // A raw look at every table finds neither visitor in clear.
        for needle in ["Oldham", "oldham@example.org", "品川 300", "Newton", "newton@example.org", "練馬 500"] {
            assert_eq!(t.tables_containing(needle).await, Vec::<String>::new(), "{needle}");
        }
    }
}
