//! The concurrency limits of a queue's two apalis workers (its waiting and its fresh list):
//! each may hold a few triggers fetched (`fetched`, gating `poll_ready`, so a worker does not
//! fetch triggers it has no room for), and together they run at most N runs (`running`, a
//! permit each run waits for before it starts). The fresh list's triggers wait for a running
//! permit beside at most one of the waiting list's (tokio's semaphore serves waiters in
//! order), so a fresh trigger starts when the next run ends, not after a fetched batch of
//! another tenant's. Neither worker holds a running permit while it waits for a trigger: a
//! process at `--concurrency 1` still runs both lists.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::PollSemaphore;
use tower::{Layer, Service};

/// The runs a queue executes at once in this process, shared by its two workers.
pub type Running = Arc<Semaphore>;

/// `Running` for `max` runs at once.
pub fn running(max: usize) -> Running {
    Arc::new(Semaphore::new(max.max(1)))
}

#[derive(Clone)]
pub struct ConcurrencyLimitLayer {
    fetched: Arc<Semaphore>,
    running: Running,
}

impl ConcurrencyLimitLayer {
    /// At most `fetched` triggers of this worker between their fetch and their run's end,
    /// and each run holding one of `running` while it runs.
    pub fn new(fetched: usize, running: Running) -> Self {
        ConcurrencyLimitLayer {
            fetched: Arc::new(Semaphore::new(fetched.max(1))),
            running,
        }
    }
}

impl<S> Layer<S> for ConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyLimit {
            inner,
            fetched: PollSemaphore::new(self.fetched.clone()),
            running: self.running.clone(),
            permit: None,
        }
    }
}

pub struct ConcurrencyLimit<S> {
    inner: S,
    fetched: PollSemaphore,
    running: Running,
    permit: Option<OwnedSemaphorePermit>,
}

impl<S: Clone> Clone for ConcurrencyLimit<S> {
    fn clone(&self) -> Self {
        ConcurrencyLimit {
            inner: self.inner.clone(),
            fetched: self.fetched.clone(),
            running: self.running.clone(),
            permit: None,
        }
    }
}

impl<S, R> Service<R> for ConcurrencyLimit<S>
where
    S: Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        if self.permit.is_none() {
            match self.fetched.poll_acquire(cx) {
                Poll::Ready(Some(p)) => self.permit = Some(p),
                // the semaphore is never closed
                Poll::Ready(None) | Poll::Pending => return Poll::Pending,
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let fetched = self.permit.take();
        let running = self.running.clone();
        let fut = self.inner.call(req);
        Box::pin(async move {
            let run = running.acquire_owned().await;
            let out = fut.await;
            drop((run, fetched));
            out
        })
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use tower::ServiceExt;

    use super::*;

    /// A service whose calls wait for `release` to close and report whether they started.
    fn gated(
        started: Arc<std::sync::atomic::AtomicUsize>,
        release: Arc<tokio::sync::Notify>,
    ) -> impl Service<u32, Response = u32, Error = Infallible, Future: Send + 'static> + Clone {
        tower::service_fn(move |n: u32| {
            let (started, release) = (started.clone(), release.clone());
            async move {
                started.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                release.notified().await;
                Ok::<_, Infallible>(n)
            }
        })
    }

    #[tokio::test]
    async fn a_fresh_run_starts_at_the_next_free_slot_and_an_idle_worker_holds_none() {
        use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
        let running = running(1);
        let started = Arc::new(AtomicUsize::new(0));
        let release = Arc::new(tokio::sync::Notify::new());
        let mut waiting = ConcurrencyLimitLayer::new(2, running.clone())
            .layer(gated(started.clone(), release.clone()));
        let mut fresh = ConcurrencyLimitLayer::new(1, running.clone())
            .layer(gated(started.clone(), release.clone()));

        // the waiting worker, ready for its next trigger, holds no running slot
        let first = waiting.ready().await.unwrap().call(1);
        let _ready_again = waiting.ready().await.unwrap();
        assert_eq!(
            running.available_permits(),
            1,
            "readiness takes no running slot"
        );

        let first = tokio::spawn(first);
        let second = tokio::spawn(fresh.ready().await.unwrap().call(2));
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(started.load(SeqCst), 1, "one run at a time");
        release.notify_one();
        assert_eq!(first.await.unwrap().unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(started.load(SeqCst), 2, "the fresh run took the freed slot");
        release.notify_one();
        assert_eq!(second.await.unwrap().unwrap(), 2);
    }
}
