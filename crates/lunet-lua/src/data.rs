//! Data objects: bounds-checked byte views of the packet a hook is looking at.
//!
//! Each hook has one [`Slot`]: the bytes of the call in progress, reused call after call (no
//! allocation per packet). Views handed to Lua point into it. A netfilter hook's `skb` is one
//! object for the hook's life, reset for every packet as Lunatik resets its data objects:
//! it shows the current call's packet, and raises when used outside a call of its hook. The
//! views made from it (`skb:data("net")`) and the XDP `packet` carry the number of the call
//! they were made for, and raise ever after it. Offsets are 0-based, multi-byte values are in
//! host byte order (what a C load from that address gives, as in Lunatik), and every access
//! is checked before it touches a byte: after [`View::range`] succeeds no accessor can
//! panic.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use mlua::{MetaMethod, UserData, UserDataMethods};

use crate::error::located;

/// The bytes of one hook call.
#[derive(Debug, Default, Clone)]
pub struct Packet {
    /// The link-layer header in front of the body, shown by the `mac` view (empty when the
    /// packet has none, e.g. one a local process sent).
    pub head: Vec<u8>,
    /// The packet proper: the network layer at netfilter, the whole frame at XDP.
    pub body: Vec<u8>,
    /// Set by any write to the body: it must go back to the kernel.
    pub dirty: bool,
}

/// Longest body an `skb` can be resized to: the IPv4 total length field's limit (and the
/// largest payload an NFQUEUE verdict can carry is a little below it).
pub const MAX_BODY: usize = 0xffff;

/// Why an access was refused. The text is what the script sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    OutOfBounds {
        offset: i64,
        size: usize,
        len: usize,
    },
    ReadOnly,
    Retired,
    /// `resize` of memory the object does not own (a packet view).
    External,
    /// `resize` past [`MAX_BODY`] (or a negative size).
    TooLarge(i64),
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fault::OutOfBounds { offset, size, len } => {
                write!(
                    f,
                    "out of bounds (offset {offset}, size {size}, length {len})"
                )
            }
            Fault::ReadOnly => f.write_str("data object is read-only"),
            Fault::Retired => f.write_str("data object used after its hook returned"),
            Fault::External => f.write_str("cannot resize external memory"),
            Fault::TooLarge(n) => write!(f, "cannot resize to {n} bytes (0 to {MAX_BODY})"),
        }
    }
}

/// The packet of a hook's current call, shared by that call's views.
#[derive(Debug, Default)]
pub struct Slot {
    pkt: RefCell<Packet>,
    /// The netfilter metadata of the current call.
    meta: Cell<SkbMeta>,
    /// The number of the current (or last) call.
    call: Cell<u64>,
    /// Whether a call is in progress.
    live: Cell<bool>,
    /// The conntrack mark the call set with `skb:connmark(v)`, for the verdict.
    connmark_set: Cell<Option<u32>>,
}

impl Slot {
    /// A slot that is always in a call: the memory of an `skb:copy()` or a `data.new`.
    pub fn detached(head: &[u8], body: &[u8], meta: SkbMeta) -> Rc<Slot> {
        let s = Rc::new(Slot::default());
        s.begin(head, body);
        s.meta.set(meta);
        s
    }

    /// The head and body of the current call, as they are now.
    pub fn bytes(&self) -> (Vec<u8>, Vec<u8>) {
        let p = self.pkt.borrow();
        (p.head.clone(), p.body.clone())
    }

    /// Changes the packet in place (and marks the body rewritten); refused outside a call.
    pub fn modify<T>(&self, f: impl FnOnce(&mut Packet) -> T) -> Result<T, Fault> {
        if !self.live.get() {
            return Err(Fault::Retired);
        }
        let mut p = self.pkt.borrow_mut();
        p.dirty = true;
        Ok(f(&mut p))
    }

    /// Sets the body's length to `n` (cut, or zeros added), as `skb:resize(n)`.
    pub fn resize_body(&self, n: i64) -> Result<(), Fault> {
        let len = usize::try_from(n)
            .ok()
            .filter(|&l| l <= MAX_BODY)
            .ok_or(Fault::TooLarge(n))?;
        self.modify(|p| p.body.resize(len, 0))
    }

