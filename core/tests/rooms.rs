//! Meeting rooms with a controlled clock: a booking nobody checks in to is released exactly
//! at the end of its grace period (its event shortened, the organizer told) and not before;
//! a check-in keeps it; long meetings, chosen organizers, late bookings and switched-off
//! rooms are spared; a series missed three times loses the room; occupants are nudged once
//! before the end and once when the next meeting's visitor arrives; two instances sweeping
//! together release once; the door (check in, book now, extend, check out), chat search and
//! utilisation.
//!
//! The clock starts on Wednesday 2026-11-25 at 09:00 in Tokyo (00:00 UTC).

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{Duration, NaiveDate, TimeZone};
use common::{Fixture, person};
use frontdesk_core::Error;
use frontdesk_core::domain::calendar::{Interval, Owner, Provider, merge};
use frontdesk_core::domain::chat::{Action, Block, Message};
use frontdesk_core::domain::people::{Lang, Platform};
use frontdesk_core::domain::room::{RoomState, RoomWanted};
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::conversation::{ChatUser, Input};
use frontdesk_core::engine::reception::{CheckIn, Kiosk};
use frontdesk_core::engine::room::{ReleaseSettings, RoomAccess, RoomCaller, RoomSettings};
use frontdesk_core::engine::scheduler::{Scheduler, standard_jobs};
use frontdesk_core::engine::tenant::LocationInput;
use frontdesk_core::port::{
    AuthorizationRequest, Authorized, BusyEvent, Calendar, CalendarError, CalendarRef, Calendars,
    Changes, ChatBots, Clock, EventDetails, EventDraft, Ports, ProviderEvent, Recipient,
    SyncWindow, TokenStore, Watch, WatchRequest,
};
use frontdesk_core::storage_tests;
use frontdesk_core::testing::{RecordingBot, TestDb};

/// A room calendar at "Google": its events as the provider holds them, and what Frontdesk
/// asked it to change.
#[derive(Debug, Default)]
struct RoomCalendar {
    events: Mutex<Vec<BusyEvent>>,
    ends: Mutex<Vec<(String, i64)>>,
    series_left: Mutex<Vec<String>>,
}

#[async_trait]
impl Calendar for RoomCalendar {
    fn provider(&self) -> Provider {
        Provider::Google
    }

    async fn changes(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        _: Option<&str>,
        _: SyncWindow,
    ) -> Result<Changes, CalendarError> {
        Ok(Changes {
            full: true,
            busy: self.events.lock().unwrap().clone(),
            removed: vec![],
            cursor: None,
        })
    }

    async fn free_busy(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        from: i64,
        to: i64,
    ) -> Result<Vec<Interval>, CalendarError> {
        let events = self.events.lock().unwrap();
        Ok(merge(
            events
                .iter()
                .filter_map(|e| e.interval.clip(from, to))
                .collect(),
        ))
    }

    async fn create_event(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        _: &EventDraft,
    ) -> Result<ProviderEvent, CalendarError> {
        Err(CalendarError::Provider("not in this test".into()))
    }

    async fn update_event(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        _: &str,
        _: &EventDraft,
    ) -> Result<ProviderEvent, CalendarError> {
        Err(CalendarError::Provider("not in this test".into()))
    }

    async fn cancel_event(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        _: &str,
    ) -> Result<(), CalendarError> {
        Err(CalendarError::Provider("not in this test".into()))
    }

    async fn set_event_end(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        id: &str,
        end: i64,
    ) -> Result<(), CalendarError> {
        self.ends.lock().unwrap().push((id.to_owned(), end));
        for event in self.events.lock().unwrap().iter_mut() {
            if event.uid == id {
                event.interval.end = end;
            }
        }
        Ok(())
    }

    async fn leave_series(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        series: &str,
    ) -> Result<(), CalendarError> {
        self.series_left.lock().unwrap().push(series.to_owned());
        self.events
            .lock()
            .unwrap()
            .retain(|e| e.details.series.as_deref() != Some(series));
        Ok(())
    }

    async fn watch(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        _: &WatchRequest,
    ) -> Result<Option<Watch>, CalendarError> {
        Ok(None)
    }

    async fn renew_watch(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        _: &Watch,
        _: &WatchRequest,
    ) -> Result<Watch, CalendarError> {
        Err(CalendarError::Provider("not in this test".into()))
    }

    async fn stop_watch(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        _: &Watch,
    ) -> Result<(), CalendarError> {
        Ok(())
    }

    fn authorization_url(&self, _: &AuthorizationRequest) -> Option<String> {
        None
    }

    async fn exchange_code(&self, _: &str, _: &str, _: &str) -> Result<Authorized, CalendarError> {
        Err(CalendarError::Provider("not in this test".into()))
    }
}

/// Slack, the location `hq` with a paired kiosk, Alice (U1, English), Bob (U2, Japanese),
/// Carol (U3, English), all in Tokyo; room `room-a` (6 seats, display, built-in calendar)
/// with a paired door display, room `room-b` (12 seats, video, its calendar at "Google").
struct Office {
    f: Fixture,
    engine: Engine,
    bot: Arc<RecordingBot>,
    google: Arc<RoomCalendar>,
    kiosk: Kiosk,
    door: RoomAccess,
    room_a: i64,
}

fn room(name: &str, capacity: i64, equipment: &[&str]) -> RoomSettings {
    RoomSettings {
        name: name.into(),
        capacity,
        time_zone: "Asia/Tokyo".into(),
        equipment: equipment.iter().map(|e| e.to_string()).collect(),
        floor: Some(3),
        location: Some("hq".into()),
        release: ReleaseSettings::default(),
    }
}

impl Office {
    async fn new(t: &TestDb) -> Office {
        let f = Fixture::new(t).await;
        Office::on(f, Arc::new(RoomCalendar::default())).await
    }

