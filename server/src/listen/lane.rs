//! Event streams on a thread of their own, at a lower CPU priority. After a deploy
//! every open browser reconnects at once; served by the runtime that answers page
//! reads and agents' reports, those thousands of connections queued ahead of them
//! (load bench, 10,000 streams reconnecting over 1,000,000 runs on the 2-core machine:
//! list reads p99 194 ms, node reports p99 1.2 s). Here the streams share one worker
//! thread that the kernel favours less (nice 5), so reads and writes go first and the
//! storm takes most of the CPU they leave (README, Thousands of browsers: nice 10 or
//! a second worker measured worse).

use tokio::runtime::{Builder, Handle, Runtime};

/// How much lower than the server's other threads the lane runs (nice values 0-19).
#[cfg(target_os = "linux")]
const NICER_BY: libc::c_int = 5;

pub struct Lane {
    /// Taken when the lane is dropped.
    runtime: Option<Runtime>,
}

impl Lane {
    pub fn start() -> std::io::Result<Lane> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("event-streams")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()?;
        Ok(Lane { runtime: Some(runtime) })
    }

    /// Where to spawn a stream's connection. Its socket must be registered from inside
    /// the spawned task (`TcpStream::from_std`), so that the lane's own thread polls it.
    pub fn handle(&self) -> Handle {
        self.runtime.as_ref().expect("the lane runs until dropped").handle().clone()
    }
}

impl Drop for Lane {
    /// Without waiting: the lane is dropped from async code (a runtime may not block
    /// there), and its streams have ended or are being dropped with the server.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Lowers the calling thread's priority. On Linux the nice value belongs to a thread,
/// and `setpriority(PRIO_PROCESS, 0, …)` sets the caller's; raising it needs no
/// privilege. Elsewhere the lane runs at the usual priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: a plain system call on the calling thread, with no pointers.
    unsafe {
        let current = libc::getpriority(libc::PRIO_PROCESS, 0);
        libc::setpriority(libc::PRIO_PROCESS, 0, (current + NICER_BY).min(19));
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn priority() -> libc::c_int {
        // SAFETY: as in `lower_priority`.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    #[test]
    fn the_lane_runs_below_its_caller() {
        let lane = Lane::start().expect("a runtime");
        let (sent, received) = std::sync::mpsc::channel();
        lane.handle().spawn(async move { sent.send(priority()).unwrap() });
        let on_lane = received.recv().expect("the lane ran the task");
        assert_eq!(on_lane, (priority() + NICER_BY).min(19));
    }
}
