//! CPU time of the receiving side, and pinning threads to CPUs.
//!
//! - Kernel work on the receive path (the veth's NAPI poll, the IP stack, netfilter with its
//!   iptables rules, queueing to NFQUEUE) runs in softirq context: the `softirq` column of the
//!   `cpu` line of `/proc/stat`, summed over all CPUs. This kernel accounts it by sampling
//!   ticks (`CONFIG_TICK_CPU_ACCOUNTING`, 250 Hz), so it is a statistical figure, good to a
//!   few ticks per run; it is machine-wide, so anything else running then is counted too.
//! - The Lua tier's NFQUEUE consumer is a thread of this process: its on-CPU time (user and
//!   system, including the verdicts that reinject packets into the stack) comes exactly from
//!   the first field of `/proc/self/task/<tid>/schedstat` (nanoseconds).
//!
//! The generator's own time (its `BPF_PROG_TEST_RUN` syscall, counted as system time) is the
//! sending side and is left out.
//!
//! The compiler's benchmark times its calls with the calling thread's own CPU clock
//! ([`this_thread_ns`]).

use std::io;

/// Nanoseconds a `/proc/stat` tick (USER_HZ) stands for.
fn ns_per_tick() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    1e9 / if hz > 0 { hz as f64 } else { 100.0 }
}

/// Softirq time of all CPUs so far, in ticks, from the text of `/proc/stat`.
pub fn parse_softirq_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    // cpu user nice system idle iowait irq softirq ...
    line.split_whitespace().nth(7)?.parse().ok()
}

/// Softirq time of all CPUs so far, in nanoseconds.
pub fn softirq_ns() -> io::Result<f64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let ticks = parse_softirq_ticks(&stat)
        .ok_or_else(|| io::Error::other("cannot read the softirq time from /proc/stat"))?;
    Ok(ticks as f64 * ns_per_tick())
}

/// On-CPU time of thread `tid` of this process so far, in nanoseconds.
pub fn thread_ns(tid: i32) -> io::Result<f64> {
    let s = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))?;
    s.split_whitespace()
        .next()
        .and_then(|v| v.parse::<u64>().ok())
        .map(|v| v as f64)
        .ok_or_else(|| io::Error::other(format!("cannot parse schedstat of thread {tid}: {s}")))
}

/// The id of this process's thread named `name` (as `/proc/.../comm` shows it: at most 15
/// bytes), if there is exactly one.
pub fn find_thread(name: &str) -> Option<i32> {
    let want = &name[..name.len().min(15)];
    let mut found = None;
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
        if comm.trim_end() == want {
            if found.is_some() {
                return None;
            }
            found = entry.file_name().to_str().and_then(|s| s.parse().ok());
        }
    }
    found
}

/// The CPU time the calling thread has used so far, in ns (user and system;
/// `CLOCK_THREAD_CPUTIME_ID`: time spent preempted by other work does not count).
pub fn this_thread_ns() -> io::Result<u128> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `ts` is.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(ts.tv_sec as u128 * 1_000_000_000 + ts.tv_nsec as u128)
}

/// Number of CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Pins thread `tid` (0: the calling thread) to `cpu` ([`lunet_netns::pin_thread`]).
pub fn pin(tid: i32, cpu: usize) -> io::Result<()> {
    lunet_netns::pin_thread(tid, cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softirq_is_the_seventh_value_of_the_cpu_line() {
        let stat = "cpu  18743 0 8989 161841 841 0 2879 36 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n";
        assert_eq!(parse_softirq_ticks(stat), Some(2879));
        assert_eq!(parse_softirq_ticks("cpu0 1 2 3\n"), None);
    }

    #[test]
    fn this_thread_is_found_and_has_cpu_time() {
        let handle = std::thread::Builder::new()
            .name("lunet-cpu-test".into())
            .spawn(|| {
                // Busy for 20 ms of wall time: the kernel adds a running thread's time to its
                // schedstat at scheduler ticks (4 ms here), so a shorter loop (or one an
                // optimised build folds away) may still read 0.
                let mut x = 0u64;
                let start = std::time::Instant::now();
                let mut i = 0u64;
                while start.elapsed() < std::time::Duration::from_millis(20) {
                    x = std::hint::black_box(x.wrapping_add(i * i));
                    i += 1;
                }
                let tid = find_thread("lunet-cpu-test").expect("found by name");
                // SAFETY: gettid has no preconditions.
                assert_eq!(tid, unsafe { libc::gettid() });
                assert!(thread_ns(tid).unwrap() > 0.0);
                x
            })
            .unwrap();
        handle.join().unwrap();
        assert!(softirq_ns().unwrap() >= 0.0);
    }

    #[test]
    fn this_threads_clock_moves_with_work() {
        let t = this_thread_ns().unwrap();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(5) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(this_thread_ns().unwrap() > t, "{x}");
    }
}