    async fn on(f: Fixture, google: Arc<RoomCalendar>) -> Office {
        let bot = Arc::new(RecordingBot::new(Platform::Slack));
        let ports = Ports {
            chat: ChatBots::default().with(bot.clone()),
            calendars: Calendars::default().with(google.clone()),
            ..f.engine.ports.clone()
        };
        let engine = Engine::new(f.engine.db.clone(), ports, common::settings());
        let location = LocationInput {
            slug: "hq".into(),
            name: "本社".into(),
            time_zone: "Asia/Tokyo".into(),
        };
        engine.create_location(&f.owner, location).await.unwrap();
        for (email, name, slack, lang) in [
            ("alice@acme.example", "Alice Sato", "U1", Lang::En),
            ("bob@acme.example", "Bob Tanaka", "U2", Lang::Ja),
            ("carol@acme.example", "Carol Suzuki", "U3", Lang::En),
        ] {
            let mut input = person(email, name);
            input.language = lang;
            input.chat_identities = BTreeMap::from([(Platform::Slack, slack.to_owned())]);
            engine.create_employee(&f.owner, input).await.unwrap();
        }
        let room_a = engine
            .add_room(&f.owner, "room-a", &room("Room A", 6, &["display"]))
            .await
            .unwrap();
        let room_b = engine
            .add_room(
                &f.owner,
                "room-b",
                &room("Room B", 12, &["video", "display"]),
            )
            .await
            .unwrap();
        engine
            .connect_with_app_credentials(
                &f.owner,
                Owner::Room(room_b.id),
                Provider::Google,
                "room-b@resource.calendar.google.com",
            )
            .await
            .unwrap();
        let (_, code) = engine
            .add_door_display(&f.owner, "room-a", "Door A")
            .await
            .unwrap();
        let (door, _) = engine.pair_door_display("room-a", &code).await.unwrap();
        let (_, code) = engine.add_kiosk(&f.owner, "hq", "Lobby").await.unwrap();
        let (kiosk, _) = engine.pair_kiosk("hq", &code).await.unwrap();
        Office {
            engine,
            bot,
            google,
            kiosk,
            door,
            room_a: room_a.id,
            f,
        }
    }

    fn user(&self, slack: &str) -> ChatUser {
        ChatUser {
            tenant_id: self.f.tenant.id,
            platform: Platform::Slack,
            user_id: slack.into(),
            locale: None,
        }
    }

    async fn say(&self, slack: &str, text: &str) -> Message {
        self.engine
            .converse(&self.user(slack), &Input::Text(text.into()))
            .await
            .unwrap()
    }

    async fn press(&self, slack: &str, action: Action) -> Message {
        self.engine
            .converse(&self.user(slack), &Input::Pressed(action.id()))
            .await
            .unwrap()
    }

    /// `slack` books room A from `from` to `to` today (Tokyo) through the chat's button.
    async fn book_a(&self, slack: &str, from: &str, to: &str) {
        let (start, end) = (tokyo(from), tokyo(to));
        let booked = self
            .press(
                slack,
                Action::BookRoom {
                    room: self.room_a,
                    start,
                    minutes: (end - start) / 60,
                },
            )
            .await;
        assert!(
            text_of(&booked).contains("Booked Room A") || text_of(&booked).contains("予約しました"),
            "{booked:?}"
        );
    }

    /// Sets the clock to `HH:MM[:SS]` today in Tokyo.
    fn at(&self, time: &str) {
        let target = chrono::Utc.timestamp_opt(tokyo(time), 0).unwrap();
        let now = self.f.clock.now();
        self.f.clock.advance(target - now);
    }

    async fn employee(&self, email: &str) -> frontdesk_core::store::employee::Employee {
        let page = self
            .engine
            .employees(&self.f.owner, Some(email), 10, 0)
            .await
            .unwrap();
        page.employees
            .into_iter()
            .find(|e| e.profile.email == email)
            .unwrap()
    }

    async fn sweep(&self) -> frontdesk_core::engine::room::RoomSweep {
        self.engine.sweep_rooms().await.unwrap()
    }

    async fn state_of_a(&self) -> frontdesk_core::engine::room::RoomStatus {
        self.engine.room_status(&self.door).await.unwrap()
    }

    /// The chat messages sent to `slack` so far (after delivering what is queued).
    async fn told(&self, slack: &str) -> Vec<Message> {
        self.engine.dispatch_due().await.unwrap();
        self.bot
            .sent()
            .into_iter()
            .filter(|(to, _)| *to == Recipient::User(slack.into()))
            .map(|(_, m)| m)
            .collect()
    }

    /// The action of the first button `wanted` picks in the last message sent to `slack`.
    async fn button(&self, slack: &str, wanted: impl Fn(&Action) -> bool) -> Action {
        let last = self.told(slack).await.pop().expect("a message");
        last.all_buttons()
            .map(|b| b.action)
            .find(|action| wanted(action))
            .expect("the button")
    }

    /// Room A's built-in event of `uid`… or rather its only event's end (epoch seconds).
    async fn a_event_ends(&self) -> Vec<i64> {
        let from = tokyo("00:00");
        self.engine
            .calendar_events(&self.f.owner, Owner::Room(self.room_a), from, from + 86_400)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.interval.end)
            .collect()
    }
}

/// The instant (epoch seconds) of `HH:MM[:SS]` on 2026-11-25 in Tokyo.
fn tokyo(time: &str) -> i64 {
    on_day("2026-11-25", time)
}

fn on_day(day: &str, time: &str) -> i64 {
    let zone: chrono_tz::Tz = "Asia/Tokyo".parse().unwrap();
    let day: NaiveDate = day.parse().unwrap();
    let time = chrono::NaiveTime::parse_from_str(time, "%H:%M:%S")
        .or_else(|_| chrono::NaiveTime::parse_from_str(time, "%H:%M"))
        .unwrap();
    zone.from_local_datetime(&day.and_time(time))
        .single()
        .unwrap()
        .timestamp()
}