    /// Whether a call is in progress (always, for a detached slot).
    pub fn is_live(&self) -> bool {
        self.live.get()
    }

    /// Whether the current call's packet has a link-layer header.
    pub fn has_head(&self) -> bool {
        !self.pkt.borrow().head.is_empty()
    }

    /// Records the conntrack mark the current call sets; the `skb` shows it from now on.
    pub fn set_connmark(&self, mark: u32) {
        self.connmark_set.set(Some(mark));
        let mut m = self.meta.get();
        m.connmark = Some(mark);
        self.meta.set(m);
    }

    /// The conntrack mark the current call set, if it set one.
    pub fn connmark_set(&self) -> Option<u32> {
        self.connmark_set.get()
    }
    /// Starts a call on a copy of `head` and `body` (into the slot's buffers); returns the
    /// call's number, for its views.
    pub fn begin(&self, head: &[u8], body: &[u8]) -> u64 {
        let mut p = self.pkt.borrow_mut();
        p.head.clear();
        p.head.extend_from_slice(head);
        p.body.clear();
        p.body.extend_from_slice(body);
        p.dirty = false;
        self.connmark_set.set(None);
        let n = self.call.get() + 1;
        self.call.set(n);
        self.live.set(true);
        n
    }

    /// The number of the current (or last) call.
    pub fn current(&self) -> u64 {
        self.call.get()
    }

    /// Sets the netfilter metadata the `skb` shows for the current call.
    pub fn set_meta(&self, meta: SkbMeta) {
        self.meta.set(meta);
    }

    /// Ends the call: every view made for it is retired.
    pub fn retire(&self) {
        self.live.set(false);
    }

    /// The metadata of the current call.
    pub fn meta(&self) -> SkbMeta {
        self.meta.get()
    }

    /// The length of the body (the network layer at netfilter).
    pub fn body_len(&self) -> usize {
        self.pkt.borrow().body.len()
    }

    /// `N` bytes of the body at `offset`, in a call.
    pub fn read<const N: usize>(&self, offset: i64) -> Result<[u8; N], Fault> {
        let (p, _) = self.body_range(offset, Some(N as i64))?;
        let mut out = [0u8; N];
        // SAFETY: `body_range` checked that N bytes at `p` are in the body, which nothing
        // changes before this copy.
        unsafe { std::ptr::copy_nonoverlapping(p, out.as_mut_ptr(), N) };
        Ok(out)
    }

    /// Where the body's bytes from `offset` are (`len` of them, or to the end) and how many,
    /// in a call; valid until the body next changes.
    pub fn body_range(&self, offset: i64, len: Option<i64>) -> Result<(*const u8, usize), Fault> {
        if !self.live.get() {
            return Err(Fault::Retired);
        }
        let p = self.pkt.borrow();
        let (off, size) = span(offset, len, p.body.len())?;
        Ok((p.body[off..].as_ptr(), size))
    }

    /// The body, if a setter changed it during the call.
    pub fn rewritten(&self) -> Option<Vec<u8>> {
        let p = self.pkt.borrow();
        p.dirty.then(|| p.body.clone())
    }
}

/// The bytes an access at `offset` of `len` bytes (or to the end) covers in `total` bytes:
/// `(offset, size)` as indexes, or why there are none. The one bounds check of every
/// accessor, the `skb`'s C getters included.
fn span(offset: i64, len: Option<i64>, total: usize) -> Result<(usize, usize), Fault> {
    let out = |size: usize| Fault::OutOfBounds {
        offset,
        size,
        len: total,
    };
    let size = match len {
        Some(n) => usize::try_from(n).map_err(|_| out(0))?,
        None => usize::try_from(offset)
            .ok()
            .and_then(|o| total.checked_sub(o))
            .unwrap_or(0),
    };
    match usize::try_from(offset) {
        Ok(off) if off.checked_add(size).is_some_and(|end| end <= total) => Ok((off, size)),
        _ => Err(out(size)),
    }
}

/// What a netfilter hook's `skb` knows beyond its bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SkbMeta {
    pub ifindex: u32,
    pub mark: u32,
    /// The VLAN id the kernel reported (`skb:vlan()`), if any.
    pub vlan: Option<u16>,
    /// The connection's conntrack mark, when the packet has a conntrack entry.
    pub connmark: Option<u32>,
}

