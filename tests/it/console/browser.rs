//! A real headless Chromium for the console's tests, driven over WebDriver (Debian's
//! `chromium` and `chromium-driver`, which `.ci/run` installs). Each browser has its own
//! chromedriver on a free port; at most two run at once, so the suite stays within 2 cores.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::helpers::TestApp;
use crate::resilience::free_port;

static BROWSERS: Semaphore = Semaphore::const_new(2);

pub struct Browser {
    pub client: Client,
    /// The console's origin as the browser sees it: `localhost`, a secure context, so the
    /// session's `Secure` cookie is kept over plain HTTP as it would be over HTTPS.
    pub base: String,
    driver: Child,
    _slot: SemaphorePermit<'static>,
}

/// Where screenshots are kept: `$TMPDIR/orderdesk-console-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let dir = std::env::temp_dir().join("orderdesk-console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

impl Browser {
    pub async fn start(app: &TestApp) -> Browser {
        let slot = BROWSERS.acquire().await.unwrap();
        let driver_path =
            std::env::var("ORDERDESK_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        // its own process group, so that a failed test can end the browser it started too
        let spawn = |port: u16| {
            Command::new(&driver_path)
                .process_group(0)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot start {driver_path} ({e}): install chromium-driver (.ci/run does)"
                    )
                })
        };
        let mut port = free_port();
        let mut driver = spawn(port);
        let mut caps = serde_json::Map::new();
        let mut chrome = json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
            "--disable-dev-shm-usage", "--window-size=1280,900", "--lang=en-US"]});
        if std::path::Path::new("/usr/bin/chromium").exists() {
            chrome["binary"] = json!("/usr/bin/chromium");
        }
        caps.insert("goog:chromeOptions".into(), chrome);
        let mut last = None;
        for _ in 0..100 {
            if let Ok(Some(_)) = driver.try_wait() {
                // it exited: the free port was taken before it could listen; another one
                port = free_port();
                driver = spawn(port);
            }
            let url = format!("http://127.0.0.1:{port}");
            match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    let base = app.api.replace("127.0.0.1", "localhost");
                    return Browser {
                        client,
                        base,
                        driver,
                        _slot: slot,
                    };
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start a session: {last:?}");
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
    }

    /// The path (and query) the browser is at.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Signs in through the sign-in page with `credential`, as a person would.
    pub async fn sign_in(&self, credential: &str) {
        self.goto("/console/sign-in").await;
        self.type_into("#credential", credential).await;
        self.click("form button[type=submit]").await;
        self.wait_for_css("header.top").await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        let target = self.client.find(Locator::Css(css)).await.unwrap();
        target.click().await.unwrap();
    }

    pub async fn wait_for_css(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
    }

    pub async fn text_of(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// The text of `css` now, or `None` while the page has none (it may be reloading).
    pub async fn try_text(&self, css: &str) -> Option<String> {
        let element = self.client.find(Locator::Css(css)).await.ok()?;
        element.text().await.ok()
    }

    /// Polls `check` (up to 30 s) until it holds; the page updates itself meanwhile.
    pub async fn eventually<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..300 {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = self
            .screenshot(&format!("failed-{}", what.replace(' ', "-")))
            .await;
        panic!("the page never showed: {what}");
    }

    /// Saves a PNG of the page as a test artefact and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let path = screenshot_dir().join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // a failed test does not reach `close`: its chromedriver and the browser it started
        // (the same process group) end with it
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
