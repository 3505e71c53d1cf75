//! The demo tenant of `frontdesk serve --demo`, seeded idempotently.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Days, Utc, Weekday};

use crate::domain::calendar::{Interval, Owner};
use crate::domain::people::{Lang, NotificationPreference, Platform, Role};
use crate::domain::token;
use crate::store::StoreError;
use crate::store::calendar::EventFacts;
use crate::store::employee::{self, EmployeeProfile};
use crate::store::room::{self, Room};
use crate::store::tenant::{self, Tenant};
use crate::{Error, Result};

use super::Engine;
use super::auth::NewAdmin;

/// The demo tenant's slug.
pub const TENANT: &str = "demo";
/// The demo admin's email.
pub const ADMIN_EMAIL: &str = "admin@demo.example";

/// What seeding did.
#[derive(Clone)]
pub struct Seeded {
    pub tenant: Tenant,
    /// The admin's generated password, only on the run that created the admin.
    pub admin_password: Option<String>,
}

impl std::fmt::Debug for Seeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seeded")
            .field("tenant", &self.tenant)
            .field(
                "admin_password",
                &self.admin_password.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// The demo's booking link: Alice's, 30 or 60 minutes on weekdays 09:00–18:00 in Tokyo, at
/// the head office (so the guest gets a reception code).
pub const BOOKING_LINK: &str = "alice";

/// Adds [`BOOKING_LINK`] unless the slug is taken (on this server, by any tenant).
async fn seed_demo_booking_link(tx: &mut crate::store::Tx, tenant_id: i64, now: i64) -> Result<()> {
    use crate::store::booking as store;
    if store::link_by_slug(tx, BOOKING_LINK).await?.is_some() {
        return Ok(());
    }
    let Some(alice) = employee::find_by_email(tx, tenant_id, "alice@demo.example").await? else {
        return Ok(());
    };
    let weekday = serde_json::json!([["09:00", "18:00"]]);
    let rules = serde_json::json!({
        "time_zone": "Asia/Tokyo",
        "durations_minutes": [30, 60],
        "weekly": {"mon": weekday, "tue": weekday, "wed": weekday, "thu": weekday, "fri": weekday},
        "minimum_notice_minutes": 60,
        "window_days": 30,
        "questions": [{"key": "topic", "label_ja": "ご用件", "label_en": "What would you like to discuss?", "required": false}],
        "place": {"kind": "in_person", "location": "hq"}
    });
    let row = store::LinkRow {
        id: 0,
        tenant_id,
        slug: BOOKING_LINK.into(),
        owner_id: alice.id,
        title: "Meet Alice / 佐藤と打ち合わせ".into(),
        kind: "one_on_one".into(),
        rules: rules.to_string(),
        active: true,
        single_use: false,
        used_at: None,
    };
    let id = store::insert_link(tx, &row, now).await?;
    store::set_hosts(tx, tenant_id, id, &[(alice.id, 1)]).await?;
    Ok(())
}

/// The demo's rooms: slug, name, seats, equipment.
const DEMO_ROOMS: [(&str, &str, i64, &str); 2] = [
    ("room-a", "Room A / 会議室A", 6, "display whiteboard"),
    ("room-b", "Room B / 会議室B", 12, "display video"),
];

/// Today's bookings of the demo rooms, around the time the demo starts (so its door
/// displays show each state): room B in use since the last quarter hour (Bob checked in),
/// then a private interview; room A free now, booked by Alice from 20 minutes on, and a
/// weekly sync later. Each uid names the day: seeding again the same day moves them.
impl Engine {
    async fn seed_demo_room_bookings(
        &self,
        tx: &mut crate::store::Tx,
        tenant_id: i64,
    ) -> Result<()> {
        let now = self.ports.clock.now();
        let day = now.with_timezone(&chrono_tz::Asia::Tokyo).date_naive();
        let quarter = now.timestamp() / 900 * 900;
        let soon = (now.timestamp() + 20 * 60) / 300 * 300;
        let bookings: [(&str, i64, i64, &str, &str, bool); 4] = [
            (
                "room-b",
                quarter,
                quarter + 3600,
                "bob@demo.example",
                "Sprint planning / スプリント計画",
                false,
            ),
            (
                "room-b",
                quarter + 3600,
                quarter + 5400,
                "carol@demo.example",
                "Interview / 面接",
                true,
            ),
            (
                "room-a",
                soon,
                soon + 1800,
                "alice@demo.example",
                "Design review / デザインレビュー",
                false,
            ),
            (
                "room-a",
                soon + 7200,
                soon + 10800,
                "alice@demo.example",
                "Weekly sync / 週次定例",
                false,
            ),
        ];
        for (index, (slug, start, end, organizer, title, private)) in
            bookings.into_iter().enumerate()
        {
            let (Some(room), Some(interval)) = (
                room::room_by_slug(tx, tenant_id, slug).await?,
                Interval::new(start, end),
            ) else {
                continue;
            };
            let uid = format!("demo-{slug}-{day}-{index}@frontdesk");
            let facts = EventFacts {
                organizer: Some(organizer),
                private,
                series: None,
                booked_at: None,
            };
            self.put_local_event(
                tx,
                tenant_id,
                Owner::Room(room.id),
                &uid,
                interval,
                title,
                &facts,
            )
            .await?;
            // Bob is in room B already.
            if index == 0 {
                let bob = employee::find_by_email(tx, tenant_id, organizer).await?;
                let meeting = room::NewMeeting {
                    tenant_id,
                    room_id: room.id,
                    uid: &uid,
                    series: None,
                    starts_at: start * 1000,
                    ends_at: end * 1000,
                    organizer_id: bob.as_ref().map(|b| b.id),
                    private,
                    booked_at: None,
                };
                let id = room::ensure_meeting(tx, &meeting, now.timestamp_millis()).await?;
                room::check_in(tx, id, start * 1000, bob.map(|b| b.id)).await?;
            }
        }
        Ok(())
    }
}

/// Alice's busy time in this week and the next (Asia/Tokyo), so her booking link shows real
/// gaps: a stand-up on Monday, Wednesday and Friday mornings, customer calls on Tuesday and
/// Thursday afternoons, a one-on-one on Wednesday. Each block's uid names its day, so
/// seeding again on another day adds the new week's blocks and rewrites the same ones.
fn alice_busy_blocks(now: DateTime<Utc>) -> Vec<(String, Interval, &'static str)> {
    let tokyo = chrono_tz::Asia::Tokyo;
    let today = now.with_timezone(&tokyo).date_naive();
    let monday = today - Days::new(u64::from(today.weekday().num_days_from_monday()));
    let mut blocks = Vec::new();
    for offset in 0..12 {
        let day = monday + Days::new(offset);
        let slots: &[(u32, u32, u32, u32, &str)] = match day.weekday() {
            Weekday::Mon | Weekday::Fri => &[(10, 0, 11, 0, "Team stand-up / 定例ミーティング")],
            Weekday::Wed => &[
                (10, 0, 11, 0, "Team stand-up / 定例ミーティング"),
                (16, 0, 17, 0, "1:1 with Bob / 田中さんと1on1"),
            ],
            Weekday::Tue | Weekday::Thu => &[(14, 0, 15, 30, "Customer call / 顧客との打ち合わせ")],
            Weekday::Sat | Weekday::Sun => &[],
        };
        for (index, &(h1, m1, h2, m2, title)) in slots.iter().enumerate() {
            let at = |h, m| {
                day.and_hms_opt(h, m, 0)
                    .and_then(|t| t.and_local_timezone(tokyo).single())
                    .map(|t| t.timestamp())
            };
            if let (Some(start), Some(end)) = (at(h1, m1), at(h2, m2))
                && let Some(interval) = Interval::new(start, end)
            {
                blocks.push((
                    format!("demo-alice-{day}-{index}@frontdesk"),
                    interval,
                    title,
                ));
            }
        }
    }
    blocks
}

fn demo_employees() -> Vec<EmployeeProfile> {
    let person = |email: &str, name: &str, kana: &str, department: &str, lang| EmployeeProfile {
        email: email.into(),
        name: name.into(),
        name_kana: kana.into(),
        department: department.into(),
        time_zone: "Asia/Tokyo".into(),
        language: lang,
        notification: NotificationPreference::Chat,
        chat_identities: BTreeMap::from([(Platform::Web, email.into())]),
    };
    vec![
        person(
            "alice@demo.example",
            "Alice Sato",
            "さとう ありす",
            "Sales / 営業部",
            Lang::Ja,
        ),
        person(
            "bob@demo.example",
            "Bob Tanaka",
            "たなか ぼぶ",
            "Engineering / 開発部",
            Lang::En,
        ),
        person(
            "carol@demo.example",
            "Carol Suzuki",
            "すずき きゃろる",
            "Administration / 総務部",
            Lang::Ja,
        ),
    ]
}

/// A password that passes the policy: random, with every character class.
fn generated_password() -> String {
    format!("Fd-{}7a", token::generate())
}

/// The reception code of the demo's expected visitor (Taro Yamada of Example Corp, for
/// Alice, today at `hq`).
pub const VISITOR_CODE: &str = "246810";

impl Engine {
    /// Seeds the demo tenant; running it again changes nothing.
    ///
    /// Instances started together on one database race to insert the same rows; the loser
    /// of a race meets a unique-key conflict and seeds again, finding the winner's rows
    /// (so only the winner makes and prints an admin password).
    pub async fn seed_demo(&self) -> Result<Seeded> {
        let mut attempt = 1;
        loop {
            match self.seed_demo_once().await {
                Err(Error::Store(StoreError::Duplicate) | Error::Conflict(_)) if attempt < 5 => {
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn seed_demo_once(&self) -> Result<Seeded> {
        let tenant = self
            .ensure_tenant(TENANT, "Demo Inc. / デモ株式会社")
            .await?;
        let now = self.ports.clock.now_ms();
        let mut tx = self.db.write().await?;
        if tenant::find_location_by_slug(&mut tx, tenant.id, "hq")
            .await?
            .is_none()
        {
            tenant::insert_location(
                &mut tx,
                tenant.id,
                "hq",
                "Head office / 本社",
                "Asia/Tokyo",
                now,
            )
            .await?;
        }
        for profile in demo_employees() {
            if employee::find_by_email(&mut tx, tenant.id, &profile.email)
                .await?
                .is_none()
            {
                employee::insert(&mut tx, tenant.id, &profile, now).await?;
            }
        }
        let hq = tenant::find_location_by_slug(&mut tx, tenant.id, "hq").await?;
        for (slug, name, capacity, equipment) in DEMO_ROOMS {
            if room::room_by_slug(&mut tx, tenant.id, slug)
                .await?
                .is_none()
            {
                let room = Room {
                    id: 0,
                    slug: slug.into(),
                    name: name.into(),
                    capacity,
                    time_zone: "Asia/Tokyo".into(),
                    equipment: equipment.into(),
                    floor: Some(3),
                    location_id: hq.as_ref().map(|l| l.id),
                    release_policy: "{}".into(),
                };
                room::insert_room(&mut tx, tenant.id, &room, now).await?;
            }
        }
        self.seed_demo_room_bookings(&mut tx, tenant.id).await?;
        if let Some(alice) =
            employee::find_by_email(&mut tx, tenant.id, "alice@demo.example").await?
        {
            for (uid, interval, title) in alice_busy_blocks(self.ports.clock.now()) {
                self.put_local_event(
                    &mut tx,
                    tenant.id,
                    Owner::Employee(alice.id),
                    &uid,
                    interval,
                    title,
                    &EventFacts::default(),
                )
                .await?;
            }
        }
        self.seed_demo_reception(&mut tx, tenant.id).await?;
        seed_demo_booking_link(&mut tx, tenant.id, now).await?;
        let admin_exists = crate::store::account::find_by_email(&mut tx, tenant.id, ADMIN_EMAIL)
            .await?
            .is_some();
        tx.commit().await?;
        let admin_password = if admin_exists {
            None
        } else {
            let password = generated_password();
            let admin = NewAdmin {
                email: ADMIN_EMAIL.into(),
                password: password.clone(),
                role: Role::Owner,
                can_export: true,
                language: Lang::Ja,
            };
            self.create_account(tenant.id, None, &admin).await?;
            Some(password)
        };
        Ok(Seeded {
            tenant,
            admin_password,
        })
    }

    /// The demo's reception at `hq`: deliveries, interviews and other visitors go to
    /// Carol, who is also told when a host does not answer within a minute; badges are
    /// offered; and today's expected visitor, Taro Yamada for Alice, with code 246810.
    async fn seed_demo_reception(&self, tx: &mut crate::store::Tx, tenant_id: i64) -> Result<()> {
        use crate::domain::visit::{Bilingual, Category, Contact, ReceptionSettings};
        use crate::store::reception as store;
        let Some(hq) = tenant::find_location_by_slug(tx, tenant_id, "hq").await? else {
            return Ok(());
        };
        let stored = store::settings(tx, tenant_id, hq.id).await?;
        if stored.as_deref() == Some("{}") {
            let carol = || Contact::Employee("carol@demo.example".into());
            let settings = ReceptionSettings {
                fallback: Some(carol()),
                answer_timeout_seconds: 60,
                categories: Category::ALL.into_iter().map(|c| (c, carol())).collect(),
                badge_printing: true,
                offline_message: Bilingual {
                    ja: "恐れ入りますが、内線 100 で受付にお電話ください。".into(),
                    en: "Sorry for the wait: please call reception on extension 100.".into(),
                },
                ..ReceptionSettings::default()
            };
            let json = serde_json::to_string(&settings)
                .map_err(|err| Error::internal("writing the demo's reception settings", err))?;
            store::set_settings(tx, tenant_id, hq.id, &json).await?;
        }
        let Some(alice) = employee::find_by_email(tx, tenant_id, "alice@demo.example").await?
        else {
            return Ok(());
        };
        let now = self.ports.clock.now_ms();
        let zone = super::reception::zone_of(&hq.time_zone);
        let day = super::reception::local_time(zone, now).date_naive();
        let source_ref = format!("demo:yamada:{day}");
        if !store::expected_by_source_prefix(tx, tenant_id, &source_ref)
            .await?
            .is_empty()
        {
            return Ok(());
        }
        let (day_start, _) = super::reception::day_span(zone, day);
        let new = super::expected_visit::NewExpectedVisit {
            location_id: hq.id,
            host_employee_id: alice.id,
            visitor_name: "Taro Yamada / 山田 太郎".into(),
            visitor_company: "Example Corp / 株式会社エグザンプル".into(),
            visitor_email: None,
            day,
            starts_at: Some(day_start + 14 * 3_600_000),
            purpose: Some("Product demo / 製品デモ".into()),
            source: super::expected_visit::Source::Admin,
            source_ref: Some(source_ref),
            code: Some(VISITOR_CODE.into()),
        };
        self.register_expected_visit(tx, tenant_id, &new).await?;
        Ok(())
    }
}
