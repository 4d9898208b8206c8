//! `orderdesk export` as a subprocess against a test server: the file it writes is the
//! export's, verified; refusals and a bad token end it non-zero with the problem's code.

use std::process::Output;

use sha2::{Digest, Sha256};

use super::{finance, seeded_ids, spawn};
use crate::helpers::{TENANT, TestApp};

async fn cli(app: &TestApp, token: &str, args: &[&str]) -> Output {
    let mut cmd = app.command(&["export", "--url", &app.api, "--tenant", TENANT]);
    cmd.args(args).env("ORDERDESK_TOKEN", token);
    // the test server runs on this runtime: wait for the child without blocking it
    tokio::process::Command::from(cmd).output().await.unwrap()
}

#[tokio::test]
async fn the_cli_follows_the_export_and_writes_the_verified_file() {
    let (app, dir) = spawn(1).await;
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("delivered.csv");
    let filter = r#"{"status": {"in": ["delivered"]}}"#;
    let args = [
        "--format",
        "csv",
        "--columns",
        "id,total_minor",
        "--filter",
        filter,
    ];
    let run = cli(
        &app,
        &finance(&app),
        &[&args[..], &["--out", out.to_str().unwrap()]].concat(),
    )
    .await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert!(run.status.success(), "{stdout}\n{stderr}");
    let file = std::fs::read(&out).unwrap();
    let sha = hex::encode(Sha256::digest(&file));
    assert!(
        stdout.contains(&sha),
        "the summary names the verified sha256: {stdout}"
    );
    // not a terminal: plain progress lines, in rows
    assert!(stderr.contains(" rows"), "{stderr}");
    let text = String::from_utf8(file).unwrap();
    assert_eq!(text.lines().next(), Some("id,total_minor"));
    let ids: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids, seeded_ids(&app, |o| o.status.as_str() == "delivered"));
    assert!(!dir.join("delivered.csv.part").exists());

    // a refusal: its code, field and the allowed names, non-zero, nothing written
    let bad = dir.join("bad.csv");
    let run = cli(
        &app,
        &finance(&app),
        &["--columns", "id,colour", "--out", bad.to_str().unwrap()],
    )
    .await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("422 export.unknown_column"), "{stderr}");
    assert!(
        stderr.contains("columns[1]") && stderr.contains("total_minor"),
        "{stderr}"
    );
    assert!(!bad.exists());
    let run = cli(
        &app,
        &finance(&app),
        &["--filter", "{not json", "--out", bad.to_str().unwrap()],
    )
    .await;
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("--filter is not JSON"));
    // a token without orders.export
    let agent = app.agent_token(TENANT, "agt_cs", &["cs_agent"]);
    let run = cli(&app, &agent, &["--out", bad.to_str().unwrap()]).await;
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("403 auth.forbidden"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
