//! What memo's batched statements on PostgreSQL share: the code of the queue to the task that
//! runs each kind (new memos, `postgres_inserts.rs`; pages of the list, `postgres_pages.rs`;
//! each has a queue and a task of its own).
//!
//! Each task takes every request waiting when its statement returns and answers them all with
//! the next: under load, several requests share a round trip, a wake-up of PostgreSQL's
//! backend and, for writes, a flush of the WAL; alone, a request runs at once.

use std::{
    sync::{Mutex, PoisonError},
    time::Duration,
};

use tokio::sync::{mpsc, oneshot};

use crate::db::DbError;

/// How long a request may wait for room in a full queue (a busy pool's acquire timeout),
/// before it fails with [`DbError::TimedOut`] (503) rather than queueing without end while
/// PostgreSQL is slow.
const QUEUE_WAIT: Duration = Duration::from_secs(5);

/// The queue of a batching task, started by the first request on the tokio runtime that
/// makes it, and again by the next one if that runtime has shut down since.
pub(super) struct TaskQueue<T> {
    sender: Mutex<Option<mpsc::Sender<T>>>,
    capacity: usize,
}

impl<T> std::fmt::Debug for TaskQueue<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskQueue")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> TaskQueue<T> {
    /// A queue holding at most `capacity` requests.
    pub(super) const fn new(capacity: usize) -> Self {
        Self {
            sender: Mutex::new(None),
            capacity,
        }
    }

    /// Queues the request `request` makes around its reply channel for the task, started with
    /// `start` (given the queue's receiving end) if none runs, and waits for the task's answer.
    ///
    /// # Errors
    /// The task's error; [`DbError::TimedOut`] when the queue stayed full for 5 s;
    /// [`DbError::Closed`] when the task ended without answering.
    pub(super) async fn ask<A, F>(
        &self,
        request: impl FnOnce(oneshot::Sender<Result<A, DbError>>) -> T,
        start: impl FnOnce(mpsc::Receiver<T>) -> F,
    ) -> Result<A, DbError>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let queued = self
            .sender(start)
            .send_timeout(request(reply), QUEUE_WAIT)
            .await;
        queued.map_err(|error| match error {
            mpsc::error::SendTimeoutError::Timeout(_) => DbError::TimedOut,
            mpsc::error::SendTimeoutError::Closed(_) => DbError::Closed,
        })?;
        answer.await.map_err(|_| DbError::Closed)?
    }

    /// The task's queue, started now if there is none or its task has ended.
    fn sender<F>(&self, start: impl FnOnce(mpsc::Receiver<T>) -> F) -> mpsc::Sender<T>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut sender = self.sender.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = sender.as_ref().filter(|sender| !sender.is_closed()) {
            return sender.clone();
        }
        let (new, receiver) = mpsc::channel(self.capacity);
        tokio::spawn(start(receiver));
        *sender = Some(new.clone());
        new
    }
}
