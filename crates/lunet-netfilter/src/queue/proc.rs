//! The kernel's own counters of each NFQUEUE, from `/proc/net/netfilter/nfnetlink_queue` (of
//! the calling thread's network namespace): packets waiting for a verdict, and packets it
//! dropped because the queue (`queue_dropped`) or the listener's socket (`user_dropped`) was
//! full. A fail-open queue drops none: it accepts them unseen, and counts nothing.

use std::io;

/// One queue's line of `/proc/net/netfilter/nfnetlink_queue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KernelQueueStats {
    pub queue: u16,
    /// `queue_total`: packets waiting for a verdict now.
    pub waiting: u64,
    /// `queue_dropped`: dropped because the queue was full (fail-closed).
    pub queue_dropped: u64,
    /// `user_dropped`: dropped because the listener's socket was full (fail-closed).
    pub user_dropped: u64,
}

impl KernelQueueStats {
    /// Every packet the kernel dropped for this queue.
    pub fn dropped(&self) -> u64 {
        self.queue_dropped + self.user_dropped
    }
}

/// The counters of every queue bound in the calling thread's network namespace.
pub fn kernel_queue_stats() -> io::Result<Vec<KernelQueueStats>> {
    // `thread-self`: the file follows the thread's namespace (`self` would follow the
    // process's main thread).
    let text = std::fs::read_to_string("/proc/thread-self/net/netfilter/nfnetlink_queue")?;
    Ok(parse(&text))
}

/// Lines of `queue portid queue_total copy_mode copy_range queue_dropped user_dropped
/// id_sequence 1`.
pub fn parse(text: &str) -> Vec<KernelQueueStats> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<u64> = l.split_whitespace().map_while(|w| w.parse().ok()).collect();
            if f.len() < 7 {
                return None;
            }
            Some(KernelQueueStats {
                queue: u16::try_from(f[0]).ok()?,
                waiting: f[2],
                queue_dropped: f[5],
                user_dropped: f[6],
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_line_gives_its_queue() {
        let text = "    1  24700     0 2 65531     3     4        9  1\n\
                    20000  24725   256 2 65531     5     7  1106944  1\n";
        let s = parse(text);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[1],
            KernelQueueStats {
                queue: 20000,
                waiting: 256,
                queue_dropped: 5,
                user_dropped: 7
            }
        );
        assert_eq!(s[0].dropped(), 7);
        assert!(parse("garbage\n").is_empty());
    }
}
