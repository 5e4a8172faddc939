//! A consumer of a BPF ring buffer (`BPF_MAP_TYPE_RINGBUF`, Linux 5.8): the records programs
//! write with `bpf_ringbuf_output` (or reserve and commit), read from user space through a
//! shared mapping of the map, with no system call per record.
//!
//! ## The kernel's layout (offsets into the map's fd for `mmap`)
//! - `0`: the consumer page. Its first `unsigned long` is `consumer_pos`, which only the
//!   consumer writes. It is the one part the kernel lets user space map writable (a writable
//!   mapping anywhere else, or of more than that page, fails with `EPERM`).
//! - one page in: the producer page, `producer_pos` first; read-only.
//! - two pages in: the data area, `max_entries` bytes (a power of 2 and a multiple of the
//!   page size), mapped twice in a row, so a record that runs past the end of the area reads
//!   as one contiguous slice.
//!
//! Positions are byte counts that only grow (wrapping at the width of `unsigned long`); a
//! position's offset in the data area is `pos & (size - 1)`. Each record starts 8-byte
//! aligned with an 8-byte header (`BPF_RINGBUF_HDR_SZ`): a `u32` length whose top bit
//! (`BPF_RINGBUF_BUSY_BIT`) says the record is reserved but not committed yet and whose next
//! bit (`BPF_RINGBUF_DISCARD_BIT`) says it was discarded, then a `u32` for the kernel's own use;
//! then the payload. The next record starts after the header and the payload rounded up to 8
//! bytes.
//!
//! ## Reading (memory ordering)
//! `producer_pos` is loaded with acquire ordering (the kernel publishes a reservation with a
//! release store), and so is each record's length word (the kernel clears the busy bit with a
//! release store when it commits): only after that acquire are the payload bytes complete. A
//! busy record ends the pass (it is committed soon; records after it are not handed out of
//! order). Discarded records are skipped. After each record, `consumer_pos` is stored with
//! release ordering: the kernel may reuse the space as soon as it sees the new position, so
//! every read of the record must come before.
//!
//! `poll(2)` or epoll on the map's fd reports it readable while unread data is there
//! ([`RingBuf::wait`], [`wait_any`]). A producer that writes with adaptive wake-ups (flags 0)
//! wakes the consumer when it has caught up.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use crate::map::{map_type, Map};
use crate::sys;

/// The record header's busy bit (`BPF_RINGBUF_BUSY_BIT`).
pub const BUSY_BIT: u32 = 1 << 31;
/// The record header's discard bit (`BPF_RINGBUF_DISCARD_BIT`).
pub const DISCARD_BIT: u32 = 1 << 30;
/// Bytes of the record header (`BPF_RINGBUF_HDR_SZ`).
pub const HDR_SZ: usize = 8;

/// A ring buffer map, mapped for reading. Dropping it unmaps it and closes the map's fd.
#[derive(Debug)]
pub struct RingBuf {
    map: Map,
    /// The consumer page, read-write.
    consumer: NonNull<u8>,
    /// The producer page and the data area twice, read-only.
    producer: NonNull<u8>,
    page: usize,
    size: usize,
}

// SAFETY: the two mappings belong to this value alone (made in `new`, unmapped in `drop`) and
// stay valid wherever the value moves; the kernel side is shared memory that any thread may
// read. Consuming takes `&mut self`, so one thread at a time advances `consumer_pos`.
unsafe impl Send for RingBuf {}

impl RingBuf {
    /// Creates a ring buffer map of `size` bytes (a power of 2, a multiple of the page size)
    /// and maps it.
    pub fn create(size: u32, name: &str) -> io::Result<RingBuf> {
        RingBuf::new(Map::create(map_type::RINGBUF, 0, 0, size, name)?)
    }

