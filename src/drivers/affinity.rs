//! A core of its own for the live engine (`live --engine-cpu N`): the thread that runs the
//! engine is pinned to CPU N, and the session's other threads (recorder and journal writers,
//! REST snapshots, a local exchange in the same process) keep off it, so that the feed ->
//! decision latency is not a wait behind another thread's time slice or its evicted caches.
//!
//! Linux only (`sched_setaffinity`); elsewhere, asking for a CPU is an error and the rest is a
//! no-op. A thread that leaves the engine's CPU does so at its own start
//! ([`leave_engine_cpu`]): a thread inherits its creator's mask, and helpers are started both
//! before the engine thread is pinned and from the engine thread itself.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The CPU reserved for the engine thread, or `usize::MAX` for none.
static ENGINE_CPU: AtomicUsize = AtomicUsize::new(usize::MAX);
/// Where helper threads run while a CPU is reserved: the reserving thread's CPUs but that one.
static HELPER_CPUS: Mutex<Vec<usize>> = Mutex::new(Vec::new());

fn helper_cpus() -> Vec<usize> {
    HELPER_CPUS.lock().map(|v| v.clone()).unwrap_or_default()
}

/// The engine's CPU, if one is reserved.
pub fn engine_cpu() -> Option<usize> {
    let c = ENGINE_CPU.load(Ordering::Relaxed);
    (c != usize::MAX).then_some(c)
}

/// The CPUs this thread may run on.
#[cfg(target_os = "linux")]
pub fn current() -> std::io::Result<Vec<usize>> {
    // SAFETY: `set` is a plain bit set the kernel fills; 0 names the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((0..libc::CPU_SETSIZE as usize).filter(|&c| libc::CPU_ISSET(c, &set)).collect())
    }
}

#[cfg(target_os = "linux")]
fn set_current(cpus: &[usize]) -> std::io::Result<()> {
    // SAFETY: as in `current`; the set only holds CPUs below CPU_SETSIZE.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus.iter().filter(|&&c| c < libc::CPU_SETSIZE as usize) {
            libc::CPU_SET(c, &mut set);
        }
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(not(target_os = "linux"))]
pub fn current() -> std::io::Result<Vec<usize>> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "CPU affinity is Linux only"))
}

#[cfg(not(target_os = "linux"))]
fn set_current(_cpus: &[usize]) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "CPU affinity is Linux only"))
}

/// Reserves `cpu` for the engine: it must be one this process may use, and not the only one
/// (the other threads need somewhere to run). Until [`release`], threads that call
/// [`leave_engine_cpu`] keep off it; the calling thread keeps off it too, until it pins itself.
pub fn reserve(cpu: usize) -> anyhow::Result<Reservation> {
    let allowed =
        current().map_err(|e| anyhow::anyhow!("--engine-cpu {cpu}: reading this thread's CPUs: {e}"))?;
    anyhow::ensure!(
        allowed.contains(&cpu),
        "--engine-cpu {cpu}: this process may run on CPUs {allowed:?} only"
    );
    anyhow::ensure!(
        allowed.len() >= 2,
        "--engine-cpu {cpu}: CPU {cpu} is the only one this process may use; the recorder and journal threads need another"
    );
    let others: Vec<usize> = allowed.iter().copied().filter(|&c| c != cpu).collect();
    set_current(&others).map_err(|e| anyhow::anyhow!("--engine-cpu {cpu}: {e}"))?;
    if let Ok(mut h) = HELPER_CPUS.lock() {
        *h = others;
    }
    ENGINE_CPU.store(cpu, Ordering::Relaxed);
    Ok(Reservation { restore: allowed })
}

/// The reservation made by [`reserve`]: dropping it lifts it, and gives the reserving thread
/// back the CPUs it had.
#[must_use]
pub struct Reservation {
    restore: Vec<usize>,
}

impl Reservation {
    /// Pins the calling thread (the engine's) to the reserved CPU.
    pub fn pin_engine_thread(&self) -> anyhow::Result<()> {
        let cpu = engine_cpu().ok_or_else(|| anyhow::anyhow!("no CPU is reserved for the engine"))?;
        set_current(&[cpu]).map_err(|e| anyhow::anyhow!("pinning the engine thread to CPU {cpu}: {e}"))
    }

    /// Gives the calling thread the CPUs the reserving thread had (after the engine ran on it).
    pub fn unpin(&self) {
        // Best effort: a failure leaves the thread pinned, which only costs speed.
        drop(set_current(&self.restore));
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        ENGINE_CPU.store(usize::MAX, Ordering::Relaxed);
        self.unpin();
    }
}

/// Called by a helper thread at its start: off the engine's CPU, if one is reserved (onto the
/// reserving thread's other CPUs, whichever thread started it). Best effort: a thread that
/// cannot move only costs speed.
pub fn leave_engine_cpu() {
    if engine_cpu().is_none() {
        return;
    }
    let others = helper_cpus();
    if !others.is_empty() {
        drop(set_current(&others));
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// One test touches the process-wide reservation, so that tests in parallel do not race.
    #[test]
    fn the_engine_thread_gets_its_cpu_and_helpers_keep_off_it() {
        let allowed = current().expect("affinity");
        let Some(&cpu) = allowed.last().filter(|_| allowed.len() >= 2) else {
            eprintln!("skipped: this process may use one CPU only ({allowed:?})");
            return;
        };
        // Runs on a thread of its own: the test harness's threads keep their masks.
        std::thread::spawn(move || {
            let r = reserve(cpu).expect("reserve");
            assert_eq!(engine_cpu(), Some(cpu));
            assert!(
                !current().unwrap().contains(&cpu),
                "the reserving thread keeps off the CPU until it pins itself"
            );
            let helper = std::thread::spawn(|| {
                leave_engine_cpu();
                current().unwrap()
            });
            r.pin_engine_thread().expect("pin");
            assert_eq!(current().unwrap(), vec![cpu]);
            // A helper started from the pinned engine thread moves off its CPU.
            let late = std::thread::spawn(|| {
                leave_engine_cpu();
                current().unwrap()
            })
            .join()
            .unwrap();
            assert!(!late.contains(&cpu) && !late.is_empty(), "{late:?}");
            assert!(!helper.join().unwrap().contains(&cpu));
            drop(r);
            assert_eq!(engine_cpu(), None);
            assert_eq!(current().unwrap(), allowed);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_cpu_the_process_may_not_use_is_a_clear_error() {
        let err = reserve(libc::CPU_SETSIZE as usize + 5).err().expect("refused").to_string();
        assert!(err.contains("may run on CPUs"), "{err}");
    }
}