/// One view of a hook call's packet. The netfilter `skb` is the network-layer view with
/// [`SkbMeta`] attached: as in Lunatik, `skb:getuint8(9)` reads the IP header directly, and
/// `skb:data("mac")` gives the read-only view that starts at the link-layer header.
#[derive(Clone)]
pub struct View {
    slot: Rc<Slot>,
    /// The call this view was made for; `None` for the `skb`, which is every call's.
    call: Option<u64>,
    /// Whether the view starts at `head` (the `mac` layer) or at `body`.
    with_head: bool,
    writable: bool,
    /// Whether this is the `skb` (with metadata and layers).
    skb: bool,
    /// Whether the view owns its memory (`data.new`): only such a view resizes.
    owned: bool,
}

impl View {
    /// A view of call `call` (from [`Slot::begin`]) of `slot`.
    pub fn new(slot: Rc<Slot>, call: u64, with_head: bool, writable: bool) -> Self {
        View {
            slot,
            call: Some(call),
            with_head,
            writable,
            skb: false,
            owned: false,
        }
    }

    /// `data.new(size)`: `size` zero bytes of its own, writable and resizable.
    pub fn owned(size: usize) -> Self {
        let slot = Slot::detached(&[], &vec![0; size], SkbMeta::default());
        let call = slot.current();
        View {
            owned: true,
            ..View::new(slot, call, false, true)
        }
    }

    /// The slot behind the view.
    pub fn slot(&self) -> &Rc<Slot> {
        &self.slot
    }

    /// `d:resize(n)`: an owned view's new length (cut, or zeros added).
    pub fn resize(&self, n: i64) -> Result<(), Fault> {
        if !self.writable {
            return Err(Fault::ReadOnly);
        }
        if !self.owned {
            return Err(Fault::External);
        }
        let len = usize::try_from(n).map_err(|_| Fault::TooLarge(n))?;
        self.slot.modify(|p| p.body.resize(len, 0))
    }

    /// The `skb` of a netfilter hook: the writable network layer of whatever call of the
    /// hook is in progress, with its metadata. One for the hook's life.
    pub fn skb(slot: Rc<Slot>) -> Self {
        View {
            slot,
            call: None,
            with_head: false,
            writable: true,
            skb: true,
            owned: false,
        }
    }

    /// `skb:data(layer)`: a view of this call's `net` (default) or `mac` layer (from the
    /// link-layer header on, writable as Lunatik's; writes to the header itself never reach
    /// the kernel's packet, but `forward` sends them).
    pub fn layer(&self, lua: &mlua::Lua, layer: Option<&str>) -> mlua::Result<View> {
        if !self.skb {
            return Err(located(lua, "data: only an skb has layers"));
        }
        if !self.alive() {
            return Err(located(lua, Fault::Retired));
        }
        let v = View::new(self.slot.clone(), self.slot.call.get(), false, true);
        match layer {
            None | Some("net") => Ok(v),
            Some("mac") if !self.slot.has_head() => Err(located(
                lua,
                "skb:data: MAC header not set (the packet has no link-layer header)",
            )),
            Some("mac") => Ok(View {
                with_head: true,
                ..v
            }),
            Some(other) => Err(located(
                lua,
                format!("skb:data: unknown layer '{other}' (expected \"net\" or \"mac\")"),
            )),
        }
    }

    fn alive(&self) -> bool {
        self.slot.live.get() && self.call.is_none_or(|c| c == self.slot.call.get())
    }

