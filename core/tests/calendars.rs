//! Calendars in the engine, against a scripted provider: busy time served from the cache,
//! failures that keep the last good data (marked stale) and back off, an expired cursor
//! followed by a full resync, revoked credentials, push notifications checked and
//! deduplicated, OAuth with PKCE, and every credential sealed at rest.

mod common;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Duration;
use common::{Fixture, person, settings};
use frontdesk_core::Error;
use frontdesk_core::domain::calendar::{Interval, Owner, Provider};
use frontdesk_core::engine::Engine;
use frontdesk_core::engine::booking::{BookingRequest, LinkInput};
use frontdesk_core::engine::calendar::{PushOutcome, RECONCILE_EVERY};
use frontdesk_core::port::{
    AuthorizationRequest, Authorized, BusyEvent, Calendar, CalendarError, CalendarRef, Calendars,
    Changes, EventDraft, OAuthTokens, Ports, ProviderEvent, SyncWindow, TokenStore, Watch,
    WatchRequest,
};
use frontdesk_core::storage_tests;
use frontdesk_core::testing::TestDb;
use secrecy::{ExposeSecret, SecretString};

/// A provider answering `changes` from a script (then "nothing changed"), recording what it
/// was asked; it refreshes tokens when told to, like a real connector after a 401.
#[derive(Debug)]
struct Scripted {
    provider: Provider,
    script: Mutex<VecDeque<Result<Changes, CalendarError>>>,
    cursors: Mutex<Vec<Option<String>>>,
    access_tokens: Mutex<Vec<String>>,
    refresh_to: Mutex<Option<&'static str>>,
    watches: Mutex<Vec<WatchRequest>>,
    /// Answers to `create_event`, in order (then a failure).
    creations: Mutex<VecDeque<Result<ProviderEvent, CalendarError>>>,
    drafts: Mutex<Vec<EventDraft>>,
    /// Events updated (id, new draft) and cancelled (id), in order.
    updates: Mutex<Vec<(String, EventDraft)>>,
    cancels: Mutex<Vec<String>>,
    /// Answers to `free_busy`, in order (then no busy time), and the spans asked about.
    live: Mutex<VecDeque<Result<Vec<Interval>, CalendarError>>>,
    live_asked: Mutex<Vec<(i64, i64)>>,
}

impl Scripted {
    fn new(provider: Provider) -> Arc<Scripted> {
        Arc::new(Scripted {
            provider,
            script: Mutex::default(),
            cursors: Mutex::default(),
            access_tokens: Mutex::default(),
            refresh_to: Mutex::default(),
            watches: Mutex::default(),
            creations: Mutex::default(),
            drafts: Mutex::default(),
            updates: Mutex::default(),
            cancels: Mutex::default(),
            live: Mutex::default(),
            live_asked: Mutex::default(),
        })
    }

    fn then(&self, answer: Result<Changes, CalendarError>) {
        self.script.lock().unwrap().push_back(answer);
    }

    fn cursors(&self) -> Vec<Option<String>> {
        self.cursors.lock().unwrap().clone()
    }
}

fn tokens(access: &str, refresh: &str) -> OAuthTokens {
    OAuthTokens {
        access_token: SecretString::from(access.to_string()),
        refresh_token: Some(SecretString::from(refresh.to_string())),
        expires_at: Some(2_000_000_000),
    }
}

#[async_trait]
impl Calendar for Scripted {
    fn provider(&self) -> Provider {
        self.provider
    }

    async fn changes(
        &self,
        calendar: &CalendarRef,
        tokens_store: &dyn TokenStore,
        cursor: Option<&str>,
        _window: SyncWindow,
    ) -> Result<Changes, CalendarError> {
        self.cursors
            .lock()
            .unwrap()
            .push(cursor.map(str::to_string));
        if !calendar.app_credentials {
            let current = tokens_store.tokens().await?;
            self.access_tokens
                .lock()
                .unwrap()
                .push(current.access_token.expose_secret().to_string());
            let refresh = self.refresh_to.lock().unwrap().take();
            if let Some(access) = refresh {
                tokens_store
                    .save(&tokens(access, "refresh-secret-1"))
                    .await?;
            }
        }
        let next = self.script.lock().unwrap().pop_front();
        next.unwrap_or_else(|| {
            Ok(Changes {
                cursor: cursor.map(str::to_string),
                ..Changes::default()
            })
        })
    }

    async fn free_busy(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        from: i64,
        to: i64,
    ) -> Result<Vec<Interval>, CalendarError> {
        self.live_asked.lock().unwrap().push((from, to));
        let next = self.live.lock().unwrap().pop_front();
        next.unwrap_or_else(|| Ok(Vec::new()))
    }

    async fn create_event(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        draft: &EventDraft,
    ) -> Result<ProviderEvent, CalendarError> {
        self.drafts.lock().unwrap().push(draft.clone());
        let next = self.creations.lock().unwrap().pop_front();
        next.unwrap_or_else(|| Err(CalendarError::Provider("not scripted".into())))
    }

    async fn update_event(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        id: &str,
        draft: &EventDraft,
    ) -> Result<ProviderEvent, CalendarError> {
        self.updates
            .lock()
            .unwrap()
            .push((id.to_string(), draft.clone()));
        // Like a PATCH answered without conference data: the stored link stays.
        Ok(ProviderEvent {
            id: id.to_string(),
            join_url: None,
        })
    }

