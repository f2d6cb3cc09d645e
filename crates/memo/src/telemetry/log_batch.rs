//! A log sink that writes lines in batches from a background thread.
//!
//! `tracing_appender`'s non-blocking writer hands each line to its worker
//! through a channel, and a worker asleep on the channel is woken for every
//! line: under load that was a futex wake and a context switch per request,
//! a measurable part of the kernel time in the profile of the list request
//! (docs/performance.md). Here a line is appended to a shared buffer under a
//! mutex; only the line that finds the buffer empty wakes the writer, which
//! then waits [`BATCH_WINDOW`] for more lines and writes them with one
//! `write`. Idle, the writer sleeps. Nothing is dropped: when the buffer
//! holds [`BACKLOG_LIMIT`] bytes (the output is slower than the logging), the
//! line's thread writes the backlog itself, in order, and so waits for the
//! output as a plain writer would.

use std::{
    fmt,
    io::{self, Write},
    mem,
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    thread,
    time::Duration,
};

use tracing_subscriber::fmt::MakeWriter;

/// How long the writer collects lines after the first one of a batch: short
/// enough that a log read while debugging looks live.
pub const BATCH_WINDOW: Duration = Duration::from_millis(20);

/// The backlog at which a logging thread writes it instead of queueing more.
pub const BACKLOG_LIMIT: usize = 1 << 20;

/// The `MakeWriter` for `tracing_subscriber::fmt`: cheap to clone, one
/// buffer for all.
#[derive(Clone)]
pub struct BatchSink {
    shared: Arc<Shared>,
}

/// Keep it until exit: dropping it writes what is queued and stops the
/// writer thread.
#[must_use = "dropping the guard stops the log writer"]
pub struct BatchGuard {
    shared: Arc<Shared>,
    writer: Option<thread::JoinHandle<()>>,
}

impl fmt::Debug for BatchGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchGuard").finish_non_exhaustive()
    }
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Held while a batch is taken and written, so batches reach the output
    /// in the order their lines were logged.
    output: Mutex<Box<dyn Write + Send>>,
}

#[derive(Default)]
struct Queue {
    lines: Vec<u8>,
    stopping: bool,
}

/// A sink writing to `output` and the guard of its writer thread.
pub fn batch_sink(output: impl Write + Send + 'static) -> io::Result<(BatchSink, BatchGuard)> {
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue::default()),
        wake: Condvar::new(),
        output: Mutex::new(Box::new(output)),
    });
    let writer = thread::Builder::new().name("memo-log".into()).spawn({
        let shared = Arc::clone(&shared);
        move || shared.run_writer()
    })?;
    let sink = BatchSink {
        shared: Arc::clone(&shared),
    };
    let guard = BatchGuard {
        shared,
        writer: Some(writer),
    };
    Ok((sink, guard))
}

/// Poisoning only says that another thread panicked while logging; the
/// bytes are still whole lines, so logging goes on.
fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn push(&self, line: &[u8]) {
        let mut queue = lock(&self.queue);
        let was_empty = queue.lines.is_empty();
        queue.lines.extend_from_slice(line);
        let backlog = queue.lines.len() >= BACKLOG_LIMIT;
        drop(queue);
        if backlog {
            self.write_batch();
        } else if was_empty {
            self.wake.notify_one();
        }
    }

    /// Takes what is queued and writes it; returns whether the sink is stopping.
    fn write_batch(&self) -> bool {
        let mut output = lock(&self.output);
        let (lines, stopping) = {
            let mut queue = lock(&self.queue);
            (mem::take(&mut queue.lines), queue.stopping)
        };
        if !lines.is_empty() {
            // Nowhere to report a failing log output; the next batch tries again.
            let _ = output.write_all(&lines).and_then(|()| output.flush());
        }
        stopping
    }

    fn run_writer(&self) {
        loop {
            let mut queue = lock(&self.queue);
            while queue.lines.is_empty() && !queue.stopping {
                queue = self
                    .wake
                    .wait(queue)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            let stopping = queue.stopping;
            drop(queue);
            if !stopping {
                thread::sleep(BATCH_WINDOW);
            }
            if self.write_batch() {
                return;
            }
        }
    }
}

impl Drop for BatchGuard {
    fn drop(&mut self) {
        lock(&self.shared.queue).stopping = true;
        self.shared.wake.notify_one();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        // Lines logged after the writer stopped (other threads still running).
        self.shared.write_batch();
    }
}

/// One event's writer: the formatter writes the whole line in one call.
pub struct BatchWriter<'a> {
    shared: &'a Shared,
}

impl Write for BatchWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.shared.push(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchSink {
    type Writer = BatchWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        BatchWriter {
            shared: &self.shared,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// An output the test can read, counting its `write` calls.
    #[derive(Clone, Default)]
    struct Recorder {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<AtomicUsize>,
    }

    impl Write for Recorder {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.writes.fetch_add(1, Ordering::Relaxed);
            lock(&self.bytes).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log(sink: &BatchSink, line: &str) {
        sink.make_writer().write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn every_line_reaches_the_output_in_order_by_the_time_the_guard_is_dropped() {
        let output = Recorder::default();
        let (sink, guard) = batch_sink(output.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let sink = sink.clone();
                thread::spawn(move || {
                    for i in 0..1000 {
                        log(&sink, &format!("{t} {i}\n"));
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(lock(&output.bytes).clone()).unwrap();
        assert_eq!(text.lines().count(), 4000);
        for t in 0..4 {
            let mine: Vec<_> = text
                .lines()
                .filter(|l| l.starts_with(&format!("{t} ")))
                .collect();
            let expected: Vec<_> = (0..1000).map(|i| format!("{t} {i}")).collect();
            assert_eq!(mine, expected, "thread {t}'s lines");
        }
    }

    #[test]
    fn lines_logged_together_are_written_in_one_call() {
        let output = Recorder::default();
        let (sink, guard) = batch_sink(output.clone()).unwrap();
        for i in 0..100 {
            log(&sink, &format!("line {i}\n"));
        }
        drop(guard);
        // A plain or channel writer would make 100 writes.
        assert!(output.writes.load(Ordering::Relaxed) <= 2);
        assert_eq!(
            String::from_utf8(lock(&output.bytes).clone())
                .unwrap()
                .lines()
                .count(),
            100
        );
    }

    #[test]
    fn a_backlog_is_written_by_the_logging_thread_without_losing_lines() {
        let output = Recorder::default();
        let (sink, guard) = batch_sink(output.clone()).unwrap();
        let line = "x".repeat(1023) + "\n";
        for _ in 0..(3 * BACKLOG_LIMIT / line.len()) {
            log(&sink, &line);
        }
        assert!(
            lock(&output.bytes).len() >= BACKLOG_LIMIT,
            "written before the guard is dropped"
        );
        drop(guard);
        assert_eq!(lock(&output.bytes).len(), 3 * BACKLOG_LIMIT);
    }
}
