//! The `orderdesk` binary run as production runs it: what it refuses at start.

use std::process::{Command, Stdio};
use std::time::Duration;

use orderdesk::config::DEV_JWT_SECRET;

const STRONG: &str = "0123456789abcdef0123456789abcdef";

/// `orderdesk api` with only the given secrets in its environment (nothing inherited, so a
/// developer's ORDERDESK_ALLOW_DEV_SECRETS cannot leak in); its exit status and stderr.
fn api_with_jwt_secret(jwt_secret: &str) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_orderdesk"))
        .args(["api", "--addr", "127.0.0.1:0"])
        .env_clear()
        .env("ORDERDESK_JWT_SECRET", jwt_secret)
        .env("ORDERDESK_EVENTS_SECRET", STRONG)
        .env("ORDERDESK_GUEST_SECRET", STRONG)
        .env("ORDERDESK_DOWNLOAD_SECRET", STRONG)
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the orderdesk binary runs");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill().ok();
            panic!("the api did not stop by itself");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    (
        status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn api_refuses_to_start_with_the_development_jwt_secret() {
    let (code, stderr) = api_with_jwt_secret(DEV_JWT_SECRET);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("ORDERDESK_JWT_SECRET"), "{stderr}");
    assert!(!stderr.contains("ORDERDESK_EVENTS_SECRET"), "{stderr}");
}

#[test]
fn api_refuses_to_start_with_the_compose_placeholder() {
    let (code, stderr) = api_with_jwt_secret("change-me-to-a-long-random-secret");
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("ORDERDESK_JWT_SECRET"), "{stderr}");
}