    async fn cancel_event(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        id: &str,
    ) -> Result<(), CalendarError> {
        self.cancels.lock().unwrap().push(id.to_string());
        Ok(())
    }

    async fn set_event_end(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        id: &str,
        end: i64,
    ) -> Result<(), CalendarError> {
        Err(CalendarError::NotFound(format!("{id} ending at {end}")))
    }

    async fn leave_series(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        series: &str,
    ) -> Result<(), CalendarError> {
        Err(CalendarError::NotFound(series.to_string()))
    }

    async fn watch(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        request: &WatchRequest,
    ) -> Result<Option<Watch>, CalendarError> {
        self.watches.lock().unwrap().push(request.clone());
        Ok(Some(Watch {
            id: request.channel_id.clone(),
            resource_id: Some("resource-1".into()),
            expires_at: request.expires_at,
        }))
    }

    async fn renew_watch(
        &self,
        calendar: &CalendarRef,
        tokens: &dyn TokenStore,
        _: &Watch,
        request: &WatchRequest,
    ) -> Result<Watch, CalendarError> {
        Ok(self
            .watch(calendar, tokens, request)
            .await?
            .expect("scripted channels always open"))
    }

    async fn stop_watch(
        &self,
        _: &CalendarRef,
        _: &dyn TokenStore,
        _: &Watch,
    ) -> Result<(), CalendarError> {
        Ok(())
    }

    fn authorization_url(&self, request: &AuthorizationRequest) -> Option<String> {
        Some(format!(
            "https://accounts.example/auth?state={}&code_challenge={}&redirect_uri={}",
            request.state, request.code_challenge, request.redirect_uri
        ))
    }

    async fn exchange_code(
        &self,
        code: &str,
        code_verifier: &str,
        _: &str,
    ) -> Result<Authorized, CalendarError> {
        if code != "good-code" || code_verifier.len() < 43 {
            return Err(CalendarError::Unauthorized("invalid_grant".into()));
        }
        Ok(Authorized {
            tokens: tokens("access-secret-1", "refresh-secret-1"),
            external_id: "c_alice_primary@group.calendar.example".into(),
        })
    }
}

fn busy(uid: &str, start: i64, end: i64) -> BusyEvent {
    BusyEvent {
        uid: uid.into(),
        interval: Interval::new(start, end).unwrap(),
        details: Default::default(),
    }
}

fn full(events: Vec<BusyEvent>, cursor: &str) -> Result<Changes, CalendarError> {
    Ok(Changes {
        full: true,
        busy: events,
        removed: vec![],
        cursor: Some(cursor.into()),
    })
}

/// The fixture's engine with `provider` as its calendar provider, and Alice.
async fn with_provider(f: &Fixture, provider: Arc<Scripted>) -> (Engine, Owner) {
    let ports = Ports {
        calendars: Calendars::default().with(provider),
        ..f.engine.ports.clone()
    };
    let engine = Engine::new(f.engine.db.clone(), ports, settings());
    let alice = engine
        .create_employee(&f.owner, person("alice@acme.example", "Alice"))
        .await
        .unwrap();
    (engine, Owner::Employee(alice.id))
}

fn now_secs(f: &Fixture) -> i64 {
    f.engine.ports.clock.now().timestamp()
}

