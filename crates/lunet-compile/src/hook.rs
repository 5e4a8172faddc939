//! What the compiler takes: one hook function ([`HookInput`]) and the [`Options`].

use lunet_types::{FnRef, Value};

/// Iterations one loop may run before the hook gives its default verdict, with
/// [`LoopBound::Counter`]; also the largest constant trip count compiled without a bound.
pub const LOOP_CAP: i64 = 1024;

/// How loops without a small constant trip count are bounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoopBound {
    /// `may_goto` at each loop head (Linux 6.9+).
    #[default]
    MayGoto,
    /// A hidden counter per loop, capped at [`LOOP_CAP`].
    Counter,
}

/// Compiler options; [`crate::compile`] uses the defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub loop_bound: LoopBound,
}

/// Where the compiled program attaches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// `fn(packet, argument)` at XDP: `r1` is a `struct xdp_md *`.
    Xdp,
    /// `fn(skb)` at a netfilter hook (`BPF_PROG_TYPE_NETFILTER`): `r1` is a
    /// `struct bpf_nf_ctx *`, the packet from its network header on, read through
    /// `bpf_dynptr_slice` ([`crate::slices`]).
    Netfilter(Netfilter),
}

impl Target {
    pub fn is_netfilter(&self) -> bool {
        matches!(self, Target::Netfilter(_))
    }
}

/// A netfilter registration as the compiled program needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Netfilter {
    /// The registration's `mark`: a packet whose `skb->mark` differs is accepted untouched
    /// (and not counted), as the Lua tier's hook never sees it.
    pub mark: u32,
    pub kernel: NfKernel,
}

/// What a netfilter program needs from the running kernel's BTF: kfunc ids and `sk_buff`
/// field offsets. [`NfKernel::from_btf`] finds them in a BTF blob (the caller reads
/// `/sys/kernel/btf/vmlinux`: the compiler makes no system calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NfKernel {
    /// BTF id of `bpf_dynptr_from_skb`.
    pub dynptr_from_skb: u32,
    /// BTF id of `bpf_dynptr_slice`.
    pub dynptr_slice: u32,
    /// Offsets of `len` and `mark` in `struct sk_buff`.
    pub skb_len: i16,
    pub skb_mark: i16,
}

impl NfKernel {
    pub fn from_btf(btf: &[u8]) -> std::io::Result<NfKernel> {
        use lunet_bpf::btf::{func_id, member_offset};
        let missing = |what: String| {
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("the kernel's BTF has no {what}"),
            )
        };
        let func = |name: &str| func_id(btf, name)?.ok_or_else(|| missing(format!("kfunc {name}")));
        let field = |name: &str| {
            member_offset(btf, "sk_buff", name)?
                .and_then(|o| i16::try_from(o).ok())
                .ok_or_else(|| missing(format!("sk_buff member {name}")))
        };
        Ok(NfKernel {
            dynptr_from_skb: func("bpf_dynptr_from_skb")?,
            dynptr_slice: func("bpf_dynptr_slice")?,
            skb_len: field("len")?,
            skb_mark: field("mark")?,
        })
    }
}

/// One hook function to compile.
#[derive(Clone, Debug)]
pub struct HookInput {
    /// The script's path, as messages name it.
    pub file: String,
    /// The whole file.
    pub source: String,
    pub function: FnRef,
    /// The hook's upvalues by name, as the body left them.
    pub upvalues: Vec<(String, Value)>,
    pub target: Target,
    /// The verdict on any error (out of bounds, division by zero, a bad return value, ...).
    pub default_verdict: i32,
}