fn text_of(message: &Message) -> String {
    message
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text { text } => Some(text.clone()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn all_text(messages: &[Message]) -> String {
    messages
        .iter()
        .map(text_of)
        .collect::<Vec<_>>()
        .join("\n---\n")
}

/// A room B meeting at "Google" organized by `organizer`.
fn google_event(
    uid: &str,
    start: i64,
    end: i64,
    organizer: &str,
    series: Option<&str>,
) -> BusyEvent {
    BusyEvent {
        uid: uid.into(),
        interval: Interval::new(start, end).unwrap(),
        details: EventDetails {
            title: Some("Planning".into()),
            organizer: Some(organizer.into()),
            attendees: vec![],
            series: series.map(str::to_owned),
            private: false,
        },
    }
}

storage_tests! {
    async fn a_revoked_door_display_wakes_the_room_streams_and_is_refused_from_then(t: &TestDb) {
        let o = Office::new(t).await;
        assert!(o.engine.room_access_holds(&o.door).await.unwrap());
        let mut streams = o.engine.watch_rooms();
        streams.mark_unchanged();
        let RoomCaller::Door { device_id } = o.door.caller else { panic!("a door display") };
        o.engine.revoke_door_display(&o.f.owner, device_id).await.unwrap();
        assert!(streams.has_changed().unwrap(), "open streams are woken at once");
        assert!(!o.engine.room_access_holds(&o.door).await.unwrap(), "and find it revoked");
    }

    async fn a_no_show_is_released_exactly_at_the_end_of_the_grace_period_and_its_event_shortened(t: &TestDb) {
        let o = Office::new(t).await;
        o.book_a("U1", "09:30", "10:30").await;
        o.at("09:29:59");
        assert_eq!(o.sweep().await.recorded, 0, "not begun");
        o.at("09:30");
        let sweep = o.sweep().await;
        assert_eq!((sweep.recorded, sweep.reminded, sweep.released), (1, 1, 0));
        let reminder = o.told("U1").await;
        let reminder = reminder.last().unwrap();
        assert!(text_of(reminder).contains("Check in by 09:40"), "{reminder:?}");
        assert!(reminder.all_buttons().any(|b| matches!(b.action, Action::CheckInRoom { .. })));
        let status = o.state_of_a().await;
        assert_eq!(status.state, RoomState::Booked);
        assert_eq!(status.current.as_ref().unwrap().release_at, Some(tokyo("09:40")));

        o.at("09:39:59");
        assert_eq!(o.sweep().await.released, 0, "still in its grace period");
        assert_eq!(o.state_of_a().await.state, RoomState::Booked);
        o.at("09:40");
        assert_eq!(o.sweep().await.released, 1);
        assert_eq!(o.state_of_a().await.state, RoomState::Free);
        // History stays true: the event is there, ending when the room was given back.
        assert_eq!(o.a_event_ends().await, vec![tokyo("09:40")]);
        let told = all_text(&o.told("U1").await);
        assert!(told.contains("so the room was released at 09:40"), "{told}");
        // A later sweep releases nothing more; the room can be booked from the door.
        o.at("09:41");
        assert_eq!(o.sweep().await.released, 0);
        let booked = o.engine.book_room_now(&o.door, 15).await.unwrap();
        assert_eq!(booked.state, RoomState::InUse);
        assert_eq!(
            t.count("SELECT COUNT(*) FROM access_log WHERE action = 'room.book'").await,
            2
        );
    }

    async fn one_sweep_releases_many_meetings_and_tells_each_organizer_once_per_meeting(t: &TestDb) {
        let o = Office::new(t).await;
        // Alice holds room A and room C, Bob (in Japanese) room D, Carol room E; Carol
        // checks in. One sweep releases the other three together.
        let mut rooms = BTreeMap::new();
        for (slug, name) in [("room-c", "Room C"), ("room-d", "Room D"), ("room-e", "Room E")] {
            let added = o.engine.add_room(&o.f.owner, slug, &room(name, 4, &[])).await.unwrap();
            rooms.insert(slug, added.id);
        }
        o.book_a("U1", "09:30", "10:30").await;
        for (slack, slug) in [("U1", "room-c"), ("U2", "room-d"), ("U3", "room-e")] {
            let book = Action::BookRoom { room: rooms[slug], start: tokyo("09:30"), minutes: 60 };
            o.press(slack, book).await;
        }
        o.at("09:30");
        assert_eq!(o.sweep().await.reminded, 4);
        let check_in = o.button("U3", |a| matches!(a, Action::CheckInRoom { .. })).await;
        o.press("U3", check_in).await;

        o.at("09:40");
        assert_eq!(o.sweep().await.released, 3);
        let alice = all_text(&o.told("U1").await);
        assert_eq!(alice.matches("so the room was released at 09:40").count(), 2, "{alice}");
        assert!(alice.contains("meeting in Room A") && alice.contains("meeting in Room C"), "{alice}");
        let bob = all_text(&o.told("U2").await);
        assert_eq!(bob.matches("Room D の 09:30 からの会議にチェックインがなかったため、09:40 に会議室を解放しました").count(), 1, "{bob}");
        assert!(!all_text(&o.told("U3").await).contains("so the room was released"), "Carol checked in");
        // Each released meeting's reminder lost its Check-in button, in place.
        let updated: Vec<Message> = o.bot.updated().into_iter().map(|(_, m)| m).collect();
        let released_reminders: Vec<&Message> = updated
            .iter()
            .filter(|m| m.all_buttons().all(|b| !matches!(b.action, Action::CheckInRoom { .. })))
            .filter(|m| text_of(m).contains("09:40"))
            .collect();
        assert_eq!(released_reminders.len(), 3, "{updated:?}");
        // The rooms' events end at the release; Carol's does not.
        assert_eq!(o.a_event_ends().await, vec![tokyo("09:40")]);
        for (slug, end) in [("room-c", "09:40"), ("room-d", "09:40"), ("room-e", "10:30")] {
            let from = tokyo("00:00");
            let events = o
                .engine
                .calendar_events(&o.f.owner, Owner::Room(rooms[slug]), from, from + 86_400)
                .await
                .unwrap();
            let ends: Vec<i64> = events.into_iter().map(|e| e.interval.end).collect();
            assert_eq!(ends, vec![tokyo(end)], "{slug}");
        }
        o.at("09:41");
        assert_eq!(o.sweep().await.released, 0);
        let alice = all_text(&o.told("U1").await);
        assert_eq!(alice.matches("so the room was released").count(), 2, "told once each");
    }

    async fn a_meeting_first_seen_after_its_grace_period_gets_no_reminder_only_the_release(t: &TestDb) {
        let o = Office::new(t).await;
        o.book_a("U1", "09:30", "10:30").await;
        // The server was down from before 09:30 until 09:45.
        o.at("09:45");
        let sweep = o.sweep().await;
        assert_eq!((sweep.recorded, sweep.reminded, sweep.released), (1, 0, 1));
        let told = all_text(&o.told("U1").await);
        assert!(!told.contains("Check in by"), "{told}");
        assert!(told.contains("so the room was released at 09:40"), "{told}");
    }

    async fn a_check_in_in_time_keeps_the_booking(t: &TestDb) {
        let o = Office::new(t).await;
        o.book_a("U1", "09:30", "10:30").await;
        o.book_a("U2", "11:00", "11:30").await;
        o.at("09:30");
        o.sweep().await;
        let check_in = o.button("U1", |a| matches!(a, Action::CheckInRoom { .. })).await;
        // Only the organizer may press it.
        assert!(text_of(&o.press("U2", check_in).await).contains("主催者"));
        o.at("09:39");
        let answer = o.press("U1", check_in).await;
        assert!(text_of(&answer).contains("Checked in to Room A"), "{answer:?}");
        o.at("09:45");
        assert_eq!(o.sweep().await.released, 0);
        let status = o.state_of_a().await;
        assert_eq!(status.state, RoomState::InUse);
        assert!(status.current.unwrap().checked_in);
        assert_eq!(o.a_event_ends().await, vec![tokyo("10:30"), tokyo("11:30")]);
        // At the door: the next meeting is checked in to when it is about to start.
        o.at("10:55");
        let early = o.engine.check_in_room(&o.door).await.unwrap();
        assert_eq!(early.state, RoomState::Free, "free until Bob's meeting starts");
        assert!(early.next[0].checked_in);
    }

    async fn long_meetings_chosen_people_late_bookings_and_switched_off_rooms_are_spared(t: &TestDb) {
        let o = Office::new(t).await;
        // A workshop of 8 hours is never released.
        o.book_a("U1", "09:30", "17:30").await;
        o.at("09:30");
        o.sweep().await;
        o.at("09:50");
        assert_eq!(o.sweep().await.released, 0);
        assert_eq!(o.state_of_a().await.state, RoomState::Booked);
        o.engine.check_out_room(&o.door).await.unwrap();

        // Bob is exempt in room A.
        let mut settings = room("Room A", 6, &["display"]);
        settings.release.exempt = vec!["bob@acme.example".into()];
        o.engine.update_room(&o.f.owner, "room-a", &settings).await.unwrap();
        o.at("10:00");
        o.book_a("U2", "10:00", "10:30").await;
        o.sweep().await;
        o.at("10:20");
        assert_eq!(o.sweep().await.released, 0, "Bob's meetings are kept");
        o.engine.check_out_room(&o.door).await.unwrap();

        // Booked five minutes late: ten minutes of grace from then.
        o.at("10:35");
        o.book_a("U1", "10:30", "11:30").await;
        o.sweep().await;
        o.at("10:44:59");
        assert_eq!(o.sweep().await.released, 0);
        o.at("10:45");
        assert_eq!(o.sweep().await.released, 1);
        assert!(o.a_event_ends().await.contains(&tokyo("10:45")));

        // A room with release switched off keeps everything.
        let mut off = room("Room A", 6, &["display"]);
        off.release.enabled = false;
        o.engine.update_room(&o.f.owner, "room-a", &off).await.unwrap();
        o.at("12:00");
        o.book_a("U1", "12:00", "13:00").await;
        o.sweep().await;
        o.at("12:30");
        assert_eq!(o.sweep().await.released, 0);
        assert_eq!(o.state_of_a().await.state, RoomState::Booked);
        // Bad settings are refused by name.
        let mut bad = room("Room A", 6, &["display"]);
        bad.release.grace_minutes = 0;
        assert!(matches!(
            o.engine.update_room(&o.f.owner, "room-a", &bad).await,
            Err(Error::Invalid { ref field, .. }) if field == "release.grace_minutes"
        ));
        bad = room("Room A", 6, &["Big Screen"]);
        assert!(matches!(
            o.engine.update_room(&o.f.owner, "room-a", &bad).await,
            Err(Error::Invalid { ref field, .. }) if field == "equipment"
        ));
    }

    async fn a_series_missed_three_times_in_a_row_loses_the_room_and_the_organizer_is_told(t: &TestDb) {
        let o = Office::new(t).await;
        let days = ["2026-11-25", "2026-11-26", "2026-11-27", "2026-11-28"];
        *o.google.events.lock().unwrap() = days
            .iter()
            .enumerate()
            .map(|(i, day)| {
                google_event(&format!("weekly_{i}"), on_day(day, "10:00"), on_day(day, "11:00"), "Alice@Acme.example", Some("weekly"))
            })
            .collect();
        for (i, day) in days.iter().take(3).enumerate() {
            let start = on_day(day, "10:00");
            o.f.clock.advance(chrono::Utc.timestamp_opt(start, 0).unwrap() - o.f.clock.now());
            o.engine.sync_due_calendars().await.unwrap();
            let sweep = o.sweep().await;
            assert_eq!((sweep.recorded, sweep.reminded), (1, 1), "day {i}");
            o.f.clock.advance(Duration::minutes(10));
            let sweep = o.sweep().await;
            assert_eq!(sweep.released, 1, "day {i}");
            assert_eq!(sweep.series_left, usize::from(i == 2), "day {i}");
            o.engine.dispatch_due().await.unwrap();
            assert_eq!(
                o.google.ends.lock().unwrap().last(),
                Some(&(format!("weekly_{i}"), start + 600)),
                "the room's event at the provider ends when it was released"
            );
        }
        assert_eq!(*o.google.series_left.lock().unwrap(), vec!["weekly".to_string()]);
        let told = all_text(&o.told("U1").await);
        assert!(told.contains("the room was removed from the series"), "{told}");
        // The fourth occurrence no longer holds room B.
        let friday = on_day(days[3], "10:00");
        o.f.clock.advance(chrono::Utc.timestamp_opt(friday, 0).unwrap() - o.f.clock.now());
        o.engine.sync_due_calendars().await.unwrap();
        assert_eq!(o.sweep().await.recorded, 0);
        let free = o.engine.find_rooms(o.f.tenant.id, &Default::default(), Interval::new(friday, friday + 1800).unwrap()).await.unwrap();
        assert!(free.iter().any(|r| r.room.slug == "room-b"), "{free:?}");
    }

    async fn a_released_room_stays_free_when_its_calendar_is_read_again_before_the_provider_changed_it(t: &TestDb) {
        let o = Office::new(t).await;
        *o.google.events.lock().unwrap() = vec![google_event("planning", tokyo("10:00"), tokyo("11:00"), "alice@acme.example", None)];
        o.at("10:00");
        o.engine.sync_due_calendars().await.unwrap();
        o.sweep().await;
        let twelve = RoomWanted { seats: Some(12), ..Default::default() };
        let find = |from: &str| {
            let span = Interval::new(tokyo(from), tokyo(from) + 1800).unwrap();
            let engine = o.engine.clone();
            let (tenant, twelve) = (o.f.tenant.id, twelve.clone());
            async move { engine.find_rooms(tenant, &twelve, span).await.unwrap() }
        };
        assert!(find("10:05").await.is_empty(), "room B is booked");
        o.at("10:10");
        assert_eq!(o.sweep().await.released, 1);
        // The provider has not taken the new end yet: the next read brings the old one back,
        // and the copy keeps the release.
        o.at("10:15");
        assert_eq!(o.engine.sync_due_calendars().await.unwrap(), 1);
        let cached_end = "SELECT MAX(ends_at) FROM calendar_events WHERE uid = 'planning'";
        assert_eq!(t.count(cached_end).await, tokyo("10:10") * 1000);
        let room_b = find("10:20").await;
        assert_eq!(room_b.iter().map(|r| r.room.slug.as_str()).collect::<Vec<_>>(), ["room-b"], "released at 10:10");
        assert!(find("10:05").await.is_empty(), "before its release it was taken");
    }

    async fn a_checked_in_series_keeps_the_room(t: &TestDb) {
        let o = Office::new(t).await;
        let days = ["2026-11-25", "2026-11-26", "2026-11-27"];
        *o.google.events.lock().unwrap() = days
            .iter()
            .enumerate()
            .map(|(i, day)| google_event(&format!("s_{i}"), on_day(day, "10:00"), on_day(day, "11:00"), "alice@acme.example", Some("s")))
            .collect();
        let b = o.engine.room_access("room-b", None, None).await;
        assert!(matches!(b, Err(Error::RoomSignInNeeded)), "no door, no session, no demo: {b:?}");
        for (i, day) in days.iter().enumerate() {
            let start = on_day(day, "10:00");
            o.f.clock.advance(chrono::Utc.timestamp_opt(start, 0).unwrap() - o.f.clock.now());
            o.engine.sync_due_calendars().await.unwrap();
            o.sweep().await;
            if i == 1 {
                // Today's reminder (the dispatcher sends a batch concurrently: not by order).
                let action = o
                    .told("U1")
                    .await
                    .iter()
                    .flat_map(|m| m.all_buttons().map(|b| b.action).collect::<Vec<_>>())
                    .filter(|a| matches!(a, Action::CheckInRoom { .. }))
                    .max_by_key(|a| match a {
                        Action::CheckInRoom { meeting } => *meeting,
                        _ => 0,
                    })
                    .unwrap();
                assert!(text_of(&o.press("U1", action).await).contains("Checked in"));
            }
            o.f.clock.advance(Duration::minutes(10));
            let sweep = o.sweep().await;
            assert_eq!(sweep.released, usize::from(i != 1));
            assert_eq!(sweep.series_left, 0);
        }
        assert!(o.google.series_left.lock().unwrap().is_empty());
    }

    async fn occupants_are_nudged_once_five_minutes_before_the_end_when_the_room_is_booked_next(t: &TestDb) {
        let o = Office::new(t).await;
        o.book_a("U1", "09:30", "10:00").await;
        o.book_a("U2", "10:00", "10:30").await;
        o.book_a("U2", "11:00", "11:30").await;
        o.at("09:30");
        o.sweep().await;
        o.engine.check_in_room(&o.door).await.unwrap();
        o.at("09:54:59");
        assert_eq!(o.sweep().await.nudged, 0);
        o.at("09:55");
        assert_eq!(o.sweep().await.nudged, 1);
        o.at("09:56");
        assert_eq!(o.sweep().await.nudged, 0, "once");
        let told = all_text(&o.told("U1").await);
        assert_eq!(told.matches("ends at 10:00, and the room is booked right after").count(), 1, "{told}");
        // Bob's 10:00 meeting has a gap after it: no nudge.
        o.at("10:00");
        o.sweep().await;
        o.engine.check_in_room(&o.door).await.unwrap();
        o.at("10:26");
        assert_eq!(o.sweep().await.nudged, 0);
        assert!(!all_text(&o.told("U2").await).contains("時間どおり"));
    }

    async fn one_sweep_nudges_the_occupants_of_every_room_booked_next_each_in_their_language(t: &TestDb) {
        let o = Office::new(t).await;
        o.book_a("U1", "09:30", "10:00").await;
        o.book_a("U3", "10:00", "10:30").await;
        *o.google.events.lock().unwrap() = vec![
            google_event("standup", tokyo("09:30"), tokyo("10:00"), "bob@acme.example", None),
            google_event("review", tokyo("10:00"), tokyo("11:00"), "carol@acme.example", None),
        ];
        o.at("09:30");
        o.engine.sync_due_calendars().await.unwrap();
        assert_eq!(o.sweep().await.reminded, 2);
        o.engine.check_in_room(&o.door).await.unwrap();
        let check_in_b = o.button("U2", |a| matches!(a, Action::CheckInRoom { .. })).await;
        o.press("U2", check_in_b).await;
        o.at("09:55");
        assert_eq!(o.sweep().await.nudged, 2, "both rooms, in one sweep");
        assert_eq!(o.sweep().await.nudged, 0, "once");
        let alice = all_text(&o.told("U1").await);
        assert_eq!(alice.matches("Your meeting in Room A ends at 10:00, and the room is booked right after").count(), 1, "{alice}");
        let bob = all_text(&o.told("U2").await);
        assert_eq!(bob.matches("Room B の会議は 10:00 に終了予定で、すぐ後に次の予約があります").count(), 1, "{bob}");
        assert!(!all_text(&o.told("U3").await).contains("wrap up"), "Carol's meeting is the next one");
    }

    async fn the_occupants_hear_when_the_next_meetings_visitor_arrives_at_reception(t: &TestDb) {
        let o = Office::new(t).await;
        o.book_a("U1", "09:30", "10:00").await;
        o.book_a("U2", "10:00", "10:30").await;
        o.at("09:30");
        o.sweep().await;
        o.engine.check_in_room(&o.door).await.unwrap();
        o.at("09:52");
        let visitor = |name: &str| CheckIn {
            host: Some(serde_json::json!("bob@acme.example")),
            visitor_name: Some(name.into()),
            visitor_company: Some("Initech".into()),
            ..CheckIn::default()
        };
        o.engine.check_in(&o.kiosk, "192.0.2.50", visitor("Kenji Mori"), None).await.unwrap();
        o.engine.check_in(&o.kiosk, "192.0.2.50", visitor("Yumi Ito"), None).await.unwrap();
        let told = all_text(&o.told("U1").await);
        assert_eq!(
            told.matches("Bob Tanaka's visitor for the 10:00 meeting in Room A has arrived at reception").count(),
            1,
            "{told}"
        );
        assert!(!told.contains("Kenji"), "the visitor is the host's guest: {told}");
        // No occupied room before Alice's next meeting: nobody else is told.
        o.at("10:00");
        o.sweep().await;
        let before = o.told("U2").await.len();
        let alice_visitor = CheckIn {
            host: Some(serde_json::json!("alice@acme.example")),
            visitor_name: Some("Someone".into()),
            ..CheckIn::default()
        };
        o.engine.check_in(&o.kiosk, "192.0.2.50", alice_visitor, None).await.unwrap();
        let after = o.told("U2").await;
        assert!(!all_text(&after[before..]).contains("visitor"), "{after:?}");
    }

    async fn two_instances_sweeping_together_release_and_remind_once(t: &TestDb) {
        let o = Office::new(t).await;
        o.book_a("U1", "09:30", "10:30").await;
        // Another server: its own connection pool to the same database.
        let pool = frontdesk_core::store::Db::connect(t.url()).await.unwrap();
        let other = Engine::new(pool, o.engine.ports.clone(), common::settings());
        o.at("09:30");
        let (a, b) = tokio::join!(o.engine.sweep_rooms(), other.sweep_rooms());
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.reminded + b.reminded, 1);
        o.at("09:40");
        let (a, b) = tokio::join!(o.engine.sweep_rooms(), other.sweep_rooms());
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.released + b.released, 1);
        let told = all_text(&o.told("U1").await);
        assert_eq!(told.matches("Check in by 09:40").count(), 1, "{told}");
        assert_eq!(told.matches("was released at 09:40").count(), 1, "{told}");
    }

    async fn a_released_meeting_moved_later_is_a_new_meeting_of_the_room(t: &TestDb) {
        let o = Office::new(t).await;
        *o.google.events.lock().unwrap() =
            vec![google_event("m1", tokyo("09:30"), tokyo("10:30"), "alice@acme.example", None)];
        o.at("09:30");
        o.engine.sync_due_calendars().await.unwrap();
        o.sweep().await;
        o.at("09:40");
        assert_eq!(o.sweep().await.released, 1);
        // The organizer moves it to the afternoon (the same event, a new start).
        *o.google.events.lock().unwrap() =
            vec![google_event("m1", tokyo("14:00"), tokyo("15:00"), "alice@acme.example", None)];
        o.f.clock.advance(Duration::minutes(20));
        o.engine.sync_due_calendars().await.unwrap();
        o.at("14:00");
        let sweep = o.sweep().await;
        assert_eq!((sweep.recorded, sweep.reminded), (1, 1));
        let (_, code) = o.engine.add_door_display(&o.f.owner, "room-b", "Door B").await.unwrap();
        let (door_b, _) = o.engine.pair_door_display("room-b", &code).await.unwrap();
        assert_eq!(o.engine.room_status(&door_b).await.unwrap().state, RoomState::Booked);
        assert_eq!(o.engine.check_in_room(&door_b).await.unwrap().state, RoomState::InUse);
    }

    async fn a_private_next_meeting_does_not_name_its_host_to_the_occupants(t: &TestDb) {
        let o = Office::new(t).await;
        let mut next = google_event("next", tokyo("10:00"), tokyo("10:30"), "bob@acme.example", None);
        next.details.private = true;
        *o.google.events.lock().unwrap() =
            vec![google_event("now", tokyo("09:30"), tokyo("10:00"), "alice@acme.example", None), next];
        o.at("09:30");
        o.engine.sync_due_calendars().await.unwrap();
        o.sweep().await;
        let check_in = o.button("U1", |a| matches!(a, Action::CheckInRoom { .. })).await;
        o.press("U1", check_in).await;
        o.at("09:52");
        let visitor = CheckIn {
            host: Some(serde_json::json!("bob@acme.example")),
            visitor_name: Some("Kenji Mori".into()),
            ..CheckIn::default()
        };
        o.engine.check_in(&o.kiosk, "192.0.2.50", visitor, None).await.unwrap();
        let told = all_text(&o.told("U1").await);
        assert!(told.contains("The visitor for the 10:00 meeting in Room B has arrived"), "{told}");
        assert!(!told.contains("Bob"), "{told}");
    }

    async fn an_employee_ends_or_extends_only_their_own_meeting_and_checks_in_to_the_next(t: &TestDb) {
        let o = Office::new(t).await;
        o.book_a("U1", "09:30", "10:00").await;
        o.book_a("U2", "10:00", "10:30").await;
        o.at("09:30");
        o.sweep().await;
        o.engine.check_in_room(&o.door).await.unwrap();
        let as_employee = |who| RoomAccess {
            caller: RoomCaller::Employee(who),
            ..o.door.clone()
        };
        let carol = as_employee(o.employee("carol@acme.example").await);
        assert!(matches!(o.engine.check_out_room(&carol).await, Err(Error::Forbidden)));
        assert!(matches!(o.engine.extend_room(&carol, 15).await, Err(Error::Forbidden)));
        // Bob, early for his 10:00 while Alice's meeting is on: his is checked in.
        o.at("09:55");
        let bob = as_employee(o.employee("bob@acme.example").await);
        let status = o.engine.check_in_room(&bob).await.unwrap();
        assert_eq!(status.state, RoomState::InUse, "Alice is still in");
        assert!(status.next[0].checked_in, "Bob's meeting is checked in");
        let alice = as_employee(o.employee("alice@acme.example").await);
        assert_eq!(o.engine.check_out_room(&alice).await.unwrap().state, RoomState::Free);
    }

    async fn the_organizer_gives_the_room_back_from_the_reminder(t: &TestDb) {
        let o = Office::new(t).await;
        o.book_a("U1", "09:30", "10:30").await;
        o.at("09:30");
        o.sweep().await;
        let release = o.button("U1", |a| matches!(a, Action::ReleaseRoom { .. })).await;
        o.at("09:31:20");
        let answer = o.press("U1", release).await;
        assert!(text_of(&answer).contains("You gave Room A back"), "{answer:?}");
        assert!(answer.all_buttons().next().is_none(), "nothing left to press");
        assert_eq!(o.state_of_a().await.state, RoomState::Free);
        assert_eq!(o.a_event_ends().await, vec![tokyo("09:31")]);
        o.at("09:40");
        assert_eq!(o.sweep().await.released, 0, "given back, not released");
    }

    async fn the_room_sweep_runs_inside_the_server_on_its_schedule(t: &TestDb) {
        let o = Office::new(t).await;
        o.book_a("U1", "09:30", "10:30").await;
        let scheduler = Scheduler::new(o.engine.clone(), standard_jobs());
        scheduler.tick().await.unwrap();
        o.at("09:40");
        scheduler.tick().await.unwrap();
        assert_eq!(o.state_of_a().await.state, RoomState::Free);
        assert_eq!(o.a_event_ends().await, vec![tokyo("09:40")]);
    }

    async fn at_the_door_a_room_is_booked_now_extended_and_checked_out(t: &TestDb) {
        let o = Office::new(t).await;
        o.book_a("U2", "09:45", "10:30").await;
        o.at("09:10");
        let status = o.engine.book_room_now(&o.door, 30).await.unwrap();
        assert_eq!(status.state, RoomState::InUse);
        assert_eq!(status.current.as_ref().unwrap().end, tokyo("09:40"));
        assert!(matches!(o.engine.book_room_now(&o.door, 15).await, Err(Error::RoomNotFree)));
        assert!(matches!(o.engine.book_room_now(&o.door, 20).await, Err(Error::Invalid { .. })));
        // Extending runs into Bob's 09:45 meeting.
        assert!(matches!(o.engine.extend_room(&o.door, 15).await, Err(Error::RoomNotFree)));
        // Bob moves his meeting? No: Alice ends hers early instead.
        o.at("09:25:30");
        let status = o.engine.check_out_room(&o.door).await.unwrap();
        assert_eq!(status.state, RoomState::Free);
        assert_eq!(status.free_until, Some(tokyo("09:45")));
        assert!(o.a_event_ends().await.contains(&tokyo("09:25")), "ends at the minute it was left");
        assert!(matches!(o.engine.check_out_room(&o.door).await, Err(Error::NoMeetingNow)));
        assert!(matches!(o.engine.extend_room(&o.door, 15).await, Err(Error::NoMeetingNow)));
        // Bob's meeting, extended where the room is free after it.
        o.at("09:45");
        o.engine.check_in_room(&o.door).await.unwrap();
        let status = o.engine.extend_room(&o.door, 30).await.unwrap();
        assert_eq!(status.current.unwrap().end, tokyo("11:00"));
        assert!(o.a_event_ends().await.contains(&tokyo("11:00")));
    }

    async fn chat_finds_free_rooms_by_people_time_and_equipment_and_books_with_a_button(t: &TestDb) {
        let o = Office::new(t).await;
        o.book_a("U2", "09:00", "09:45").await;
        let answer = o.say("U1", "rooms 6 people 30m").await;
        let text = text_of(&answer);
        assert!(text.contains("Room B: 12 seats"), "{text}");
        assert!(!text.contains("Room A"), "room A is taken now: {text}");
        let four = o.say("U1", "rooms 4 at 10:00 1h display").await;
        let text = text_of(&four);
        assert!(text.contains("Rooms free from 10:00 to 11:00"), "{text}");
        assert!(text.find("Room A").unwrap() < text.find("Room B").unwrap(), "smallest first: {text}");
        let japanese = o.say("U2", "会議室 空き 6人").await;
        assert!(text_of(&japanese).contains("空いている会議室"), "{japanese:?}");
        assert!(text_of(&japanese).contains("Room B: 12 席"), "{japanese:?}");
        let none = o.say("U1", "rooms 20 people").await;
        assert!(text_of(&none).contains("No room that fits"), "{none:?}");
        let video = o.say("U1", "rooms video").await;
        assert!(!text_of(&video).contains("Room A"), "{video:?}");

        // Pressing books it; a second press finds it taken.
        let book_a = four
            .all_buttons()
            .find(|b| matches!(b.action, Action::BookRoom { room, .. } if room == o.room_a))
            .unwrap()
            .action;
        assert!(text_of(&o.press("U1", book_a).await).contains("Booked Room A from 10:00 to 11:00"));
        assert!(text_of(&o.press("U3", book_a).await).contains("just booked by someone else"));
        let later = o.engine.find_rooms(o.f.tenant.id, &Default::default(), Interval::new(tokyo("10:30"), tokyo("10:45")).unwrap()).await.unwrap();
        assert!(!later.iter().any(|r| r.room.slug == "room-a"));
    }

    async fn a_private_meeting_shows_no_title_or_organizer_at_the_door(t: &TestDb) {
        let o = Office::new(t).await;
        let mut event = google_event("secret", tokyo("09:00"), tokyo("10:00"), "alice@acme.example", None);
        event.details.private = true;
        let open = google_event("open", tokyo("10:00"), tokyo("11:00"), "bob@acme.example", None);
        *o.google.events.lock().unwrap() = vec![event, open];
        o.engine.sync_due_calendars().await.unwrap();
        let (_, code) = o.engine.add_door_display(&o.f.owner, "room-b", "Door B").await.unwrap();
        let (door_b, _) = o.engine.pair_door_display("room-b", &code).await.unwrap();
        // A code is used once, and only for its room.
        assert!(matches!(o.engine.pair_door_display("room-b", &code).await, Err(Error::WrongPairingCode)));
        let status = o.engine.room_status(&door_b).await.unwrap();
        let current = status.current.unwrap();
        assert!(current.private);
        assert_eq!((current.title, current.organizer), (None, None));
        assert_eq!(status.next[0].organizer.as_deref(), Some("Bob Tanaka"));
    }

    async fn utilisation_counts_booked_used_and_released_hours_and_the_no_show_rate(t: &TestDb) {
        let o = Office::new(t).await;
        o.book_a("U1", "09:30", "10:30").await;
        o.book_a("U2", "11:00", "12:00").await;
        o.at("09:30");
        o.sweep().await;
        o.at("09:40");
        o.sweep().await;
        o.at("11:00");
        o.sweep().await;
        o.at("11:05");
        o.engine.check_in_room(&o.door).await.unwrap();
        o.at("11:35");
        o.engine.check_out_room(&o.door).await.unwrap();
        o.at("13:00");
        let uses = o.engine.room_utilisation(&o.f.owner, tokyo("00:00"), tokyo("23:59")).await.unwrap();
        let a = uses.iter().find(|u| u.room.slug == "room-a").unwrap();
        assert_eq!(a.usage.booked, 2 * 3600);
        assert_eq!(a.usage.used, 30 * 60);
        assert_eq!(a.usage.released, 50 * 60);
        assert_eq!((a.usage.tracked, a.usage.no_shows), (2, 1));
        assert_eq!(a.usage.no_show_rate(), Some(0.5));
        let b = uses.iter().find(|u| u.room.slug == "room-b").unwrap();
        assert_eq!(b.usage.no_show_rate(), None, "nothing tracked in room B");
    }

    async fn a_sweep_releases_more_no_shows_than_one_chunk_holds_each_once(t: &TestDb) {
        // 1,100 rooms booked 10:00–11:00 by Alice: three chunks, written side by side on
        // PostgreSQL.
        const ROOMS: i64 = 1_100;
        let o = Office::new(t).await;
        let mut tx = o.engine.db.write().await.unwrap();
        for i in 0..ROOMS {
            let room = frontdesk_core::store::room::Room {
                id: 0,
                slug: format!("bulk-{i}"),
                name: format!("Bulk {i}"),
                capacity: 4,
                time_zone: "Asia/Tokyo".into(),
                equipment: String::new(),
                floor: None,
                location_id: None,
                release_policy: "{}".into(),
            };
            let id = frontdesk_core::store::room::insert_room(&mut tx, o.f.tenant.id, &room, 0).await.unwrap();
            let calendar = frontdesk_core::store::calendar::insert(&mut tx, o.f.tenant.id, Owner::Room(id), Provider::Local, false, 0)
                .await
                .unwrap();
            let facts = frontdesk_core::store::calendar::EventFacts {
                organizer: Some("alice@acme.example"),
                private: false,
                series: None,
                booked_at: Some(tokyo("08:00") * 1000),
            };
            frontdesk_core::store::calendar::upsert_event(
                &mut tx, calendar, o.f.tenant.id, &format!("bulk-{i}"),
                tokyo("10:00") * 1000, tokyo("11:00") * 1000, None, &facts,
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        o.at("10:00");
        let started = o.sweep().await;
        assert_eq!((started.recorded, started.reminded), (1_100, 1_100));
        o.at("10:10");
        assert_eq!(o.sweep().await.released, 1_100);
        assert_eq!(o.sweep().await.released, 0, "each once");
        let released = "SELECT COUNT(*) FROM room_meetings WHERE released_at IS NOT NULL";
        assert_eq!(t.count(released).await, ROOMS);
        let ended = "SELECT COUNT(*) FROM calendar_events WHERE uid LIKE 'bulk-%' AND ends_at - starts_at = 600000";
        assert_eq!(t.count(ended).await, ROOMS, "every event ends at 10:10");
        let free = o.engine.find_rooms(o.f.tenant.id, &Default::default(), Interval::new(tokyo("10:20"), tokyo("10:50")).unwrap()).await.unwrap();
        assert!(free.iter().any(|r| r.room.slug.starts_with("bulk-")), "{free:?}");
    }
}
