//! Where Argon2id work runs: a few long-lived threads, as many as the memory budget allows,
//! behind a bounded queue.
//!
//! Each hash or verification holds its cost's memory (19 MiB by default) while it runs. On
//! tokio's blocking pool hundreds ran at once, and the allocator kept the freed blocks in
//! one arena per thread. A fixed set of threads bounds both the memory in use and the number
//! of arenas that can keep it. Work that finds the queue full is refused at once with
//! [`Error::Busy`], before any hashing.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use tokio::sync::{RwLock, Semaphore, oneshot};

use super::PasswordHashing;
use crate::{Error, Result};

/// How much memory password hashing may use at once, and how much work may wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLimits {
    /// Memory for hashes running at once; divided by one hash's memory it gives the number
    /// of hashing threads (at least one).
    pub memory_budget_mib: u32,
    /// Hashes that may wait for a thread; beyond them the engine answers busy.
    pub max_waiting: usize,
}

impl Default for HashingLimits {
    /// 128 MiB: six hashes at the default 19 MiB cost; 64 waiting.
    fn default() -> Self {
        HashingLimits {
            memory_budget_mib: 128,
            max_waiting: 64,
        }
    }
}

impl HashingLimits {
    /// How many hashes of `cost` fit the budget at once (at least one).
    pub fn workers(&self, cost: PasswordHashing) -> usize {
        let per_hash_mib = cost.memory_kib.div_ceil(1024).max(1);
        (self.memory_budget_mib / per_hash_mib).max(1) as usize
    }
}

/// Seconds a caller refused as busy is told to wait: a burst of hashes clears in well under
/// a second per queue's worth.
const BUSY_RETRY_AFTER_SECS: u64 = 1;

type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads and their queue.
#[derive(Debug)]
pub(crate) struct Hashers {
    jobs: mpsc::Sender<Job>,
    /// Shared by the threads; each takes the next job.
    queue: Arc<Mutex<mpsc::Receiver<Job>>>,
    /// One permit per running or waiting job.
    admission: Arc<Semaphore>,
    workers: usize,
    max_waiting: usize,
    /// Threads started so far; started when work first needs them, never more than `workers`.
    started: Mutex<usize>,
    counters: Arc<Counters>,
    /// Open unless a test holds it: lets a test keep the threads busy without timing.
    gate: Arc<RwLock<()>>,
}

#[derive(Debug, Default)]
struct Counters {
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl Hashers {
    /// Hashers for `cost` within `limits`; no thread starts until there is work.
    pub(crate) fn new(cost: PasswordHashing, limits: HashingLimits) -> Hashers {
        let workers = limits.workers(cost);
        let (jobs, queue) = mpsc::channel();
        Hashers {
            jobs,
            queue: Arc::new(Mutex::new(queue)),
            admission: Arc::new(Semaphore::new(workers + limits.max_waiting)),
            workers,
            max_waiting: limits.max_waiting,
            started: Mutex::new(0),
            counters: Arc::default(),
            gate: Arc::default(),
        }
    }

    /// Runs `work` on a hashing thread, or refuses at once if the queue is full.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let permit = Arc::clone(&self.admission)
            .try_acquire_owned()
            .map_err(|_| Error::Busy {
                retry_after_secs: BUSY_RETRY_AFTER_SECS,
            })?;
        let (done, result) = oneshot::channel();
        let counters = Arc::clone(&self.counters);
        let job: Job = Box::new(move || {
            let now = counters.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            counters.most_in_flight.fetch_max(now, Ordering::SeqCst);
            // A panic must not take the thread with it: the pool would shrink for good.
            let outcome = catch_unwind(AssertUnwindSafe(work));
            counters.in_flight.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            if let Ok(value) = outcome {
                let _ = done.send(value);
            }
        });
        if self.start_thread_if_needed() == 0 {
            return Err(Error::internal(
                "starting a password-hashing thread",
                "no thread could be started",
            ));
        }
        self.jobs
            .send(job)
            .map_err(|err| Error::internal("queueing a password hash", err.to_string()))?;
        result
            .await
            .map_err(|err| Error::internal("hashing a password", err))
    }

    /// Starts one more thread while jobs outnumber threads and the budget allows; the
    /// number of threads running.
    fn start_thread_if_needed(&self) -> usize {
        let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        let admitted = self.workers + self.max_waiting - self.admission.available_permits();
        if *started >= self.workers || admitted <= *started {
            return *started;
        }
        let queue = Arc::clone(&self.queue);
        let gate = Arc::clone(&self.gate);
        let spawned = std::thread::Builder::new()
            .name("password-hashing".into())
            .spawn(move || {
                loop {
                    // The lock is held only to take a job, not while it runs.
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match next {
                        Ok(job) => {
                            let _open = gate.blocking_read();
                            job()
                        }
                        // Every sender is gone: the engine was dropped.
                        Err(_) => break,
                    }
                }
            });
        match spawned {
            Ok(_) => *started += 1,
            Err(err) => tracing::error!(%err, "could not start a password-hashing thread"),
        }
        *started
    }

    /// The most hashes that ran at the same time so far.
    pub(crate) fn most_in_flight(&self) -> usize {
        self.counters.most_in_flight.load(Ordering::SeqCst)
    }

    /// Keeps every hashing thread from starting its next job until the guard is dropped.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) async fn hold(&self) -> tokio::sync::OwnedRwLockWriteGuard<()> {
        Arc::clone(&self.gate).write_owned().await
    }
}