    pub fn len(&self) -> usize {
        let p = self.slot.pkt.borrow();
        p.body.len() + if self.with_head { p.head.len() } else { 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks that `size` bytes at `offset` exist; returns the offset as usize.
    pub fn range(&self, offset: i64, size: usize) -> Result<usize, Fault> {
        if !self.alive() {
            return Err(Fault::Retired);
        }
        span(offset, Some(size as i64), self.len()).map(|(off, _)| off)
    }

    /// Copies `N` bytes at `offset` (across the head/body seam for the `mac` view).
    pub fn read<const N: usize>(&self, offset: i64) -> Result<[u8; N], Fault> {
        let off = self.range(offset, N)?;
        let mut out = [0u8; N];
        self.copy_out(off, &mut out);
        Ok(out)
    }

    /// Bytes from `offset`, `len` of them or to the end.
    pub fn read_bytes(&self, offset: i64, len: Option<i64>) -> Result<Vec<u8>, Fault> {
        if !self.alive() {
            return Err(Fault::Retired);
        }
        let (off, size) = span(offset, len, self.len())?;
        let mut out = vec![0u8; size];
        self.copy_out(off, &mut out);
        Ok(out)
    }

    fn copy_out(&self, off: usize, out: &mut [u8]) {
        let p = self.slot.pkt.borrow();
        let head: &[u8] = if self.with_head { &p.head } else { &[] };
        for (i, b) in out.iter_mut().enumerate() {
            let at = off + i;
            *b = if at < head.len() {
                head[at]
            } else {
                p.body[at - head.len()]
            };
        }
    }

    /// Writes `bytes` at `offset` (across the head/body seam for the `mac` view). A write
    /// that touches the body marks the packet rewritten.
    pub fn write(&self, offset: i64, bytes: &[u8]) -> Result<(), Fault> {
        let off = self.range(offset, bytes.len())?;
        if !self.writable {
            return Err(Fault::ReadOnly);
        }
        let mut p = self.slot.pkt.borrow_mut();
        let head_len = if self.with_head { p.head.len() } else { 0 };
        let end = off + bytes.len();
        if off < head_len {
            let n = head_len.min(end) - off;
            p.head[off..off + n].copy_from_slice(&bytes[..n]);
        }
        if end > head_len {
            let from = off.max(head_len);
            let src = &bytes[from - off..];
            p.body[from - head_len..end - head_len].copy_from_slice(src);
            p.dirty = true;
        }
        Ok(())
    }
}

/// A Lua object that is a data object: its view.
pub trait AsView {
    fn view(&self) -> &View;
}

impl AsView for View {
    fn view(&self) -> &View {
        self
    }
}

macro_rules! int_accessors {
    ($methods:ident, $($get:literal $set:literal $t:ty),* $(,)?) => {$(
        $methods.add_method($get, |lua, this, off: i64| {
            this.view().read::<{ std::mem::size_of::<$t>() }>(off).map(|b| <$t>::from_ne_bytes(b) as i64).map_err(|f| located(lua, f))
        });
        $methods.add_method($set, |lua, this, (off, v): (i64, i64)| {
            // A store truncates to the field's width, as the C assignment in Lunatik does.
            this.view().write(off, &(v as $t).to_ne_bytes()).map_err(|f| located(lua, f))
        });
    )*};
}

/// The methods every data object has, as Lunatik's `lib/luadata.c`: the accessors, `#d`,
/// `tostring(d)` (its bytes). `checksum` and `resize` too unless `skb` (an `skb` has its
/// own).
pub fn add_data_methods<T: AsView + 'static, M: UserDataMethods<T>>(methods: &mut M, skb: bool) {
    int_accessors!(methods,
        "getbyte" "setbyte" u8,
        "getint8" "setint8" i8,
        "getuint8" "setuint8" u8,
        "getint16" "setint16" i16,
        "getuint16" "setuint16" u16,
        "getint32" "setint32" i32,
        "getuint32" "setuint32" u32,
        "getint64" "setint64" i64,
        "getnumber" "setnumber" i64,
    );
    methods.add_method("getstring", |lua, this, (off, len): (i64, Option<i64>)| {
        let bytes = this
            .view()
            .read_bytes(off, len)
            .map_err(|f| located(lua, f))?;
        lua.create_string(bytes)
    });
    methods.add_method("setstring", |lua, this, (off, s): (i64, mlua::String)| {
        this.view()
            .write(off, &s.as_bytes())
            .map_err(|f| located(lua, f))
    });
    methods.add_meta_method(MetaMethod::Len, |_, this, ()| Ok(this.view().len()));
    // Lunatik's `__tostring` gives the bytes themselves.
    methods.add_meta_method(MetaMethod::ToString, |lua, this, ()| {
        let bytes = this
            .view()
            .read_bytes(0, None)
            .map_err(|f| located(lua, f))?;
        lua.create_string(bytes)
    });
    if !skb {
        methods.add_method(
            "checksum",
            |lua, this, (off, len): (Option<i64>, Option<i64>)| {
                let bytes = this
                    .view()
                    .read_bytes(off.unwrap_or(0), len)
                    .map_err(|f| located(lua, f))?;
                Ok(crate::inet_checksum::folded_ne(&bytes))
            },
        );
        methods.add_function("resize", |lua, (ud, n): (mlua::AnyUserData, i64)| {
            let v = ud.borrow::<T>()?.view().clone();
            v.resize(n).map_err(|f| located(lua, f))?;
            charge(lua, &ud, v.len())
        });
    }
}

impl UserData for View {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        add_data_methods(methods, false);
        methods.add_method("data", |lua, this, layer: Option<String>| {
            this.layer(lua, layer.as_deref())
        });
        methods.add_method("ifindex", |_, this, ()| {
            Ok(this.skb.then(|| this.slot.meta.get().ifindex))
        });
        methods.add_method("mark", |_, this, ()| {
            Ok(this.skb.then(|| this.slot.meta.get().mark))
        });
    }
}

