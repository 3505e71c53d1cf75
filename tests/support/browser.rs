//! Pages in a real browser: the app served in-process on a free port, and Debian's headless
//! Chromium driven through ChromeDriver with `fantoccini`. `scripts/install-browser.sh`
//! installs both; CI runs it and sets `FRONTDESK_REQUIRE_BROWSER=1`, so there a missing
//! browser fails instead of being skipped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use frontdesk_core::engine::{Engine, Settings};
use frontdesk_core::port::OpenIdProvider;
use frontdesk_core::testing::{ManualClock, RecordingMailer, TestDb, TestEngine, test_settings};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long ChromeDriver may take to answer that it is ready.
const DRIVER_STARTUP: Duration = Duration::from_secs(20);
/// How long a page may take to show an element (e.g. after a form submits).
const PAGE_PATIENCE: Duration = Duration::from_secs(10);
/// The window: a tablet held upright, the reception kiosk's shape.
const WINDOW: &str = "--window-size=820,1180";

/// How long a stopped server may take to finish the requests in flight.
const SHUTDOWN: Duration = Duration::from_secs(10);

/// The app served in-process on a free port of 127.0.0.1, on a fresh SQLite database.
pub struct Site {
    pub engine: Engine,
    pub mailer: Arc<RecordingMailer>,
    /// The engine's clock (it moves only when a test moves it).
    pub clock: Arc<ManualClock>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Stops the server, and the server's task (while it serves).
    serving: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    db: TestDb,
}

impl Site {
    /// Starts serving; the listener is bound before this returns, so no wait is needed.
    pub async fn start() -> Site {
        Site::start_with_openid(None).await
    }

    /// [`Site::start`], speaking OpenID Connect through `openid` instead of the test stub.
    pub async fn start_with_openid(openid: Option<Arc<dyn OpenIdProvider>>) -> Site {
        let db = TestDb::sqlite().await;
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let settings = Settings {
            public_url: base.clone(),
            ..test_settings()
        };
        let test_engine = TestEngine::with_settings(&db, settings.clone());
        let engine = match openid {
            Some(openid) => Engine::new(
                db.db.clone(),
                test_engine.ports_with_openid(openid),
                settings,
            ),
            None => test_engine.engine,
        };
        let mailer = test_engine.mailer;
        let clock = test_engine.clock;
        let serving = Some(serve(listener, &engine));
        Site {
            engine,
            mailer,
            clock,
            base,
            serving,
            db,
        }
    }

    /// Stops serving, as a server that is shut down: connections are refused until
    /// [`Site::start_again`]. Requests in flight are finished first.
    pub async fn stop(&mut self) {
        let (stop, served) = self.serving.take().expect("the site is serving");
        let _ = stop.send(());
        tokio::time::timeout(SHUTDOWN, served)
            .await
            .expect("the server stopped")
            .expect("the server task ended")
            .expect("the server stopped cleanly");
    }

    /// Serves again on the same address, database and engine (after [`Site::stop`]).
    pub async fn start_again(&mut self) {
        assert!(self.serving.is_none(), "the site is already serving");
        let address = self.base.trim_start_matches("http://");
        let listener = TcpListener::bind(address)
            .await
            .expect("the same address is free again");
        self.serving = Some(serve(listener, &self.engine));
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The site's database, to check what the pages wrote.
    pub fn db(&self) -> &TestDb {
        &self.db
    }
}

/// Serves the app for `engine` on `listener` until told to stop.
fn serve(
    listener: TcpListener,
    engine: &Engine,
) -> (oneshot::Sender<()>, JoinHandle<std::io::Result<()>>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let state = frontdesk_webhooks::AppState::new(engine.clone(), vec![]);
    let served = tokio::spawn(frontdesk_webhooks::serve(listener, state, async {
        let _ = stopped.await;
    }));
    (stop, served)
}

/// ChromeDriver on a free port with one headless Chromium session. Dropping it kills the
/// driver (also when a test panics); [`Browser::close`] ends the session cleanly first.
pub struct Browser {
    client: Client,
    _driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A browser whose `Accept-Language` is `accept_language`; `None` when Chromium is not
    /// installed here and not required.
    pub async fn start(accept_language: &str) -> Option<Browser> {
        let installed = [CHROMIUM, CHROMEDRIVER]
            .iter()
            .all(|p| Path::new(p).exists());
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
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        wait_until_ready(&base).await;

        let profile = tempfile::tempdir().unwrap();
        let options = json!({
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--no-first-run", "--disable-dev-shm-usage", WINDOW,
                     format!("--user-data-dir={}", profile.path().display())],
            "prefs": {"intl.accept_languages": accept_language},
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        // The driver is on this machine, spoken to over plain HTTP: no TLS connector needed.
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&base)
            .await
            .expect("a Chromium session opens");
        Some(Browser {
            client,
            _driver: driver,
            _profile: profile,
        })
    }

    /// Opens `url` and waits for it to load.
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("the page opens");
    }