storage_tests! {
    async fn busy_time_is_served_from_the_cache_and_a_failed_sync_keeps_it_marked_stale(t: &TestDb) {
        let f = Fixture::new(t).await;
        let google = Scripted::new(Provider::Google);
        let (engine, alice) = with_provider(&f, google.clone()).await;
        let now = now_secs(&f);
        google.then(full(vec![busy("a", now + 3600, now + 7200), busy("b", now + 7000, now + 9000)], "t1"));
        engine.connect_with_app_credentials(&f.owner, alice, Provider::Google, "alice@acme.example").await.unwrap();
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 1);

        let seen = engine.busy(f.tenant.id, alice, now, now + 86_400).await.unwrap();
        assert_eq!(seen.intervals, vec![Interval::new(now + 3600, now + 9000).unwrap()]);
        assert!(!seen.stale);
        // Nothing else is due: busy time is read without asking the provider.
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 0);
        assert_eq!(google.cursors(), vec![None]);

        // The provider fails at the next reconciliation: the last good data stays, stale.
        google.then(Err(CalendarError::Provider("503 backendError".into())));
        f.clock.advance(RECONCILE_EVERY);
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 1);
        let seen = engine.busy(f.tenant.id, alice, now, now + 86_400).await.unwrap();
        assert_eq!(seen.intervals, vec![Interval::new(now + 3600, now + 9000).unwrap()]);
        assert!(seen.stale, "admins and slot pages can tell the data may be old");
        let status = &engine.calendar_statuses(&f.owner, alice).await.unwrap()[0];
        assert_eq!(status.last_error.as_deref(), Some("provider failure: 503 backendError"));
        assert!(status.stale);
        assert_eq!(status.events, 2);
        // It backs off: not retried at once.
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 0);
        f.clock.advance(Duration::minutes(2));
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 1);
        let status = &engine.calendar_statuses(&f.owner, alice).await.unwrap()[0];
        assert_eq!(status.last_error, None, "recovered");
        assert!(!status.stale);
        assert_eq!(google.cursors(), vec![None, Some("t1".into()), Some("t1".into())]);
    }

    async fn a_rate_limited_calendar_waits_at_least_as_long_as_the_provider_asked(t: &TestDb) {
        let f = Fixture::new(t).await;
        let google = Scripted::new(Provider::Google);
        let (engine, alice) = with_provider(&f, google.clone()).await;
        google.then(Err(CalendarError::RateLimited { retry_after_secs: 3600 }));
        engine.connect_with_app_credentials(&f.owner, alice, Provider::Google, "alice@acme.example").await.unwrap();
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 1);
        let status = &engine.calendar_statuses(&f.owner, alice).await.unwrap()[0];
        let now_ms = f.engine.ports.clock.now_ms();
        assert!(status.next_sync_at >= now_ms + 3_600_000, "waits the hour asked for");
        f.clock.advance(Duration::minutes(59));
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 0);
        f.clock.advance(Duration::minutes(20));
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 1);
    }

    async fn an_expired_cursor_is_followed_by_a_full_resync_with_nothing_duplicated(t: &TestDb) {
        let f = Fixture::new(t).await;
        let google = Scripted::new(Provider::Google);
        let (engine, alice) = with_provider(&f, google.clone()).await;
        let now = now_secs(&f);
        google.then(full(vec![busy("a", now + 3600, now + 7200), busy("b", now + 10_000, now + 12_000)], "t1"));
        google.then(Err(CalendarError::Gone));
        // The full resync sees "b" moved and "a" unchanged.
        google.then(full(vec![busy("a", now + 3600, now + 7200), busy("b", now + 20_000, now + 22_000)], "t2"));
        engine.connect_with_app_credentials(&f.owner, alice, Provider::Google, "alice@acme.example").await.unwrap();
        engine.sync_due_calendars().await.unwrap();
        f.clock.advance(RECONCILE_EVERY);
        engine.sync_due_calendars().await.unwrap();

        assert_eq!(google.cursors(), vec![None, Some("t1".into()), None]);
        let status = &engine.calendar_statuses(&f.owner, alice).await.unwrap()[0];
        assert_eq!(status.events, 2, "nothing duplicated");
        assert_eq!(status.last_error, None);
        let seen = engine.busy(f.tenant.id, alice, now, now + 86_400).await.unwrap();
        assert_eq!(seen.intervals, vec![
            Interval::new(now + 3600, now + 7200).unwrap(),
            Interval::new(now + 20_000, now + 22_000).unwrap(),
        ]);
        // The next sync continues from the new cursor.
        f.clock.advance(RECONCILE_EVERY);
        engine.sync_due_calendars().await.unwrap();
        assert_eq!(google.cursors().last(), Some(&Some("t2".into())));
    }

    async fn incremental_changes_add_move_and_remove_cached_events(t: &TestDb) {
        let f = Fixture::new(t).await;
        let google = Scripted::new(Provider::Google);
        let (engine, alice) = with_provider(&f, google.clone()).await;
        let now = now_secs(&f);
        google.then(full(vec![busy("a", now + 3600, now + 7200), busy("b", now + 10_000, now + 12_000)], "t1"));
        google.then(Ok(Changes {
            full: false,
            busy: vec![busy("b", now + 30_000, now + 31_000), busy("c", now + 40_000, now + 41_000)],
            removed: vec!["a".into(), "unknown".into()],
            cursor: Some("t2".into()),
        }));
        engine.connect_with_app_credentials(&f.owner, alice, Provider::Google, "alice@acme.example").await.unwrap();
        engine.sync_due_calendars().await.unwrap();
        f.clock.advance(RECONCILE_EVERY);
        engine.sync_due_calendars().await.unwrap();
        let seen = engine.busy(f.tenant.id, alice, now, now + 86_400).await.unwrap();
        assert_eq!(seen.intervals, vec![
            Interval::new(now + 30_000, now + 31_000).unwrap(),
            Interval::new(now + 40_000, now + 41_000).unwrap(),
        ]);
    }

    async fn revoked_credentials_ask_for_a_reconnect_and_are_not_retried_every_minute(t: &TestDb) {
        let f = Fixture::new(t).await;
        let google = Scripted::new(Provider::Google);
        let (engine, alice) = with_provider(&f, google.clone()).await;
        google.then(Err(CalendarError::Unauthorized("invalid_grant".into())));
        engine.connect_with_app_credentials(&f.owner, alice, Provider::Google, "alice@acme.example").await.unwrap();
        engine.sync_due_calendars().await.unwrap();
        let status = &engine.calendar_statuses(&f.owner, alice).await.unwrap()[0];
        assert!(status.needs_reconnect);
        assert_eq!(status.last_error.as_deref(), Some("not authorized: invalid_grant"));
        f.clock.advance(Duration::hours(12));
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 0);
    }

    async fn oauth_connects_with_pkce_once_and_every_credential_is_sealed_at_rest(t: &TestDb) {
        let f = Fixture::new(t).await;
        let google = Scripted::new(Provider::Google);
        let (engine, alice) = with_provider(&f, google.clone()).await;
        let url = engine
            .start_calendar_oauth(&f.owner, alice, Provider::Google, "https://fd.example/oauth/google/callback", None)
            .await
            .unwrap();
        let query: std::collections::HashMap<String, String> =
            url::Url::parse(&url).unwrap().query_pairs().into_owned().collect();
        let state = &query["state"];
        assert_eq!(query["code_challenge"].len(), 43, "S256 of the verifier, base64url");

        // A wrong code is the provider's refusal; the state is used up either way.
        let refused = engine.finish_calendar_oauth(state, "bad-code", "https://fd.example/oauth/google/callback").await;
        assert!(matches!(refused, Err(Error::CalendarRefused(_))), "{refused:?}");
        let again = engine.finish_calendar_oauth(state, "good-code", "https://fd.example/oauth/google/callback").await;
        assert!(matches!(again, Err(Error::InvalidOAuthState)), "{again:?}");

        let url = engine
            .start_calendar_oauth(&f.owner, alice, Provider::Google, "https://fd.example/oauth/google/callback", None)
            .await
            .unwrap();
        let state: String = url::Url::parse(&url).unwrap().query_pairs()
            .find(|(k, _)| k == "state").unwrap().1.into_owned();
        let connected = engine.finish_calendar_oauth(&state, "good-code", "https://fd.example/oauth/google/callback").await.unwrap();
        assert_eq!(connected.provider, Provider::Google);
        assert_eq!(f.logged("calendar.connect").await[0].actor, "owner@acme.example");

        // The connector gets the tokens through core and puts a refreshed one back.
        *google.refresh_to.lock().unwrap() = Some("access-secret-2");
        google.then(full(vec![], "t1"));
        engine.sync_due_calendars().await.unwrap();
        f.clock.advance(RECONCILE_EVERY);
        engine.sync_due_calendars().await.unwrap();
        assert_eq!(*google.access_tokens.lock().unwrap(), vec!["access-secret-1", "access-secret-2"]);

        // An ICS feed's URL carries a credential too.
        let bob = engine.create_employee(&f.owner, person("bob@acme.example", "Bob")).await.unwrap();
        engine
            .connect_ics(&f.owner, Owner::Employee(bob.id), "https://calendar.example/feeds/feed-secret-77.ics")
            .await
            .unwrap();

        for secret in ["access-secret-1", "access-secret-2", "refresh-secret-1", "feed-secret-77", "c_alice_primary"] {
            assert_eq!(t.tables_containing(secret).await, Vec::<String>::new(), "{secret} is stored in clear");
        }
        // The scan finds what is stored in clear (so its silence above means something).
        assert_eq!(t.tables_containing("bob@acme.example").await, vec!["access_log", "employees"]);
    }

    async fn tokens_copied_into_another_tenants_row_do_not_open_and_count_as_revoked(t: &TestDb) {
        let f = Fixture::new(t).await;
        let google = Scripted::new(Provider::Google);
        let (engine, alice) = with_provider(&f, google.clone()).await;
        let url = engine
            .start_calendar_oauth(&f.owner, alice, Provider::Google, "https://fd.example/cb", None)
            .await
            .unwrap();
        let state: String = url::Url::parse(&url).unwrap().query_pairs()
            .find(|(k, _)| k == "state").unwrap().1.into_owned();
        engine.finish_calendar_oauth(&state, "good-code", "https://fd.example/cb").await.unwrap();

        // Another tenant's calendar gets a copy of Alice's sealed tokens.
        let other = engine.ensure_tenant("globex", "Globex").await.unwrap();
        let other_owner = common::owner_of(&engine, &other, "owner@globex.example").await;
        let mallory = engine.create_employee(&other_owner, person("m@globex.example", "Mallory")).await.unwrap();
        engine
            .connect_with_app_credentials(&other_owner, Owner::Employee(mallory.id), Provider::Google, "m@globex.example")
            .await
            .unwrap();
        common::execute(&t.db, "UPDATE calendars SET app_credentials = FALSE, tokens_sealed = \
            (SELECT tokens_sealed FROM calendars WHERE tokens_sealed IS NOT NULL ORDER BY id LIMIT 1) \
            WHERE employee_id = (SELECT id FROM employees WHERE email = 'm@globex.example')").await.unwrap();

        engine.sync_due_calendars().await.unwrap();
        let status = &engine.calendar_statuses(&other_owner, Owner::Employee(mallory.id)).await.unwrap()[0];
        assert!(status.needs_reconnect, "{status:?}");
        assert!(status.last_error.as_deref().unwrap().contains("stored tokens unusable"), "{status:?}");
        assert_eq!(*google.access_tokens.lock().unwrap(), vec!["access-secret-1"], "only Alice's sync read them");
    }

    async fn google_pushes_are_checked_and_each_change_is_synced_once(t: &TestDb) {
        let f = Fixture::new(t).await;
        let google = Scripted::new(Provider::Google);
        let (engine, alice) = with_provider(&f, google.clone()).await;
        google.then(full(vec![], "t1"));
        engine.connect_with_app_credentials(&f.owner, alice, Provider::Google, "alice@acme.example").await.unwrap();
        engine.sync_due_calendars().await.unwrap();
        assert_eq!(engine.renew_calendar_watches().await.unwrap(), 1);
        let request = google.watches.lock().unwrap()[0].clone();
        assert_eq!(request.callback_url, "http://127.0.0.1:8080/webhooks/google/push");
        let channel = request.channel_id.clone();
        let token = request.secret.expose_secret().to_string();

        // Unknown channels and wrong tokens are refused, and nothing is synced.
        assert!(matches!(engine.google_push("nope", &token, "exists", Some(2)).await, Err(Error::NotFound(_))));
        assert!(matches!(engine.google_push(&channel, "wrong", "exists", Some(2)).await, Err(Error::NotFound(_))));
        // The channel's first message only says it exists.
        assert_eq!(engine.google_push(&channel, &token, "sync", Some(1)).await.unwrap(), PushOutcome::Ignored);
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 0);

        assert_eq!(engine.google_push(&channel, &token, "exists", Some(2)).await.unwrap(), PushOutcome::Queued);
        // The same message again, and an older one, change nothing.
        assert_eq!(engine.google_push(&channel, &token, "exists", Some(2)).await.unwrap(), PushOutcome::Ignored);
        assert_eq!(engine.google_push(&channel, &token, "exists", Some(1)).await.unwrap(), PushOutcome::Ignored);
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 1);
        assert_eq!(google.cursors(), vec![None, Some("t1".into())]);

        // Before it ends, the channel is replaced by a new one with a new token.
        f.clock.advance(Duration::days(6) + Duration::hours(1));
        assert_eq!(engine.renew_calendar_watches().await.unwrap(), 1);
        let renewed = google.watches.lock().unwrap()[1].clone();
        assert_ne!(renewed.channel_id, channel);
        assert!(matches!(engine.google_push(&channel, &token, "exists", Some(3)).await, Err(Error::NotFound(_))));
        engine.sync_due_calendars().await.unwrap();
        let new_token = renewed.secret.expose_secret().to_string();
        assert_eq!(engine.google_push(&renewed.channel_id, &new_token, "exists", Some(1)).await.unwrap(), PushOutcome::Queued);
    }

    async fn graph_lifecycle_events_resync_recreate_and_renew(t: &TestDb) {
        let f = Fixture::new(t).await;
        let graph = Scripted::new(Provider::Microsoft);
        let (engine, alice) = with_provider(&f, graph.clone()).await;
        graph.then(full(vec![], "delta-1"));
        engine.connect_with_app_credentials(&f.owner, alice, Provider::Microsoft, "alice@acme.example").await.unwrap();
        engine.sync_due_calendars().await.unwrap();
        engine.renew_calendar_watches().await.unwrap();
        let request = graph.watches.lock().unwrap()[0].clone();
        assert_eq!(request.callback_url, "http://127.0.0.1:8080/webhooks/microsoft/notifications");
        let subscription = request.channel_id.clone();
        let state = request.secret.expose_secret().to_string();

        // A wrong clientState is ignored.
        assert_eq!(engine.microsoft_notification(&subscription, "forged", None).await.unwrap(), PushOutcome::Ignored);
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 0);
        // A change: an incremental sync from the delta link.
        assert_eq!(engine.microsoft_notification(&subscription, &state, None).await.unwrap(), PushOutcome::Queued);
        engine.sync_due_calendars().await.unwrap();
        assert_eq!(graph.cursors().last(), Some(&Some("delta-1".into())));
        // Missed notifications: a full resync.
        engine.microsoft_notification(&subscription, &state, Some("missed")).await.unwrap();
        engine.sync_due_calendars().await.unwrap();
        assert_eq!(graph.cursors().last(), Some(&None));
        // The subscription removed: a new one at once, and a full resync.
        engine.microsoft_notification(&subscription, &state, Some("subscriptionRemoved")).await.unwrap();
        // (What the syncer does when woken.)
        engine.renew_calendar_watches().await.unwrap();
        assert_eq!(graph.watches.lock().unwrap().len(), 2, "recreated");
        engine.sync_due_calendars().await.unwrap();
        assert_eq!(graph.cursors().last(), Some(&None));
        // Reauthorization required: renewed at once.
        let current = graph.watches.lock().unwrap()[1].clone();
        engine
            .microsoft_notification(&current.channel_id, current.secret.expose_secret(), Some("reauthorizationRequired"))
            .await
            .unwrap();
        engine.renew_calendar_watches().await.unwrap();
        assert_eq!(graph.watches.lock().unwrap().len(), 3, "renewed");
    }

    async fn a_repeated_graph_notification_for_one_subscription_leads_to_one_sync(t: &TestDb) {
        let f = Fixture::new(t).await;
        let graph = Scripted::new(Provider::Microsoft);
        let (engine, alice) = with_provider(&f, graph.clone()).await;
        graph.then(full(vec![], "delta-1"));
        engine.connect_with_app_credentials(&f.owner, alice, Provider::Microsoft, "alice@acme.example").await.unwrap();
        engine.sync_due_calendars().await.unwrap();
        engine.renew_calendar_watches().await.unwrap();
        let request = graph.watches.lock().unwrap()[0].clone();
        let (subscription, state) = (request.channel_id.clone(), request.secret.expose_secret().to_string());

        // Graph delivers the same change again (its retry, or two changes in a row) before
        // the sync has run: the calendar is due once.
        assert_eq!(engine.microsoft_notification(&subscription, &state, None).await.unwrap(), PushOutcome::Queued);
        assert_eq!(engine.microsoft_notification(&subscription, &state, None).await.unwrap(), PushOutcome::Ignored);
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 1);
        assert_eq!(engine.sync_due_calendars().await.unwrap(), 0);
        assert_eq!(graph.cursors(), vec![None, Some("delta-1".into())], "one incremental sync");
    }

    async fn an_admin_sees_whether_the_cache_agrees_with_the_providers_busy_time(t: &TestDb) {
        let f = Fixture::new(t).await;
        let google = Scripted::new(Provider::Google);
        let (engine, alice) = with_provider(&f, google.clone()).await;
        let now = now_secs(&f);
        let iv = |start: i64, end: i64| Interval::new(now + start, now + end).unwrap();
        google.then(full(vec![busy("a", now + 3600, now + 7200), busy("b", now + 7000, now + 9000)], "t1"));
        let connected = engine.connect_with_app_credentials(&f.owner, alice, Provider::Google, "alice@acme.example").await.unwrap();
        engine.sync_due_calendars().await.unwrap();

        // The provider says what the cache holds.
        google.live.lock().unwrap().push_back(Ok(vec![iv(3600, 9000)]));
        let check = engine.provider_free_busy(&f.owner, connected.id, now, now + 86_400).await.unwrap();
        assert_eq!(*google.live_asked.lock().unwrap(), vec![(now, now + 86_400)]);
        assert_eq!(check.provider, Provider::Google);
        assert_eq!(check.cached_busy, vec![iv(3600, 9000)]);
        assert_eq!(check.provider_busy, vec![iv(3600, 9000)]);
        assert!(check.agrees() && !check.stale);
        // A change the sync has not seen yet: they differ, and the cache is left alone.
        google.live.lock().unwrap().push_back(Ok(vec![iv(3600, 9000), iv(20_000, 21_000)]));
        let check = engine.provider_free_busy(&f.owner, connected.id, now, now + 86_400).await.unwrap();
        assert!(!check.agrees());
        assert_eq!(check.cached_busy, vec![iv(3600, 9000)]);
        // Only the span asked about.
        google.live.lock().unwrap().push_back(Ok(vec![]));
        let check = engine.provider_free_busy(&f.owner, connected.id, now + 8000, now + 8500).await.unwrap();
        assert_eq!(check.cached_busy, vec![iv(8000, 8500)]);
        assert!(!check.agrees());

        // The provider's refusal is said, and recorded nowhere (the sync owns the state).
        google.live.lock().unwrap().push_back(Err(CalendarError::RateLimited { retry_after_secs: 30 }));
        let refused = engine.provider_free_busy(&f.owner, connected.id, now, now + 86_400).await;
        assert!(matches!(&refused, Err(Error::CalendarRefused(m)) if m.contains("retry after 30 s")), "{refused:?}");
        let status = &engine.calendar_statuses(&f.owner, alice).await.unwrap()[0];
        assert_eq!(status.last_error, None);

        // At most 62 days, forwards; the field is named.
        for (from, to) in [(now, now + 62 * 86_400 + 1), (now, now), (now + 10, now)] {
            let refused = engine.provider_free_busy(&f.owner, connected.id, from, to).await;
            assert!(matches!(&refused, Err(Error::Invalid { field, .. }) if field == "to"), "{refused:?}");
        }
        assert!(engine.provider_free_busy(&f.owner, connected.id, now, now + 62 * 86_400).await.is_ok());
        assert_eq!(google.live_asked.lock().unwrap().len(), 5, "refused spans ask no provider");

        // The built-in calendar is answered from the database.
        engine.add_calendar_event(&f.owner, alice, now + 30_000, now + 31_800, "Interview").await.unwrap();
        let statuses = engine.calendar_statuses(&f.owner, alice).await.unwrap();
        let built_in = statuses.iter().find(|c| c.provider == Provider::Local).expect("the built-in calendar");
        let check = engine.provider_free_busy(&f.owner, built_in.id, now, now + 86_400).await.unwrap();
        assert_eq!(check.provider_busy, vec![iv(30_000, 31_800)]);
        assert!(check.agrees());
        assert_eq!(google.live_asked.lock().unwrap().len(), 5, "no provider asked");

        // Another tenant's calendar does not exist for this one.
        let other = engine.ensure_tenant("globex", "Globex").await.unwrap();
        let other_owner = common::owner_of(&engine, &other, "owner@globex.example").await;
        let missing = engine.provider_free_busy(&other_owner, connected.id, now, now + 86_400).await;
        assert!(matches!(missing, Err(Error::NotFound("calendar"))), "{missing:?}");
    }

    async fn disconnecting_removes_the_connection_and_its_busy_time(t: &TestDb) {
        let f = Fixture::new(t).await;
        let google = Scripted::new(Provider::Google);
        let (engine, alice) = with_provider(&f, google.clone()).await;
        let now = now_secs(&f);
        google.then(full(vec![busy("a", now + 3600, now + 7200)], "t1"));
        let status = engine.connect_with_app_credentials(&f.owner, alice, Provider::Google, "alice@acme.example").await.unwrap();
        engine.sync_due_calendars().await.unwrap();
        engine.disconnect_calendar(&f.owner, status.id).await.unwrap();
        assert!(engine.busy(f.tenant.id, alice, now, now + 86_400).await.unwrap().intervals.is_empty());
        assert!(engine.calendar_statuses(&f.owner, alice).await.unwrap().is_empty());
        assert_eq!(f.logged("calendar.disconnect").await.len(), 1);
        assert!(matches!(engine.disconnect_calendar(&f.owner, status.id).await, Err(Error::NotFound(_))));
    }

    async fn the_built_in_calendar_counts_as_busy_and_its_private_feed_can_be_revoked(t: &TestDb) {
        let f = Fixture::new(t).await;
        let (engine, alice) = with_provider(&f, Scripted::new(Provider::Google)).await;
        let now = now_secs(&f);
        engine.add_calendar_event(&f.owner, alice, now + 3600, now + 5400, "Interview: 山田 太郎").await.unwrap();
        let seen = engine.busy(f.tenant.id, alice, now, now + 86_400).await.unwrap();
        assert_eq!(seen.intervals, vec![Interval::new(now + 3600, now + 5400).unwrap()]);
        assert!(!seen.stale);
        assert_eq!(t.tables_containing("山田 太郎").await, Vec::<String>::new(), "titles are sealed");

        let url = engine.issue_calendar_feed(&f.owner, alice).await.unwrap();
        let feed_token = url.rsplit('/').next().unwrap().trim_end_matches(".ics").to_string();
        let ics = engine.calendar_feed(&feed_token).await.unwrap().expect("the feed");
        assert!(ics.contains("SUMMARY:Interview: 山田 太郎"), "{ics}");
        assert!(ics.contains("BEGIN:VEVENT") && ics.contains("SEQUENCE:0"), "{ics}");

        // A new URL revokes the old one; revoking leaves none.
        let second = engine.issue_calendar_feed(&f.owner, alice).await.unwrap();
        assert_eq!(engine.calendar_feed(&feed_token).await.unwrap(), None);
        let second_token = second.rsplit('/').next().unwrap().trim_end_matches(".ics").to_string();
        assert!(engine.calendar_feed(&second_token).await.unwrap().is_some());
        engine.revoke_calendar_feed(&f.owner, alice).await.unwrap();
        assert_eq!(engine.calendar_feed(&second_token).await.unwrap(), None);

        // Bad events are refused with the field named.
        let backwards = engine.add_calendar_event(&f.owner, alice, now + 100, now + 50, "x").await;
        assert!(matches!(backwards, Err(Error::Invalid { ref field, .. }) if field == "end"), "{backwards:?}");
        let untitled = engine.add_calendar_event(&f.owner, alice, now, now + 50, " ").await;
        assert!(matches!(untitled, Err(Error::Invalid { ref field, .. }) if field == "title"), "{untitled:?}");
    }

    async fn an_event_for_a_connected_calendar_goes_through_the_outbox_and_waits_out_a_provider_outage(t: &TestDb) {
        let f = Fixture::new(t).await;
        let google = Scripted::new(Provider::Google);
        let (engine, alice) = with_provider(&f, google.clone()).await;
        engine.connect_with_app_credentials(&f.owner, alice, Provider::Google, "alice@acme.example").await.unwrap();
        let now = now_secs(&f);
        let draft = EventDraft {
            title: "Meeting with Taro Yamada".into(),
            description: "Booked through Frontdesk".into(),
            interval: Interval::new(now + 86_400, now + 86_400 + 1800).unwrap(),
            time_zone: "Asia/Tokyo".into(),
            attendees: vec!["taro@example.com".into()],
            location: None,
            online_meeting: true,
        };
        google.creations.lock().unwrap().extend([
            Err(CalendarError::Provider("503 backendError".into())),
            Ok(ProviderEvent { id: "ev-1".into(), join_url: Some("https://meet.google.com/abc-defg-hij".into()) }),
        ]);
        engine.create_calendar_event(f.tenant.id, alice, "booking:1", &draft).await.unwrap();

        // The provider is down: nothing is lost, the write waits.
        engine.dispatch_due().await.unwrap();
        assert!(engine.calendar_event_links(f.tenant.id, "booking:1").await.unwrap().is_empty());
        f.clock.advance(Duration::minutes(10));
        engine.dispatch_due().await.unwrap();
        let links = engine.calendar_event_links(f.tenant.id, "booking:1").await.unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].event_id, "ev-1");
        assert_eq!(links[0].join_url.as_deref(), Some("https://meet.google.com/abc-defg-hij"));
        assert_eq!(google.drafts.lock().unwrap().len(), 2);
        assert!(google.drafts.lock().unwrap()[1].online_meeting);
        // Its time is busy at once, before the next sync.
        let seen = engine.busy(f.tenant.id, alice, now, now + 2 * 86_400).await.unwrap();
        assert_eq!(seen.intervals, vec![draft.interval]);

        // Without a connected calendar, the event goes into the built-in one.
        let bob = engine.create_employee(&f.owner, person("bob@acme.example", "Bob")).await.unwrap();
        let bob = Owner::Employee(bob.id);
        engine.create_calendar_event(f.tenant.id, bob, "booking:2", &draft).await.unwrap();
        assert_eq!(engine.busy(f.tenant.id, bob, now, now + 2 * 86_400).await.unwrap().intervals, vec![draft.interval]);
        assert!(engine.calendar_event_links(f.tenant.id, "booking:2").await.unwrap().is_empty());
    }

    async fn a_bookings_event_gets_its_meet_link_after_an_outage_and_follows_the_booking(t: &TestDb) {
        let f = Fixture::new(t).await;
        let google = Scripted::new(Provider::Google);
        let (engine, alice) = with_provider(&f, google.clone()).await;
        engine.connect_with_app_credentials(&f.owner, alice, Provider::Google, "alice@acme.example").await.unwrap();
        let rules = serde_json::json!({
            "time_zone": "Asia/Tokyo", "durations_minutes": [30],
            "weekly": {"thu": [["09:00", "18:00"]]}, "place": {"kind": "google_meet"}
        });
        let link = LinkInput {
            slug: "alice".into(), title: "Intro call".into(), kind: "one_on_one".into(), hosts: vec![],
            owner: Some("alice@acme.example".into()), rules: serde_json::from_value(rules).unwrap(),
            single_use: false, active: true,
        };
        engine.create_booking_link(&f.owner, link).await.unwrap();
        google.creations.lock().unwrap().extend([
            Err(CalendarError::Provider("503 backendError".into())),
            Ok(ProviderEvent { id: "ev-1".into(), join_url: Some("https://meet.google.com/abc-defg-hij".into()) }),
        ]);
        let request = BookingRequest {
            start: "2026-11-26T10:00:00+09:00".into(), name: "Taro Yamada".into(),
            email: "taro@example.com".into(), time_zone: "Asia/Tokyo".into(), ..BookingRequest::default()
        };
        let booked = engine.book("alice", request, "192.0.2.1", None).await.unwrap();
        let (id, token) = (booked.booking.public_id.clone(), booked.manage_url.unwrap().split("?t=").nth(1).unwrap().to_owned());
        assert_eq!(booked.booking.conference_url, None, "the provider has not made it yet");

        // Google is down: the booking stands, the event waits in the outbox.
        engine.dispatch_due().await.unwrap();
        assert_eq!(engine.guest_booking(&id, &token).await.unwrap().status, "confirmed");
        f.clock.advance(Duration::minutes(10));
        engine.dispatch_due().await.unwrap();
        let drafts = google.drafts.lock().unwrap().clone();
        assert!(drafts.iter().all(|d| d.online_meeting && d.attendees.contains(&"taro@example.com".to_string())), "{drafts:?}");
        let view = engine.guest_booking(&id, &token).await.unwrap();
        assert_eq!(view.conference_url.as_deref(), Some("https://meet.google.com/abc-defg-hij"));

        // Moving the booking updates the same event (the Meet link stays); cancelling cancels it.
        engine.reschedule_booking(&id, &token, "2026-11-26T15:00:00+09:00").await.unwrap();
        engine.dispatch_due().await.unwrap();
        let updates = google.updates.lock().unwrap().clone();
        assert_eq!(updates.len(), 1);
        assert_eq!(updates[0].0, "ev-1");
        assert_eq!(updates[0].1.interval.start, booked.booking.start + 5 * 3600);
        assert_eq!(engine.guest_booking(&id, &token).await.unwrap().conference_url.as_deref(), Some("https://meet.google.com/abc-defg-hij"));
        engine.cancel_booking(&id, &token).await.unwrap();
        engine.dispatch_due().await.unwrap();
        assert_eq!(*google.cancels.lock().unwrap(), vec!["ev-1".to_string()]);
        assert!(engine.calendar_event_links(f.tenant.id, &format!("booking:{id}")).await.unwrap().is_empty());
        let now = now_secs(&f);
        assert_eq!(engine.busy(f.tenant.id, alice, now, now + 7 * 86_400).await.unwrap().intervals, vec![], "her time is free again");
    }

    async fn a_booking_moved_while_the_provider_is_down_makes_one_event_at_its_new_time(t: &TestDb) {
        let f = Fixture::new(t).await;
        let google = Scripted::new(Provider::Google);
        let (engine, alice) = with_provider(&f, google.clone()).await;
        engine.connect_with_app_credentials(&f.owner, alice, Provider::Google, "alice@acme.example").await.unwrap();
        let rules = serde_json::json!({
            "time_zone": "Asia/Tokyo", "durations_minutes": [30],
            "weekly": {"thu": [["09:00", "18:00"]]}, "place": {"kind": "google_meet"}
        });
        let link = LinkInput {
            slug: "alice".into(), title: "Intro call".into(), kind: "one_on_one".into(), hosts: vec![],
            owner: Some("alice@acme.example".into()), rules: serde_json::from_value(rules).unwrap(),
            single_use: false, active: true,
        };
        engine.create_booking_link(&f.owner, link).await.unwrap();
        google.creations.lock().unwrap().extend([
            Err(CalendarError::Provider("503 backendError".into())),
            Ok(ProviderEvent { id: "ev-1".into(), join_url: Some("https://meet.google.com/abc-defg-hij".into()) }),
            Ok(ProviderEvent { id: "ev-2".into(), join_url: None }),
        ]);
        let request = BookingRequest {
            start: "2026-11-26T10:00:00+09:00".into(), name: "Taro Yamada".into(),
            email: "taro@example.com".into(), time_zone: "Asia/Tokyo".into(), ..BookingRequest::default()
        };
        let booked = engine.book("alice", request, "192.0.2.1", None).await.unwrap();
        let (id, token) = (booked.booking.public_id.clone(), booked.manage_url.unwrap().split("?t=").nth(1).unwrap().to_owned());
        engine.dispatch_due().await.unwrap();
        // Google is down; the guest moves the meeting meanwhile.
        let moved = engine.reschedule_booking(&id, &token, "2026-11-26T15:00:00+09:00").await.unwrap();
        f.clock.advance(Duration::minutes(10));
        engine.dispatch_due().await.unwrap();
        f.clock.advance(Duration::minutes(10));
        engine.dispatch_due().await.unwrap();
        let drafts = google.drafts.lock().unwrap().clone();
        assert_eq!(drafts.len(), 2, "the failed first try and one event at the new time: {drafts:?}");
        assert_eq!(drafts[1].interval.start, moved.start);
        let links = engine.calendar_event_links(f.tenant.id, &format!("booking:{id}")).await.unwrap();
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].event_id, "ev-1");
        assert!(google.updates.lock().unwrap().is_empty());
    }
}