    /// Maps an existing ring buffer map: the consumer page read-write, the producer page and
    /// the data area (twice) read-only.
    pub fn new(map: Map) -> io::Result<RingBuf> {
        if map.map_type() != map_type::RINGBUF {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("map type {} is not a ring buffer", map.map_type()),
            ));
        }
        let page = sys::page_size();
        let size = map.max_entries() as usize;
        if !size.is_power_of_two() || size % page != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a ring buffer of {size} bytes: not a power of 2 times the page size"),
            ));
        }
        let consumer = sys::mmap_shared(map.as_fd(), page, 0, true)?;
        let producer = match sys::mmap_shared(map.as_fd(), page + 2 * size, page, false) {
            Ok(p) => p,
            Err(e) => {
                // SAFETY: `consumer` was mapped just above with this length and nothing
                // refers to it.
                let _ = unsafe { sys::munmap(consumer, page) };
                return Err(e);
            }
        };
        Ok(RingBuf {
            map,
            consumer,
            producer,
            page,
            size,
        })
    }

    /// The ring buffer's map (its fd goes into programs that write to it).
    pub fn map(&self) -> &Map {
        &self.map
    }

    /// Bytes of the data area.
    pub fn size(&self) -> usize {
        self.size
    }

    fn ring(&self) -> Ring<'_> {
        // SAFETY: the consumer mapping is a page, starting with the kernel's `unsigned long
        // consumer_pos` (8-byte aligned: page aligned); the producer mapping is a page starting
        // with `producer_pos`, then the data area mapped twice (2 * size bytes). Both live as
        // long as `self`, which the returned view borrows.
        unsafe {
            Ring::new(
                self.consumer.cast::<AtomicUsize>().as_ref(),
                self.producer.cast::<AtomicUsize>().as_ref(),
                self.producer.as_ptr().add(self.page),
                self.size,
            )
        }
    }

    /// Hands every committed record (its payload) to `f`, in order, skipping discarded ones,
    /// and frees their space. Returns how many records `f` got. Stops at a record still being
    /// written.
    pub fn consume(&mut self, mut f: impl FnMut(&[u8])) -> usize {
        self.ring().drain(&mut f)
    }

    /// Bytes written and not consumed yet.
    pub fn pending(&self) -> usize {
        self.ring().pending()
    }

    /// Waits up to `timeout` (forever for `None`) for data: true when there is some.
    pub fn wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        Ok(sys::poll_readable(&[self.as_fd()], timeout)?[0])
    }
}

/// Waits up to `timeout` (forever for `None`) until one of `rings` has data; says which have.
pub fn wait_any(rings: &[&RingBuf], timeout: Option<Duration>) -> io::Result<Vec<bool>> {
    let fds: Vec<BorrowedFd<'_>> = rings.iter().map(|r| r.as_fd()).collect();
    sys::poll_readable(&fds, timeout)
}

impl Drop for RingBuf {
    fn drop(&mut self) {
        // SAFETY: both ranges are the mappings `new` made, with these lengths; views into them
        // borrow `self` and so are gone.
        unsafe {
            let _ = sys::munmap(self.consumer, self.page);
            let _ = sys::munmap(self.producer, self.page + 2 * self.size);
        }
    }
}

impl AsFd for RingBuf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.map.as_fd()
    }
}

impl AsRawFd for RingBuf {
    fn as_raw_fd(&self) -> RawFd {
        self.map.as_raw_fd()
    }
}

/// The consumer's view of a ring: the two positions and the data area (mapped twice). Kept
/// apart from the mapping so the reading logic can be tested on ordinary memory.
struct Ring<'a> {
    consumer: &'a AtomicUsize,
    producer: &'a AtomicUsize,
    data: *const u8,
    size: usize,
}

