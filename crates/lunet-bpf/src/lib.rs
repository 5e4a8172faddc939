//! lunet-bpf: a thin `bpf(2)` layer in the shape of aya.
//!
//! - [`sys`]: the only module that calls libc; one `bpf()` entry point, swappable for a fake
//!   in unit tests ([`sys::with_fake`]).
//! - [`insn`]: `struct bpf_insn` and constructors, what the compiler emits.
//! - [`prog`]: `BPF_PROG_LOAD` with the verifier log kept in [`LoadError`], `BPF_PROG_TEST_RUN`.
//! - [`map`], [`pin`], [`link`]: maps on raw bytes, bpffs pins, XDP and netfilter links.
//! - [`probe`]: feature detection by loading tiny programs.
//! - [`elf`], [`btf`]: a program from a clang-built object, its kfunc calls resolved in the
//!   kernel's BTF (for the benchmark's hand-written C).
//! - [`ringbuf`]: a consumer of `BPF_MAP_TYPE_RINGBUF` maps through their shared mapping.
//! - [`safe_fs`]: directories and files no other user can turn against root (everything
//!   under a checked directory's fd, never through a link): the pin root's, and the daemon's
//!   socket directory, record and locks. With [`sys`], the only module that calls libc.
//!
//! All file descriptors are `OwnedFd`s: dropping a wrapper closes it.

pub mod btf;
pub mod elf;
pub mod insn;
pub mod link;
pub mod map;
pub mod pin;
pub mod probe;
pub mod prog;
pub mod ringbuf;
pub mod safe_fs;
pub mod sys;

pub use insn::Insn;
pub use link::{ifindex, link_create_netfilter, link_create_tcx, link_create_xdp, LinkFd};
pub use map::Map;
pub use prog::{load, load_with, test_run, LoadError, LoadOptions, ProgFd, TestRunResult, XdpMd};
pub use ringbuf::RingBuf;