/// Makes the Lua heap carry `bytes` for the object `ud` (as its user value): the bytes it
/// holds outside the Lua heap (a `data.new` buffer, an `skb:copy()`) then count against the
/// state's memory cap and weigh on its collector, so a script cannot grow the process past
/// its cap through them.
pub(crate) fn charge(lua: &mlua::Lua, ud: &mlua::AnyUserData, bytes: usize) -> mlua::Result<()> {
    ud.set_user_value(lua.create_string(vec![0u8; bytes])?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(head: &[u8], body: &[u8], with_head: bool, writable: bool) -> View {
        let slot = Rc::new(Slot::default());
        let call = slot.begin(head, body);
        View::new(slot, call, with_head, writable)
    }

    #[test]
    fn reads_cross_the_head_body_seam() {
        let v = view(&[1, 2], &[3, 4], true, false);
        assert_eq!(v.read::<4>(0).unwrap(), [1, 2, 3, 4]);
        assert_eq!(v.read::<2>(1).unwrap(), [2, 3]);
        assert_eq!(v.len(), 4);
    }

    #[test]
    fn refuses_out_of_bounds_negative_and_overflowing_offsets() {
        let v = view(&[], &[0; 4], false, true);
        assert!(matches!(v.read::<2>(3), Err(Fault::OutOfBounds { .. })));
        assert!(matches!(v.read::<1>(-1), Err(Fault::OutOfBounds { .. })));
        assert!(matches!(
            v.read::<8>(i64::MAX),
            Err(Fault::OutOfBounds { .. })
        ));
        assert!(matches!(
            v.read_bytes(2, Some(-1)),
            Err(Fault::OutOfBounds { .. })
        ));
        assert_eq!(v.read_bytes(4, None).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn mac_view_is_read_only_and_writes_mark_the_packet_dirty() {
        let ro = view(&[0; 14], &[0; 20], true, false);
        assert_eq!(ro.write(0, &[1]), Err(Fault::ReadOnly));
        let rw = view(&[], &[0; 20], false, true);
        rw.write(19, &[7]).unwrap();
        let mut want = vec![0; 20];
        want[19] = 7;
        assert_eq!(rw.slot.rewritten(), Some(want));
        assert_eq!(ro.slot.rewritten(), None);
    }

    #[test]
    fn retired_views_refuse_every_access_also_in_a_later_call() {
        let v = view(&[], &[0; 4], false, true);
        v.slot.retire();
        assert_eq!(v.read::<1>(0), Err(Fault::Retired));
        assert_eq!(v.write(0, &[1]), Err(Fault::Retired));
        // The slot's next call does not bring an old view back to life.
        let call = v.slot.begin(&[], &[9; 4]);
        assert_eq!(v.read::<1>(0), Err(Fault::Retired));
        let fresh = View::new(v.slot.clone(), call, false, true);
        assert_eq!(fresh.read::<1>(0), Ok([9]));
    }
}