impl<'a> Ring<'a> {
    /// # Safety
    /// `data` must be readable for `2 * size` bytes for `'a`, its second half showing the same
    /// bytes as its first; `size` a power of 2 of at least [`HDR_SZ`]; only this consumer may
    /// store to `consumer`.
    unsafe fn new(
        consumer: &'a AtomicUsize,
        producer: &'a AtomicUsize,
        data: *const u8,
        size: usize,
    ) -> Ring<'a> {
        Ring {
            consumer,
            producer,
            data,
            size,
        }
    }

    fn pending(&self) -> usize {
        let cons = self.consumer.load(Ordering::Relaxed);
        self.producer.load(Ordering::Acquire).wrapping_sub(cons)
    }

    fn drain(&self, f: &mut dyn FnMut(&[u8])) -> usize {
        let mask = self.size - 1;
        let mut cons = self.consumer.load(Ordering::Relaxed);
        let mut handed = 0;
        loop {
            let prod = self.producer.load(Ordering::Acquire);
            if prod == cons {
                return handed;
            }
            while cons != prod {
                let at = cons & mask;
                // SAFETY: `at` is 8-byte aligned (records are) and below `size`, so the 4-byte
                // header word is inside the mapping; the kernel writes it atomically.
                let hdr = unsafe { &*(self.data.add(at) as *const AtomicU32) };
                let word = hdr.load(Ordering::Acquire);
                if word & BUSY_BIT != 0 {
                    return handed;
                }
                let len = (word & !(BUSY_BIT | DISCARD_BIT)) as usize;
                let total = (len + HDR_SZ).div_ceil(8) * 8;
                if total > prod.wrapping_sub(cons) || total > self.size {
                    // Not a record the kernel could have written: leave the ring alone.
                    return handed;
                }
                if word & DISCARD_BIT == 0 {
                    // SAFETY: the record starts at `at < size` and is `total <= size` bytes, so
                    // it lies within the `2 * size` readable bytes; it is committed (acquire
                    // above) and the kernel does not touch it until `consumer_pos` passes it.
                    let payload =
                        unsafe { std::slice::from_raw_parts(self.data.add(at + HDR_SZ), len) };
                    f(payload);
                    handed += 1;
                }
                cons = cons.wrapping_add(total);
                self.consumer.store(cons, Ordering::Release);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring in ordinary memory, written as the kernel would (data area kept twice).
    struct FakeRing {
        consumer: AtomicUsize,
        producer: AtomicUsize,
        data: Vec<u8>,
        size: usize,
    }

    impl FakeRing {
        fn new(size: usize) -> FakeRing {
            FakeRing {
                consumer: AtomicUsize::new(0),
                producer: AtomicUsize::new(0),
                data: vec![0; 2 * size],
                size,
            }
        }

        fn put(&mut self, at: usize, b: u8) {
            let i = at % self.size;
            self.data[i] = b;
            self.data[i + self.size] = b;
        }

        /// Writes a record with header word `flags | len` and advances the producer.
        fn write(&mut self, payload: &[u8], flags: u32) {
            let pos = self.producer.load(Ordering::Relaxed);
            let word = flags | payload.len() as u32;
            for (i, b) in word.to_ne_bytes().into_iter().enumerate() {
                self.put(pos + i, b);
            }
            for (i, b) in payload.iter().enumerate() {
                self.put(pos + HDR_SZ + i, *b);
            }
            let total = (payload.len() + HDR_SZ).div_ceil(8) * 8;
            self.producer.store(pos + total, Ordering::Release);
        }

        fn set_word(&mut self, pos: usize, word: u32) {
            for (i, b) in word.to_ne_bytes().into_iter().enumerate() {
                self.put(pos + i, b);
            }
        }

        fn drain(&self) -> Vec<Vec<u8>> {
            let mut out = Vec::new();
            // SAFETY: `data` holds the area twice, both halves kept equal by `put`.
            let ring = unsafe {
                Ring::new(
                    &self.consumer,
                    &self.producer,
                    self.data.as_ptr(),
                    self.size,
                )
            };
            ring.drain(&mut |p| out.push(p.to_vec()));
            out
        }
    }

    #[test]
    fn reads_records_in_order_skipping_discarded_ones() {
        let mut r = FakeRing::new(64);
        r.write(b"one", 0);
        r.write(b"gone", DISCARD_BIT);
        r.write(b"three", 0);
        assert_eq!(r.drain(), vec![b"one".to_vec(), b"three".to_vec()]);
        assert_eq!(r.consumer.load(Ordering::Relaxed), 16 + 16 + 16);
        assert!(r.drain().is_empty());
    }

    #[test]
    fn stops_at_a_busy_record_and_resumes_after_its_commit() {
        let mut r = FakeRing::new(64);
        r.write(b"a", 0);
        let busy_at = r.producer.load(Ordering::Relaxed);
        r.write(b"bb", BUSY_BIT);
        r.write(b"c", 0);
        assert_eq!(r.drain(), vec![b"a".to_vec()]);
        assert_eq!(r.consumer.load(Ordering::Relaxed), busy_at);
        r.set_word(busy_at, 2);
        assert_eq!(r.drain(), vec![b"bb".to_vec(), b"c".to_vec()]);
    }

    #[test]
    fn a_record_across_the_end_of_the_area_reads_whole() {
        let mut r = FakeRing::new(32);
        r.write(b"0123456789abcdef", 0); // 24 bytes
        assert_eq!(r.drain().len(), 1);
        r.write(b"ABCDEFGHIJKLMNOP", 0); // starts at 24, wraps
        assert_eq!(r.drain(), vec![b"ABCDEFGHIJKLMNOP".to_vec()]);
        assert_eq!(r.consumer.load(Ordering::Relaxed), 48);
    }

    #[test]
    fn a_corrupt_length_is_not_followed() {
        let mut r = FakeRing::new(32);
        r.write(b"x", 0);
        r.set_word(0, 1000);
        assert!(r.drain().is_empty());
        assert_eq!(r.consumer.load(Ordering::Relaxed), 0);
    }
}