    /// The visible text of the first element matching `css`, waiting for it to appear.
    pub async fn text_of(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("element text")
    }

    /// Replaces the text of the input matching `css` with `text`.
    pub async fn type_into(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.expect("input clears");
        input.send_keys(text).await.expect("typing works");
    }

    /// Types `keys` into the element matching `css` as they come (`"\u{E007}"` is Enter),
    /// without clearing it first.
    pub async fn send_keys(&self, css: &str, keys: &str) {
        self.find(css)
            .await
            .send_keys(keys)
            .await
            .expect("typing works");
    }

    /// Waits until an element matches `css` (a bounded poll, like [`Browser::text_of`]).
    pub async fn wait_for(&self, css: &str) {
        self.find(css).await;
    }

    /// The value of `attribute` of the element matching `css`, waiting for the element.
    pub async fn attribute(&self, css: &str, attribute: &str) -> Option<String> {
        self.find(css)
            .await
            .attr(attribute)
            .await
            .expect("attribute read")
    }

    /// The value of the DOM property `name` of the element matching `css` (an input's
    /// `value` is what it holds now, not the attribute it started with).
    pub async fn property(&self, css: &str, name: &str) -> Option<String> {
        self.find(css)
            .await
            .prop(name)
            .await
            .expect("property read")
    }

    /// The address the window shows (with its fragment, if any).
    pub async fn current_url(&self) -> String {
        self.client
            .current_url()
            .await
            .expect("the current URL")
            .to_string()
    }

    /// Runs `script` in the page (its `arguments` are `args`) and returns what it returns.
    pub async fn run(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .expect("the script runs")
    }

    /// Types `text` on the keyboard into whatever has the focus, as a person would: no
    /// element is aimed at (`Key` characters such as `"\u{E004}"` are Tab and the like).
    pub async fn keyboard(&self, text: &str) {
        let mut keys = KeyActions::new("keyboard".into());
        for key in text.chars() {
            keys = keys
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
        }
        self.client
            .perform_actions(keys)
            .await
            .expect("the keys are pressed");
    }

    /// Presses `key` (Tab, Enter, …) on whatever has the focus.
    pub async fn press(&self, key: Key) {
        self.keyboard(&char::from(key).to_string()).await;
    }

    /// Whether the focused element matches `css`.
    pub async fn focused_is(&self, css: &str) -> bool {
        let script =
            "const at = document.activeElement; return at !== null && at.matches(arguments[0]);";
        self.run(script, vec![json!(css)]).await == Value::Bool(true)
    }

    /// Presses Tab until the focused element matches `css`, as a keyboard user moves
    /// through the page (bounded: the element must be reachable within 60 presses).
    pub async fn tab_to(&self, css: &str) {
        for _ in 0..60 {
            if self.focused_is(css).await {
                return;
            }
            self.press(Key::Tab).await;
        }
        panic!("Tab never reached {css}");
    }

    /// Waits until `script` (a function body) returns `true` (a bounded poll).
    pub async fn wait_until(&self, script: &str) {
        let held = tokio::time::timeout(PAGE_PATIENCE, async {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tick.tick().await;
                if self.run(script, vec![]).await == Value::Bool(true) {
                    return;
                }
            }
        })
        .await;
        assert!(held.is_ok(), "never true: {script}");
    }

    /// Resizes the window to `width` × `height` CSS pixels (a phone: 390 × 844).
    pub async fn resize(&self, width: u32, height: u32) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("the window resizes");
    }

    /// Clicks the element matching `css`.
    pub async fn click(&self, css: &str) {
        self.find(css).await.click().await.expect("click works");
    }

    /// Waits until some element matching `css` shows text containing `needle` (a bounded
    /// poll: the page changes by script, after requests of its own).
    pub async fn wait_for_text(&self, css: &str, needle: &str) {
        let found = tokio::time::timeout(PAGE_PATIENCE, async {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            loop {
                tick.tick().await;
                let elements = self
                    .client
                    .find_all(Locator::Css(css))
                    .await
                    .unwrap_or_default();
                for element in elements {
                    if element.text().await.is_ok_and(|text| text.contains(needle)) {
                        return;
                    }
                }
            }
        })
        .await;
        assert!(found.is_ok(), "no {css} showed {needle:?}");
    }

    /// How many elements match `css` now.
    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_or(0, |found| found.len())
    }

    /// Saves what the window shows as `target/screenshots/<name>.png` for a person to look at.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Ends the browser session; the driver is killed when `self` drops.
    pub async fn close(self) {
        self.client.close().await.expect("the session closes");
    }

    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PAGE_PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|err| panic!("{css} did not appear: {err}"))
    }
}

/// Polls ChromeDriver's `/status` until it says it is ready, bounded by [`DRIVER_STARTUP`].
async fn wait_until_ready(base: &str) {
    let http = reqwest::Client::new();
    tokio::time::timeout(DRIVER_STARTUP, async {
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
}
