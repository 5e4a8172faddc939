//! What compiled hooks `print`: their ring buffers and lost-records counters ([`PrintMaps`]),
//! and the one reader thread per state that moves the records, decoded, into its log
//! ([`PrintReader`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use lunet_bpf::map::Map;
use lunet_bpf::ringbuf::{self, RingBuf};
use lunet_compile::PrintSite;
use lunet_lua::{Log, Stream};

use super::error::KernelError;
use super::maps::{create_map, per_cpu_sum};

/// The maps a printing hook writes: its ring buffer of records and the per-CPU count of
/// records the full ring refused.
pub struct PrintMaps {
    pub ring: Map,
    pub lost: Map,
}

impl PrintMaps {
    pub(super) fn create() -> Result<PrintMaps, KernelError> {
        Ok(PrintMaps {
            ring: create_map(&lunet_compile::print_ring_map(), "the print ring buffer")?,
            lost: create_map(&lunet_compile::print_lost_map(), "the lost-print counter")?,
        })
    }
}

/// A printing hook's side of the log: its ring buffer, mapped for reading, its lost-records
/// counter and its print sites (to decode the records).
pub struct HookPrints {
    hook: String,
    ring: RingBuf,
    lost: Map,
    sites: Vec<PrintSite>,
    lost_seen: u64,
}

impl HookPrints {
    pub fn new(
        hook: &str,
        maps: PrintMaps,
        sites: Vec<PrintSite>,
    ) -> Result<HookPrints, KernelError> {
        let ring = RingBuf::new(maps.ring).map_err(|source| KernelError::PrintRing {
            hook: hook.to_string(),
            source,
        })?;
        Ok(HookPrints {
            hook: hook.to_string(),
            ring,
            lost: maps.lost,
            sites,
            lost_seen: 0,
        })
    }

    /// Moves every record into `log` as a `print` line; returns how many.
    fn drain(&mut self, log: &Log) -> usize {
        let sites = &self.sites;
        self.ring
            .consume(|r| log.push(Stream::Print, lunet_compile::decode_print(r, sites)))
    }

    /// Says in `log` how many more records the full ring refused since the last look.
    fn report_lost(&mut self, log: &Log) {
        let lost = per_cpu_sum(&self.lost, 0);
        if lost > self.lost_seen {
            log.push(
                Stream::Error,
                format!(
                    "hook '{}': {} print line(s) lost: the ring buffer was full",
                    self.hook,
                    lost - self.lost_seen
                ),
            );
            self.lost_seen = lost;
        }
    }
}

/// How long the reader waits for records before it looks at the stop flag again.
const PRINT_POLL: Duration = Duration::from_millis(100);

/// One thread per state that waits on its printing hooks' ring buffers (`poll(2)` on their
/// fds) and writes each record, decoded, into the state's log with [`Stream::Print`]; lost
/// records are reported there too. Dropping it stops the thread after a last read.
pub struct PrintReader {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PrintReader {
    pub fn start(
        state: &str,
        log: Log,
        hooks: Vec<HookPrints>,
    ) -> Result<PrintReader, KernelError> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("lunet-{state}-print"))
                .spawn(move || read_prints(hooks, &log, &stop))
                .map_err(KernelError::PrintThread)?
        };
        Ok(PrintReader {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for PrintReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_prints(mut hooks: Vec<HookPrints>, log: &Log, stop: &AtomicBool) {
    let mut looked = Instant::now();
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        let rings: Vec<&RingBuf> = hooks.iter().map(|h| &h.ring).collect();
        if let Err(e) = ringbuf::wait_any(&rings, Some(PRINT_POLL)) {
            log.push(
                Stream::Error,
                format!("waiting for print lines failed: {e}"),
            );
            std::thread::sleep(PRINT_POLL);
        }
        let mut read = 0;
        for h in &mut hooks {
            read += h.drain(log);
        }
        if stopping || looked.elapsed() >= PRINT_POLL {
            hooks.iter_mut().for_each(|h| h.report_lost(log));
            looked = Instant::now();
        }
        if stopping {
            return;
        }
        if read == 0 && hooks.iter().any(|h| h.ring.pending() > 0) {
            // A record reserved and not committed yet: poll says readable until it is.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn lost_print_lines_are_reported_once_each() {
        lunet_testkit::require_root!("bpf(2): creating the print maps");
        let maps = PrintMaps::create().unwrap();
        let slots = maps.lost.lookup_len().unwrap();
        let set = |lost: &Map, n: u64| {
            let mut v = vec![0u8; slots];
            v[..8].copy_from_slice(&n.to_ne_bytes());
            lost.update(&0u32.to_ne_bytes(), &v, 0).unwrap();
        };
        let lost = Map::from_fd(maps.lost.as_fd().try_clone_to_owned().unwrap()).unwrap();
        let mut h = HookPrints::new("h", maps, Vec::new()).unwrap();
        let log = Log::new(10);
        h.report_lost(&log);
        set(&lost, 3);
        h.report_lost(&log);
        h.report_lost(&log);
        set(&lost, 5);
        h.report_lost(&log);
        let texts: Vec<String> = log.since(0).into_iter().map(|l| l.text).collect();
        assert_eq!(
            texts,
            [
                "hook 'h': 3 print line(s) lost: the ring buffer was full",
                "hook 'h': 2 print line(s) lost: the ring buffer was full"
            ]
        );
        assert_eq!(h.drain(&log), 0, "an empty ring gives nothing");
    }
}
