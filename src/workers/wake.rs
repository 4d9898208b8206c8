//! Fast pickup for idle workers. Every push lands in apalis' *scheduled* set (apalis-redis
//! 1.0 stores `run_at = max(run_at, now)`), so its own `tasks:*:available` pub/sub signal
//! (what `RedisStorageFactory` listens to) never fires for our pushes, and an idle worker
//! would only look again at its next poll. Instead, `TriggerQueue::push` PUBLISHes on
//! `{queue}:wake`; each worker process subscribes and wakes its apalis poller, which fetches
//! at once. A slow fallback poll (see `worker::FALLBACK_POLL`) covers a lost wake-up (pub/sub
//! is at most once) at a bounded idle cost.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::AtomicWaker;
use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;

/// A stream that yields once per wake-up (wake-ups that arrive together collapse).
#[derive(Clone, Default)]
pub struct WakeSignal(Arc<Inner>);

#[derive(Default)]
struct Inner {
    waker: AtomicWaker,
    set: AtomicBool,
}

impl WakeSignal {
    pub fn wake(&self) {
        self.0.set.store(true, Ordering::Release);
        self.0.waker.wake();
    }
}

impl Stream for WakeSignal {
    type Item = ();

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<()>> {
        let inner = &self.0;
        if inner.set.swap(false, Ordering::AcqRel) {
            return Poll::Ready(Some(()));
        }
        inner.waker.register(cx.waker());
        if inner.set.swap(false, Ordering::AcqRel) {
            Poll::Ready(Some(()))
        } else {
            Poll::Pending
        }
    }
}

/// Subscribes to `channel` and wakes `signal` on every message, reconnecting after a Redis
/// outage, until `shutdown`.
pub async fn listen(
    redis_url: String,
    channel: String,
    signal: WakeSignal,
    shutdown: CancellationToken,
) {
    loop {
        let session = async {
            let client = redis::Client::open(redis_url.as_str())?;
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&channel).await?;
            // anything pushed while we were not listening is picked up now
            signal.wake();
            let mut messages = pubsub.into_on_message();
            while messages.next().await.is_some() {
                signal.wake();
            }
            Ok::<(), redis::RedisError>(())
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            res = session => match res {
                Ok(()) => tracing::warn!("wake-up subscription closed; resubscribing"),
                Err(e) => tracing::warn!(error = %e, "wake-up subscription failed; retrying"),
            },
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
