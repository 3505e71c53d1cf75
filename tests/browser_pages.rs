//! Pages in a real browser: Debian's headless Chromium driven through ChromeDriver
//! (WebDriver over HTTP). `scripts/install-browser.sh` installs both; CI runs it and sets
//! `FRONTDESK_REQUIRE_BROWSER=1`, so there a missing browser fails instead of being skipped.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use frontdesk_core::domain::people::Role;
use frontdesk_core::engine::auth::NewAdmin;
use frontdesk_core::engine::{Engine, PasswordHashing, Settings};
use frontdesk_core::i18n::Lang;
use frontdesk_core::port::{Mail, MailError, Mailer, Ports, SystemClock};
use frontdesk_core::testing::TestDb;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

#[derive(Debug, Default)]
struct RecordingMailer(Mutex<Vec<Mail>>);

#[async_trait::async_trait]
impl Mailer for RecordingMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        self.0.lock().unwrap().push(mail.clone());
        Ok(())
    }
}

/// ChromeDriver on a free port, and one headless Chromium session.
struct Browser {
    _driver: Child,
    _profile: tempfile::TempDir,
    http: reqwest::Client,
    session: String,
}

impl Browser {
    /// `None` when Chromium is not installed here (and not required).
    async fn start(accept_language: &str) -> Option<Browser> {
        let installed = ["/usr/bin/chromium", "/usr/bin/chromedriver"]
            .iter()
            .all(|p| std::path::Path::new(p).exists());
        if !installed {
            assert!(
                std::env::var_os("FRONTDESK_REQUIRE_BROWSER").is_none(),
                "Chromium is required here: run scripts/install-browser.sh"
            );
            eprintln!("Chromium not installed (scripts/install-browser.sh): page test skipped");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        // Ready when /status says so; checked on a ticking interval, bounded.
        tokio::time::timeout(Duration::from_secs(20), async {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tick.tick().await;
                if let Ok(reply) = http.get(format!("{base}/status")).send().await {
                    let status: Value = reply.json().await.unwrap_or_default();
                    if status["value"]["ready"] == true {
                        return;
                    }
                }
            }
        })
        .await
        .expect("chromedriver became ready");
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--no-first-run", "--disable-dev-shm-usage", format!("--user-data-dir={}", profile.path().display())],
            "prefs": {"intl.accept_languages": accept_language}
        }}}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        let browser = Browser {
            _driver: driver,
            _profile: profile,
            http,
            session: format!("{base}/session/{session}"),
        };
        // Finding an element waits up to 10 s for it to appear (e.g. after a form submits).
        browser
            .command("timeouts", json!({"implicit": 10_000}))
            .await;
        Some(browser)
    }

    async fn command(&self, path: &str, body: Value) -> Value {
        let reply: Value = self
            .http
            .post(format!("{}/{path}", self.session))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(reply["value"].get("error").is_none(), "{path}: {reply}");
        reply["value"].clone()
    }

    async fn get(&self, path: &str) -> Value {
        let reply: Value = self
            .http
            .get(format!("{}/{path}", self.session))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        reply["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.command("url", json!({ "url": url })).await;
    }

    async fn find(&self, css: &str) -> String {
        let found = self
            .command("element", json!({"using": "css selector", "value": css}))
            .await;
        found[ELEMENT_KEY].as_str().unwrap().to_owned()
    }

    async fn text_of(&self, css: &str) -> String {
        let element = self.find(css).await;
        self.get(&format!("element/{element}/text"))
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.command(&format!("element/{element}/clear"), json!({}))
            .await;
        self.command(&format!("element/{element}/value"), json!({ "text": text }))
            .await;
    }

    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.command(&format!("element/{element}/click"), json!({}))
            .await;
    }
}

/// The app served on a free port, with one account that asked for a reset link.
struct Site {
    engine: Engine,
    mailer: Arc<RecordingMailer>,
    base: String,
    _db: TestDb,
}

