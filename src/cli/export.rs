//! `orderdesk export`: an orders export on a running orderdesk, over its admin API. Starts it
//! (`POST /v1/admin/orders/exports`), follows its job (a progress bar in rows on a terminal,
//! plain lines otherwise), downloads the file through its signed link to `--out` and checks
//! its size and sha256 against the job's manifest. A refusal (problem+json) is printed with
//! its code and fields and exits non-zero, as does a failed job or a checksum that differs.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// How often the job is read while it runs.
const POLL: Duration = Duration::from_millis(250);

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The orderdesk API's base URL.
    #[arg(long, env = "ORDERDESK_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// An agent token with `orders.export` (admin, cs_lead or finance).
    #[arg(long, env = "ORDERDESK_TOKEN", hide_env_values = true)]
    pub token: String,
    /// The tenant (`X-Tenant-ID`), the token's own.
    #[arg(long, env = "ORDERDESK_TENANT")]
    pub tenant: String,
    /// Which orders, as the search language's filter in JSON; default every order.
    #[arg(long)]
    pub filter: Option<String>,
    /// Full text, as in a search.
    #[arg(long)]
    pub text: Option<String>,
    /// `csv`, `ndjson` or `parquet`.
    #[arg(long, default_value = "csv")]
    pub format: String,
    /// Column names, comma-separated, in file order; default the finance columns.
    #[arg(long, value_delimiter = ',')]
    pub columns: Vec<String>,
    /// `none` or `gzip` (CSV and NDJSON).
    #[arg(long)]
    pub compression: Option<String>,
    /// Sent as `Idempotency-Key`: the same key and arguments follow the same export.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    /// Where to write the file (written beside it as `<out>.part`, renamed once verified).
    #[arg(long)]
    pub out: PathBuf,
}

impl ExportArgs {
    /// The request body: only what was given.
    fn body(&self) -> anyhow::Result<Value> {
        let mut body = json!({ "format": self.format });
        if let Some(f) = &self.filter {
            body["filter"] = serde_json::from_str(f).context("--filter is not JSON")?;
        }
        if let Some(t) = &self.text {
            body["text"] = json!(t);
        }
        if !self.columns.is_empty() {
            body["columns"] = json!(self.columns);
        }
        if let Some(c) = &self.compression {
            body["compression"] = json!(c);
        }
        Ok(body)
    }
}

/// The admin API as this token in this tenant.
struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
    tenant: String,
}

impl Api {
    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .header("x-tenant-id", &self.tenant)
    }

    /// The JSON of a 2xx answer; anything else as an error naming its problem.
    async fn json(&self, req: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let res = req.send().await.context("orderdesk did not answer")?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!(refusal(status.as_u16(), &body));
        }
        Ok(body)
    }
}

/// A problem+json answer as one readable message: status, code, detail, every bad field
/// and the allowed values when the server listed them.
fn refusal(status: u16, p: &Value) -> String {
    let code = p["code"].as_str().unwrap_or("unknown");
    let detail = p["detail"].as_str().unwrap_or("no detail");
    let mut msg = format!("orderdesk refused the request: {status} {code}: {detail}");
    for e in p["errors"].as_array().into_iter().flatten() {
        msg.push_str(&format!("\n  {}: {}", e["field"], e["message"]));
    }
    if let Some(allowed) = p["allowed"].as_array() {
        msg.push_str(&format!("\n  allowed: {}", Value::from(allowed.clone())));
    }
    msg
}

/// Rows written and rows to write of a job's `progress`. Until the job counts rows, and
/// while their count is under way (a total of 0), the total is not known: `None`, not the
/// job's steps or zero rows.
fn rows_of(progress: &Value) -> (i64, Option<i64>) {
    let in_rows = progress["unit"] == "rows";
    let done = if in_rows {
        progress["done"].as_i64().unwrap_or(0)
    } else {
        0
    };
    let total = progress["total"].as_i64().filter(|t| in_rows && *t > 0);
    (done, total)
}

/// The job's progress: a bar on a terminal, else a line whenever the rows written change.
enum Progress {
    Bar(ProgressBar),
    Lines(Option<(i64, i64)>),
}

