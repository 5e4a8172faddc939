//! Where a thread runs: the CPUs online, and pinning a thread to one of them (the runtime's
//! per-CPU copies, the benchmark's generator and consumer).

use std::io;

/// CPUs online: not the calling thread's affinity, which a thread pinned earlier has
/// narrowed (its children inherit it).
pub fn online_cpus() -> usize {
    // SAFETY: sysconf takes and returns plain integers.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    n.clamp(1, 4096) as usize
}

/// Pins thread `tid` (0: the calling thread) to `cpu`; a CPU number past what a `cpu_set_t`
/// holds is `EINVAL`.
pub fn pin_thread(tid: i32, cpu: usize) -> io::Result<()> {
    if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
        return Err(io::Error::from_raw_os_error(libc::EINVAL));
    }
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET writes inside it (`cpu` is within
    // the set, checked above), and sched_setaffinity only reads it for the size given.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cpu_past_the_set_is_refused_and_cpu_0_takes_the_calling_thread() {
        assert_eq!(
            pin_thread(0, 1 << 20).unwrap_err().raw_os_error(),
            Some(libc::EINVAL)
        );
        assert!(online_cpus() >= 1);
        // On a thread of its own, so the test runner's affinity is left alone.
        std::thread::spawn(|| pin_thread(0, 0).unwrap())
            .join()
            .unwrap();
    }
}