impl Site {
    async fn start() -> Site {
        let db = TestDb::sqlite().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let mailer = Arc::new(RecordingMailer::default());
        let settings = Settings {
            public_url: base.clone(),
            password_hashing: PasswordHashing {
                memory_kib: 1024,
                iterations: 1,
                parallelism: 1,
            },
            ..Settings::default()
        };
        let ports = Ports {
            clock: Arc::new(SystemClock),
            mailer: mailer.clone(),
        };
        let engine = Engine::new(db.db.clone(), ports, settings);
        let state = frontdesk_webhooks::AppState::new(engine.clone(), vec![]);
        tokio::spawn(frontdesk_webhooks::serve(
            listener,
            state,
            std::future::pending(),
        ));
        Site {
            engine,
            mailer,
            base,
            _db: db,
        }
    }

    /// Creates an account and returns the link of its reset mail.
    async fn reset_link(&self, email: &str, language: Lang) -> String {
        let tenant = self.engine.ensure_tenant("acme", "Acme").await.unwrap();
        let new = NewAdmin {
            email: email.into(),
            password: "Old#Pass42x".into(),
            role: Role::Admin,
            can_export: false,
            language,
        };
        self.engine
            .create_account(tenant.id, None, &new)
            .await
            .unwrap();
        self.engine
            .request_password_reset("acme", email, "127.0.0.1")
            .await
            .unwrap();
        self.engine.dispatch_due().await.unwrap();
        let mails = self.mailer.0.lock().unwrap();
        let body = &mails.last().expect("a reset mail").body;
        let start = body
            .find(&self.base)
            .expect("the mail links to this server");
        body[start..].split_whitespace().next().unwrap().to_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sets_a_new_password_from_the_reset_mail_in_japanese() {
    let Some(browser) = Browser::start("ja").await else {
        return;
    };
    let site = Site::start().await;
    let link = site.reset_link("hanako@acme.example", Lang::Ja).await;

    browser.open(&link).await;
    assert_eq!(browser.text_of("h1").await, "新しいパスワードの設定");

    browser.type_into("#new_password", "Password1!").await;
    browser.click("button[type=submit]").await;
    let refused = browser.text_of("[role=alert]").await;
    assert!(refused.contains("よく使われているパスワード"), "{refused}");

    browser.type_into("#new_password", "Sakura#2026x").await;
    browser.click("button[type=submit]").await;
    assert!(
        browser
            .text_of("[role=status]")
            .await
            .contains("パスワードを変更しました")
    );

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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reset_page_speaks_english_and_refuses_a_used_link() {
    let Some(browser) = Browser::start("en-US,en").await else {
        return;
    };
    let site = Site::start().await;
    let link = site.reset_link("bob@acme.example", Lang::En).await;

    browser.open(&link).await;
    assert_eq!(browser.text_of("h1").await, "Choose a new password");
    browser.type_into("#new_password", "zqxvlpwk1").await;
    browser.click("button[type=submit]").await;
    let refused = browser.text_of("[role=alert]").await;
    assert!(refused.contains("at least three of"), "{refused}");

    browser.type_into("#new_password", "Maple#2026x").await;
    browser.click("button[type=submit]").await;
    assert!(
        browser
            .text_of("[role=status]")
            .await
            .contains("Your password has been changed")
    );

    browser.open(&link).await;
    browser.type_into("#new_password", "Other#2026y").await;
    browser.click("button[type=submit]").await;
    assert!(
        browser
            .text_of("[role=alert]")
            .await
            .contains("invalid or has expired")
    );
    assert!(
        site.engine
            .login("acme", "bob@acme.example", "Maple#2026x", "127.0.0.1")
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_home_page_says_what_frontdesk_is_in_the_browsers_language() {
    let site = Site::start().await;
    for (language, intro) in [
        ("ja", "受付・日程調整・会議室管理"),
        ("en-US,en", "Reception, scheduling and meeting rooms"),
    ] {
        let Some(browser) = Browser::start(language).await else {
            return;
        };
        browser.open(&format!("{}/", site.base)).await;
        assert_eq!(browser.text_of("h1").await, "Frontdesk");
        let text = browser.text_of("body").await;
        assert!(text.contains(intro), "{language}: {text}");
        browser.click("a[href='/healthz']").await;
        assert!(browser.text_of("body").await.contains("\"status\":\"ok\""));
    }
}