impl Progress {
    fn new() -> Progress {
        if !std::io::stderr().is_terminal() {
            return Progress::Lines(None);
        }
        let bar = ProgressBar::new(0);
        let style = ProgressStyle::with_template(
            "{spinner} [{bar:40}] {human_pos}/{human_len} rows  {per_sec}  eta {eta}  {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress::Bar(bar)
    }

    fn show(&mut self, job: &Value) {
        let p = &job["progress"];
        let (done, total) = rows_of(p);
        let status = job["status"].as_str().unwrap_or("?");
        match self {
            Progress::Bar(bar) => {
                if let Some(t) = total {
                    bar.set_length(t.max(0) as u64);
                }
                bar.set_position(done.max(0) as u64);
                bar.set_message(status.to_string());
            }
            Progress::Lines(last) => {
                let now = (done, total.unwrap_or(-1));
                if *last != Some(now) {
                    let total = total.map_or("?".into(), |t| t.to_string());
                    eprintln!("export {status}: {done}/{total} rows");
                    *last = Some(now);
                }
            }
        }
    }

    fn finish(self) {
        if let Progress::Bar(bar) = self {
            bar.finish();
        }
    }
}

/// Starts the export, follows it, downloads and verifies the file.
pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let body = args.body()?;
    let api = Api {
        http: reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()?,
        base: args.url.trim_end_matches('/').to_string(),
        token: args.token.clone(),
        tenant: args.tenant.clone(),
    };
    let mut req = api.request(reqwest::Method::POST, "/v1/admin/orders/exports");
    if let Some(key) = &args.idempotency_key {
        req = req.header("idempotency-key", key);
    }
    let accepted = api
        .json(req.json(&body).timeout(Duration::from_secs(60)))
        .await?;
    let job_id = accepted["job"]["id"]
        .as_str()
        .context("the answer names no job")?;
    eprintln!(
        "export {} accepted (job {job_id})",
        accepted["export_id"].as_str().unwrap_or("?")
    );
    let job = follow(&api, job_id).await?;
    if job["status"] != "succeeded" {
        let e = &job["error"];
        bail!(
            "the export job {job_id} ended {}: {} {}",
            job["status"],
            e["code"].as_str().unwrap_or(""),
            e["detail"].as_str().unwrap_or("")
        );
    }
    let result = &job["result"];
    let (bytes, sha256) = download(&api, result, &args.out).await?;
    println!(
        "{}: {} rows, {bytes} bytes, sha256 {sha256} (matches the manifest)",
        args.out.display(),
        result["row_count"]
    );
    Ok(())
}

/// Reads the job until it ends, showing its progress.
async fn follow(api: &Api, job_id: &str) -> anyhow::Result<Value> {
    let mut progress = Progress::new();
    let path = format!("/v1/admin/jobs/{job_id}");
    loop {
        let req = api.request(reqwest::Method::GET, &path);
        let job = api.json(req.timeout(Duration::from_secs(30))).await?;
        progress.show(&job);
        if !matches!(job["status"].as_str(), Some("queued" | "running")) {
            progress.finish();
            return Ok(job);
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Streams the file of `result` (its signed link: no token) to `<out>.part`, checks its size
/// and sha256 against the manifest, then renames it to `out`; a mismatch removes it.
async fn download(api: &Api, result: &Value, out: &PathBuf) -> anyhow::Result<(u64, String)> {
    let link = result["download_url"].as_str().context("no download_url")?;
    let url = match link.starts_with("http") {
        true => link.to_string(),
        false => format!("{}{link}", api.base),
    };
    let res = api
        .http
        .get(url)
        .send()
        .await
        .context("the download failed")?;
    let status = res.status();
    if !status.is_success() {
        let body: Value = res.json().await.unwrap_or(Value::Null);
        bail!(refusal(status.as_u16(), &body));
    }
    let part = PathBuf::from(format!("{}.part", out.display()));
    let mut file = tokio::fs::File::create(&part)
        .await
        .with_context(|| format!("cannot write {}", part.display()))?;
    let (mut hasher, mut bytes) = (Sha256::new(), 0u64);
    let mut stream = res.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.context("the download was cut")?;
        hasher.update(&chunk);
        bytes += chunk.len() as u64;
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    let sha256 = hex::encode(hasher.finalize());
    let (want_bytes, want_sha) = (result["bytes"].as_u64(), result["sha256"].as_str());
    if want_bytes != Some(bytes) || want_sha != Some(sha256.as_str()) {
        let _ = tokio::fs::remove_file(&part).await;
        bail!(
            "the download does not match the manifest: {bytes} bytes with sha256 {sha256}, \
             expected {} bytes with sha256 {}",
            result["bytes"],
            result["sha256"]
        );
    }
    tokio::fs::rename(&part, out).await?;
    Ok((bytes, sha256))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_total_not_counted_yet_is_unknown_not_zero_rows_or_steps() {
        let queued = json!({"unit": "steps", "done": 1, "total": 3});
        assert_eq!(rows_of(&queued), (0, None));
        let counting = json!({"unit": "rows", "done": 4000, "total": 0});
        assert_eq!(rows_of(&counting), (4000, None));
        let counted = json!({"unit": "rows", "done": 4000, "total": 8000});
        assert_eq!(rows_of(&counted), (4000, Some(8000)));
    }
}
