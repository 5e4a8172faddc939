//! Data objects: bounds-checked byte views of the packet a hook is looking at.
//!
//! A hook call owns one [`Packet`]; every view handed to Lua (`skb:data("net")`, the XDP
//! `packet`) points into it. Offsets are 0-based, multi-byte values are in host byte order
//! (what a C load from that address gives, as in Lunatik), and every access is checked before
//! it touches a byte: after [`View::range`] succeeds no accessor can panic. When the hook
//! returns, its views are retired, so a view saved in a global raises instead of reading a
//! later packet.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use mlua::{MetaMethod, UserData, UserDataMethods};

use crate::error::located;

/// The bytes of one hook call.
#[derive(Debug, Default, Clone)]
pub struct Packet {
    /// A synthesized link-layer header shown only by the read-only `mac` view.
    pub head: Vec<u8>,
    /// The packet proper: the network layer at netfilter, the whole frame at XDP.
    pub body: Vec<u8>,
    /// Set by any setter: the body must go back to the kernel.
    pub dirty: bool,
}

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
        }
    }
}

/// What a netfilter hook's `skb` knows beyond its bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct SkbMeta {
    pub ifindex: u32,
    pub mark: u32,
}

/// One view of a hook call's packet. The netfilter `skb` is the network-layer view with
/// [`SkbMeta`] attached: as in Lunatik, `skb:getuint8(9)` reads the IP header directly, and
/// `skb:data("mac")` gives the read-only view that starts at the link-layer header.
#[derive(Clone)]
pub struct View {
    pkt: Rc<RefCell<Packet>>,
    /// Whether the view starts at `head` (the `mac` layer) or at `body`.
    with_head: bool,
    writable: bool,
    alive: Rc<Cell<bool>>,
    skb: Option<SkbMeta>,
}

impl View {
    pub fn new(
        pkt: Rc<RefCell<Packet>>,
        with_head: bool,
        writable: bool,
        alive: Rc<Cell<bool>>,
    ) -> Self {
        View {
            pkt,
            with_head,
            writable,
            alive,
            skb: None,
        }
    }

    /// The `skb` of a netfilter hook call: the writable network layer, with metadata.
    pub fn skb(pkt: Rc<RefCell<Packet>>, alive: Rc<Cell<bool>>, meta: SkbMeta) -> Self {
        View {
            pkt,
            with_head: false,
            writable: true,
            alive,
            skb: Some(meta),
        }
    }

    pub fn len(&self) -> usize {
        let p = self.pkt.borrow();
        p.body.len() + if self.with_head { p.head.len() } else { 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks that `size` bytes at `offset` exist; returns the offset as usize.
    pub fn range(&self, offset: i64, size: usize) -> Result<usize, Fault> {
        if !self.alive.get() {
            return Err(Fault::Retired);
        }
        let len = self.len();
        match usize::try_from(offset) {
            Ok(off) if off.checked_add(size).is_some_and(|end| end <= len) => Ok(off),
            _ => Err(Fault::OutOfBounds { offset, size, len }),
        }
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
        let total = self.len();
        let size = match len {
            Some(n) => usize::try_from(n).map_err(|_| Fault::OutOfBounds {
                offset,
                size: 0,
                len: total,
            })?,
            None => usize::try_from(offset)
                .ok()
                .and_then(|o| total.checked_sub(o))
                .unwrap_or(0),
        };
        let off = self.range(offset, size)?;
        let mut out = vec![0u8; size];
        self.copy_out(off, &mut out);
        Ok(out)
    }

    fn copy_out(&self, off: usize, out: &mut [u8]) {
        let p = self.pkt.borrow();
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

    /// Writes `bytes` at `offset`. Only body views are writable.
    pub fn write(&self, offset: i64, bytes: &[u8]) -> Result<(), Fault> {
        let off = self.range(offset, bytes.len())?;
        if !self.writable {
            return Err(Fault::ReadOnly);
        }
        let mut p = self.pkt.borrow_mut();
        p.body[off..off + bytes.len()].copy_from_slice(bytes);
        p.dirty = true;
        Ok(())
    }
}

macro_rules! int_accessors {
    ($methods:ident, $($get:literal $set:literal $t:ty),* $(,)?) => {$(
        $methods.add_method($get, |lua, this, off: i64| {
            this.read::<{ std::mem::size_of::<$t>() }>(off).map(|b| <$t>::from_ne_bytes(b) as i64).map_err(|f| located(lua, f))
        });
        $methods.add_method($set, |lua, this, (off, v): (i64, i64)| {
            // A store truncates to the field's width, as the C assignment in Lunatik does.
            this.write(off, &(v as $t).to_ne_bytes()).map_err(|f| located(lua, f))
        });
    )*};
}

impl UserData for View {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
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
            let bytes = this.read_bytes(off, len).map_err(|f| located(lua, f))?;
            lua.create_string(bytes)
        });
        methods.add_method("setstring", |lua, this, (off, s): (i64, mlua::String)| {
            this.write(off, &s.as_bytes()).map_err(|f| located(lua, f))
        });
        methods.add_meta_method(MetaMethod::Len, |_, this, ()| Ok(this.len()));
        methods.add_method("data", |lua, this, layer: Option<String>| {
            if this.skb.is_none() {
                return Err(located(lua, "data: only an skb has layers"));
            }
            let mut v = this.clone();
            v.skb = None;
            match layer.as_deref() {
                None | Some("net") => Ok(v),
                Some("mac") => {
                    v.with_head = true;
                    v.writable = false;
                    Ok(v)
                }
                Some(other) => Err(located(
                    lua,
                    format!("skb:data: unknown layer '{other}' (expected \"net\" or \"mac\")"),
                )),
            }
        });
        methods.add_method("ifindex", |_, this, ()| Ok(this.skb.map(|m| m.ifindex)));
        methods.add_method("mark", |_, this, ()| Ok(this.skb.map(|m| m.mark)));
        methods.add_meta_method(MetaMethod::ToString, |_, this, ()| {
            Ok(format!(
                "data: {} bytes{}",
                this.len(),
                if this.writable { "" } else { ", read-only" }
            ))
        });
    }
}

/// Ends the life of every view that shares `alive`.
pub fn retire(alive: &Rc<Cell<bool>>) {
    alive.set(false);
}

/// A fresh, live view over `pkt`'s body, for tests and for the XDP `packet`.
pub fn body_view(pkt: &Rc<RefCell<Packet>>, writable: bool, alive: &Rc<Cell<bool>>) -> View {
    View::new(pkt.clone(), false, writable, alive.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(head: &[u8], body: &[u8], with_head: bool, writable: bool) -> View {
        let pkt = Rc::new(RefCell::new(Packet {
            head: head.to_vec(),
            body: body.to_vec(),
            dirty: false,
        }));
        View::new(pkt, with_head, writable, Rc::new(Cell::new(true)))
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
        assert!(rw.pkt.borrow().dirty);
        assert_eq!(rw.pkt.borrow().body[19], 7);
    }

    #[test]
    fn retired_views_refuse_every_access() {
        let v = view(&[], &[0; 4], false, true);
        retire(&v.alive);
        assert_eq!(v.read::<1>(0), Err(Fault::Retired));
        assert_eq!(v.write(0, &[1]), Err(Fault::Retired));
    }
}
