//! A notice committed but not yet delivered survives a crash: the server is killed with
//! SIGKILL while Slack is unreachable, and after a restart the notice reaches Slack, once.

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use frontdesk_bots::testing::FakeSlack;
use frontdesk_core::store::Db;
use frontdesk_core::testing::TestDb;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use support::{PATIENCE, Server, Signal, client};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

const SIGNING_SECRET: &str = "crash-test-signing-secret";

/// Slack's address while it is down: connections are accepted and dropped unanswered.
/// Hands the port back (still bound, so nothing else takes it) when Slack comes back.
struct SlackDown {
    attempts: watch::Receiver<usize>,
    back: oneshot::Sender<()>,
    listener: tokio::task::JoinHandle<TcpListener>,
}

impl SlackDown {
    async fn start() -> (SlackDown, String) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_url = format!("http://{}/api", listener.local_addr().unwrap());
        let (count, attempts) = watch::channel(0);
        let (back, mut is_back) = oneshot::channel();
        let listener = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = &mut is_back => return listener,
                    accepted = listener.accept() => {
                        drop(accepted);
                        count.send_modify(|n| *n += 1);
                    }
                }
            }
        });
        let down = SlackDown {
            attempts,
            back,
            listener,
        };
        (down, api_url)
    }

    /// Waits until someone tried to reach Slack.
    async fn tried(&mut self) {
        tokio::time::timeout(Duration::from_secs(10), self.attempts.wait_for(|n| *n > 0))
            .await
            .expect("the dispatcher tried to reach Slack within 10 s")
            .unwrap();
    }

    /// Slack is back on the same port.
    async fn recover(self) -> FakeSlack {
        self.back.send(()).unwrap();
        let listener = self.listener.await.unwrap();
        FakeSlack::start_on(listener, &[])
    }
}

/// A direct message `text` from Slack user `user`, signed as Slack signs it, now.
fn signed_dm(user: &str, text: &str) -> (String, String, String) {
    let body = json!({"type": "event_callback", "team_id": "T1", "event_id": "EvCrash1",
        "event": {"type": "message", "channel_type": "im", "user": user,
                  "channel": format!("D{user}"), "text": text}})
    .to_string();
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_SECRET.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let signature = format!("v0={}", hex::encode(mac.finalize().into_bytes()));
    (body, timestamp, signature)
}

/// `Some` once an outbox row waits to be retried after a failed try.
async fn retry_recorded(database: &Db) -> Option<()> {
    const WAITING: &str = "SELECT COUNT(*) FROM outbox \
        WHERE state = 'pending' AND attempts > 0 AND lease_until IS NULL";
    let waiting: i64 = match database {
        Db::Sqlite(pool) => sqlx::query_scalar(WAITING).fetch_one(pool).await.ok()?,
        Db::Postgres(pool) => sqlx::query_scalar(WAITING).fetch_one(pool).await.ok()?,
    };
    (waiting > 0).then_some(())
}

async fn a_notice_committed_before_a_crash_is_delivered_after_the_restart(
    database_url: Option<&str>,
) {
    let data_dir = tempfile::tempdir().unwrap();
    let (mut slack_down, api_url) = SlackDown::start().await;
    let mut env = vec![
        ("FRONTDESK_SLACK__TENANT", "demo"),
        ("FRONTDESK_SLACK__BOT_TOKEN", "xoxb-crash-test"),
        ("FRONTDESK_SLACK__SIGNING_SECRET", SIGNING_SECRET),
        ("FRONTDESK_SLACK__API_URL", api_url.as_str()),
    ];
    if let Some(url) = database_url {
        env.push(("FRONTDESK_DATABASE__URL", url));
    }
    let mut server = Server::start_demo(data_dir.path(), &env).await;

    // Someone writes "help" to the bot: the answer is committed to the outbox, and the
    // dispatcher's first try finds Slack down.
    let (body, timestamp, signature) = signed_dm("U1", "help");
    let acknowledged = client()
        .post(server.url("/webhooks/slack/events"))
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", timestamp)
        .header("x-slack-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(acknowledged.status(), 200);
    slack_down.tried().await;
    // Killed once the failed try is on record: the answer is committed, waiting to be
    // retried, and not sent. (Killed in the middle of a send, the row would stay leased to
    // the dead server for the lease's five minutes before another took it.)
    let database_url =
        database_url.map_or_else(|| Db::sqlite_url_in(data_dir.path()), str::to_owned);
    let database = Db::connect(&database_url).await.unwrap();
    support::wait_for("the failed try on record", PATIENCE, || {
        retry_recorded(&database)
    })
    .await;
    database.close().await;
    server.stop_with(Signal::Kill).await;

    // Slack is back; so is Frontdesk, on the same data.
    let slack = slack_down.recover().await;
    let mut server = Server::start(data_dir.path(), true, &env).await;
    let posted = slack.wait_for("chat.postMessage", 1).await;
    assert_eq!(posted[0].args["channel"], "DU1");
    let answer = posted[0].args["blocks"].to_string();
    assert!(answer.contains("Frontdesk"), "the help answer: {answer}");
    server.stop_with(Signal::Term).await;
    assert_eq!(
        slack.succeeded("chat.postMessage").len(),
        1,
        "delivered once"
    );
}

#[tokio::test]
async fn sqlite_a_notice_committed_before_a_crash_is_delivered_after_the_restart() {
    a_notice_committed_before_a_crash_is_delivered_after_the_restart(None).await;
}

#[tokio::test]
async fn postgres_a_notice_committed_before_a_crash_is_delivered_after_the_restart() {
    // Panics instead when CI requires PostgreSQL and it is missing.
    let Some(postgres) = TestDb::postgres().await else {
        return;
    };
    a_notice_committed_before_a_crash_is_delivered_after_the_restart(Some(postgres.url())).await;
}
