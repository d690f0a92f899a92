//! Handing the system back the memory the app has freed.
//!
//! glibc's allocator keeps what a thread frees in that thread's arena for reuse: after the
//! start-up burst (twenty connectors connecting at once, their lists read, the window's
//! files served) the app stays resident at that peak long after the memory is free. So once
//! a burst of work is over, [`AfterBursts`] asks the allocator to return its free pages.

use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::mpsc;

/// How long the app must be quiet after a burst before its freed memory is handed back.
pub const QUIET: Duration = Duration::from_secs(2);

/// What the log says each time (with `released` and the `ms` it took).
pub const HANDED_BACK: &str = "freed memory handed back after a burst of work";

/// Asks the allocator to return the free pages of every arena to the system: glibc's
/// `malloc_trim(0)`. Returns whether anything was returned. Elsewhere (macOS, Windows, musl)
/// it does nothing: their allocators return freed memory themselves.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_freed() -> bool {
    // The one call into C in the app's own code.
    #[expect(unsafe_code, reason = "glibc's malloc_trim has no Rust binding")]
    // SAFETY: `malloc_trim` takes no pointers and touches only the allocator's own free
    // lists, under the same locks as every other allocation.
    let released = unsafe { libc::malloc_trim(0) };
    released == 1
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed() -> bool {
    false
}

/// Hands freed memory back when a burst of work is over: [`busy`](Self::busy) marks work,
/// and once nothing has been marked for `quiet`, `release` runs once (on a blocking thread,
/// as it walks every arena). Cloning shares it; when every clone is gone, it stops.
#[derive(Clone)]
pub struct AfterBursts {
    work: mpsc::Sender<()>,
}

impl AfterBursts {
    pub fn start(
        runtime: &Handle,
        quiet: Duration,
        release: impl Fn() -> bool + Send + Sync + 'static,
    ) -> Self {
        // One slot: marks made while one waits are the same burst.
        let (work, mut marked) = mpsc::channel::<()>(1);
        let release = std::sync::Arc::new(release);
        runtime.spawn(async move {
            while marked.recv().await.is_some() {
                let mut open = true;
                while open {
                    match tokio::time::timeout(quiet, marked.recv()).await {
                        Ok(Some(())) => {}
                        Ok(None) => open = false,
                        Err(_) => break,
                    }
                }
                let release = std::sync::Arc::clone(&release);
                let started = std::time::Instant::now();
                if let Ok(released) = tokio::task::spawn_blocking(move || release()).await {
                    tracing::info!(
                        released,
                        ms = started.elapsed().as_secs_f64() * 1000.0,
                        "{HANDED_BACK}"
                    );
                }
                if !open {
                    break;
                }
            }
        });
        Self { work }
    }

    /// Work is going on (or just happened): the memory is handed back once it is over.
    pub fn busy(&self) {
        // A full slot already says so.
        let _ = self.work.try_send(());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const QUIET: Duration = Duration::from_millis(200);

    /// An `AfterBursts` that says on a channel when it released.
    fn watched() -> (AfterBursts, mpsc::UnboundedReceiver<Instant>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let after = AfterBursts::start(&Handle::current(), QUIET, move || {
            tx.send(Instant::now()).is_ok()
        });
        (after, rx)
    }

    async fn next(released: &mut mpsc::UnboundedReceiver<Instant>) -> Instant {
        tokio::time::timeout(Duration::from_secs(60), released.recv())
            .await
            .expect("released within a minute")
            .expect("still running")
    }

    /// Work more often than QUIET postpones the release; it comes QUIET after the last.
    #[tokio::test]
    async fn work_postpones_the_release_until_it_has_been_quiet_long_enough() {
        let (after, mut released) = watched();
        tokio::time::sleep(QUIET * 2).await;
        assert!(released.try_recv().is_err(), "nothing before any work");

        let mut last = Instant::now();
        let mut longest_gap = Duration::ZERO;
        for _ in 0..8 {
            let now = Instant::now();
            longest_gap = longest_gap.max(now - last);
            last = now;
            after.busy();
            tokio::time::sleep(QUIET / 4).await;
        }
        longest_gap = longest_gap.max(last.elapsed());
        let at = next(&mut released).await;
        // A machine so loaded that this test slept for QUIET between two marks rightly
        // released in between: that run can only check that nothing came early.
        if longest_gap < QUIET {
            assert!(
                at >= last + QUIET,
                "released {:?} after the last work",
                at.saturating_duration_since(last)
            );
        }
    }

    /// Marks made together are one burst, released once.
    #[tokio::test]
    async fn a_burst_is_released_once() {
        let (after, mut released) = watched();
        // On this test's one thread, the waiting task runs only at the `await`s.
        let began = Instant::now();
        after.busy();
        after.busy();
        after.busy();
        let at = next(&mut released).await;
        assert!(at >= began + QUIET, "not before QUIET");
        tokio::time::sleep(QUIET * 3).await;
        assert!(released.try_recv().is_err(), "once per burst");

        let began = Instant::now();
        after.busy();
        let at = next(&mut released).await;
        assert!(at >= began + QUIET, "the next burst, after QUIET");
    }

    #[tokio::test]
    async fn the_last_burst_is_released_when_every_handle_is_gone() {
        let (after, mut released) = watched();
        after.clone().busy();
        drop(after);
        next(&mut released).await;
        assert!(released.recv().await.is_none(), "and it stopped");
    }

    /// glibc reports handing back pages freed below memory still in use.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn freed_pages_are_handed_back() {
        let mut blocks: Vec<Vec<u8>> = (0..4096).map(|i| vec![i as u8; 4000]).collect();
        let last = blocks.pop();
        drop(blocks);
        assert!(release_freed(), "16 MB freed below a live block");
        drop(last);
    }
}
