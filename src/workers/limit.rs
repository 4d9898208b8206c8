//! The limits of a queue's two apalis workers (its waiting and its fresh list). Each may
//! hold a few triggers between their fetch and their run's end (`ConcurrencyLimitLayer`,
//! gating `poll_ready`, so a worker does not fetch triggers it has no room for); their runs
//! share the queue's N slots ([`Slots`]), a slot each, which the run's own task takes
//! before it starts (`in_flight`) and keeps to its end — an apalis worker that dies (its
//! futures dropped) does not free the slots of the runs still going. Tokio's semaphore
//! serves waiters in order, so a fresh trigger starts when the next run ends, behind at
//! most as many of the waiting list's as fresh runs took slots, not after a fetched batch
//! of another tenant's. Neither worker holds a slot while it waits for a trigger: a process
//! at `--concurrency 1` still runs both lists.

use std::sync::Arc;
use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::PollSemaphore;
use tower::{Layer, Service};

/// The runs a queue executes at once in this process, shared by its two workers.
pub type Slots = Arc<Semaphore>;

/// [`Slots`] for `max` runs at once.
pub fn slots(max: usize) -> Slots {
    Arc::new(Semaphore::new(max.max(1)))
}

#[derive(Clone)]
pub struct ConcurrencyLimitLayer {
    fetched: Arc<Semaphore>,
}

impl ConcurrencyLimitLayer {
    /// At most `fetched` triggers of this worker between their fetch and their run's end.
    pub fn new(fetched: usize) -> Self {
        ConcurrencyLimitLayer {
            fetched: Arc::new(Semaphore::new(fetched.max(1))),
        }
    }
}

impl<S> Layer<S> for ConcurrencyLimitLayer {
    type Service = ConcurrencyLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ConcurrencyLimit {
            inner,
            fetched: PollSemaphore::new(self.fetched.clone()),
            permit: None,
        }
    }
}

pub struct ConcurrencyLimit<S> {
    inner: S,
    fetched: PollSemaphore,
    permit: Option<OwnedSemaphorePermit>,
}

impl<S: Clone> Clone for ConcurrencyLimit<S> {
    fn clone(&self) -> Self {
        ConcurrencyLimit {
            inner: self.inner.clone(),
            fetched: self.fetched.clone(),
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
        let fut = self.inner.call(req);
        Box::pin(async move {
            let out = fut.await;
            drop(fetched);
            out
        })
    }
}
