//! A local webhook receiver on 127.0.0.1:0: records every request (path, headers, body)
//! and answers each path with a scripted list of statuses (the last one repeats).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;

#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone, Default)]
pub struct Receiver {
    pub addr: String,
    got: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<HashMap<String, Vec<u16>>>>,
    delays: Arc<Mutex<HashMap<String, std::time::Duration>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let r = Receiver {
            addr: listener.local_addr().unwrap().to_string(),
            ..Receiver::default()
        };
        let app = Router::new()
            .route("/{name}", post(receive))
            .with_state(r.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        r
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }

    /// The statuses `/{name}` answers, in turn; the last one repeats. Default 200.
    pub fn script(&self, name: &str, statuses: &[u16]) {
        self.script
            .lock()
            .unwrap()
            .insert(name.into(), statuses.to_vec());
    }

    /// `/{name}` answers only after `delay` (a slow receiver).
    pub fn delay(&self, name: &str, delay: std::time::Duration) {
        self.delays.lock().unwrap().insert(name.into(), delay);
    }

    pub fn received(&self, name: &str) -> Vec<Received> {
        let path = format!("/{name}");
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Waits (up to `secs`) until `/{name}` received `n` requests.
    pub async fn wait_for(&self, name: &str, n: usize, secs: u64) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let got = self.received(name);
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "/{name} received {} requests, expected {n}",
                got.len()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

async fn receive(
    State(r): State<Receiver>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = format!("/{name}");
    r.got.lock().unwrap().push(Received {
        path: path.clone(),
        headers,
        body,
    });
    let status = {
        let mut script = r.script.lock().unwrap();
        match script.get_mut(&name) {
            Some(s) if s.len() > 1 => s.remove(0),
            Some(s) => s.first().copied().unwrap_or(200),
            None => 200,
        }
    };
    let delay = r.delays.lock().unwrap().get(&name).copied();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    let status = StatusCode::from_u16(status).unwrap();
    if status.is_redirection() {
        let to = format!("http://{}/redirected", r.addr);
        return (status, [(header::LOCATION, to)]).into_response();
    }
    status.into_response()
}
