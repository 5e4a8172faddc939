//! What an `skb` does beyond reading and writing its bytes, as Lunatik's `lib/luaskb.c`:
//! `copy`, `resize`, `checksum`, `forward`, `vlan`, `connmark`. One function per method on
//! the hook's [`Slot`], shared by the hook's own `skb` ([`crate::skb`]) and by the copies
//! `skb:copy()` makes ([`Skb`]).
//!
//! `forward` makes no system call: the frame goes to the state's outbox, which its runner
//! empties after each hook call ([`take_forwarded`]) and sends out of the device.

use mlua::{AnyUserData, Lua, MetaMethod, UserData, UserDataMethods, Value};

use crate::data::{add_data_methods, AsView, Slot, View};
use crate::error::located;

/// Frames a state may hold for its runner between two hook calls.
const OUTBOX_MAX: usize = 256;

/// A frame `skb:forward()` asked to send: out of interface `ifindex`, from its link-layer
/// header on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarded {
    pub ifindex: u32,
    pub frame: Vec<u8>,
}

/// The state's frames waiting for its runner.
#[derive(Default)]
struct Outbox(Vec<Forwarded>);

/// Takes the frames hook calls forwarded since the last time.
pub fn take_forwarded(lua: &Lua) -> Vec<Forwarded> {
    lua.app_data_mut::<Outbox>()
        .map(|mut o| std::mem::take(&mut o.0))
        .unwrap_or_default()
}

/// Where `skb:connmark()` reads and sets a connection's mark when the kernel did not send it
/// with the packet (the runner's, through ctnetlink). Both take the packet from its network
/// header on.
pub trait ConnMarks {
    /// The mark of the connection `net` belongs to; `None` when it has no conntrack entry.
    fn get(&mut self, net: &[u8]) -> Option<u32>;
    /// Sets it; false when it has no conntrack entry.
    fn set(&mut self, net: &[u8], mark: u32) -> bool;
}

/// The state's [`ConnMarks`], if its runner gave one.
pub(crate) struct Marks(pub Box<dyn ConnMarks>);

/// An `skb` made by `skb:copy()`: its own bytes and metadata, valid as long as it lives.
pub struct Skb(View);

impl AsView for Skb {
    fn view(&self) -> &View {
        &self.0
    }
}

impl UserData for Skb {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        add_data_methods(methods, true);
        methods.add_method("data", |lua, this, layer: Option<String>| {
            this.0.layer(lua, layer.as_deref())
        });
        methods.add_method("ifindex", |_, this, ()| Ok(ifindex(this.0.slot())));
        methods.add_method("mark", |_, this, ()| Ok(this.0.slot().meta().mark));
        methods.add_method("vlan", |_, this, ()| Ok(vlan(this.0.slot())));
        methods.add_method("connmark", |lua, this, v: Option<i64>| {
            connmark(lua, this.0.slot(), v)
        });
        methods.add_method("copy", |lua, this, ()| copy(lua, this.0.slot()));
        methods.add_function("resize", |lua, (ud, n): (AnyUserData, i64)| {
            let slot = ud.borrow::<Skb>()?.0.slot().clone();
            resize(lua, &slot, n)?;
            crate::data::charge(lua, &ud, slot.body_len())
        });
        methods.add_method("checksum", |lua, this, ()| checksum(lua, this.0.slot()));
        methods.add_method("forward", |lua, this, ()| forward(lua, this.0.slot()));
        // A method lunet does not have raises with its name, as the hook's own skb does.
        methods.add_meta_method(MetaMethod::Index, |lua, _, name: Value| {
            Err::<(), _>(crate::missing::missing(lua, "skb", &name))
        });
    }
}

/// The view a copy is, for the modules that take a data object.
pub(crate) fn view_of_copy(ud: &AnyUserData) -> Option<View> {
    ud.borrow::<Skb>().ok().map(|s| s.0.clone())
}

/// `skb:ifindex()`: the interface, or nil when the packet has none.
pub(crate) fn ifindex(slot: &Slot) -> Option<u32> {
    Some(slot.meta().ifindex).filter(|&i| i != 0)
}

/// `skb:vlan()`: the VLAN id, or nil.
pub(crate) fn vlan(slot: &Slot) -> Option<u16> {
    slot.meta().vlan
}

/// `skb:connmark([v])`: the connection's mark (after setting it to `v`), or nil when the
/// packet has no conntrack entry (then `v` is ignored, as in Lunatik).
pub(crate) fn connmark(lua: &Lua, slot: &Slot, v: Option<i64>) -> mlua::Result<Option<u32>> {
    let meta = slot.meta();
    if meta.connmark.is_none() {
        check_live(lua, slot)?;
        let Some(mut marks) = lua.app_data_mut::<Marks>() else {
            return Ok(None);
        };
        let (_, net) = slot.bytes();
        return Ok(match v {
            None => marks.0.get(&net),
            Some(v) => marks.0.set(&net, v as u32).then_some(v as u32),
        });
    }
    if let Some(v) = v {
        // A 32-bit mark, truncated as Lunatik's `(u32)` cast does.
        check_live(lua, slot)?;
        slot.set_connmark(v as u32);
    }
    Ok(slot.meta().connmark)
}

/// `skb:copy()`: a new `skb` with a copy of the bytes (link-layer header included) and the
/// metadata.
pub(crate) fn copy(lua: &Lua, slot: &Slot) -> mlua::Result<AnyUserData> {
    check_live(lua, slot)?;
    let (head, body) = slot.bytes();
    let mut meta = slot.meta();
    if let Some(m) = slot.connmark_set() {
        meta.connmark = Some(m);
    }
    let size = head.len() + body.len();
    let copy = Slot::detached(&head, &body, meta);
    let ud = lua.create_userdata(Skb(View::skb(copy)))?;
    crate::data::charge(lua, &ud, size)?;
    Ok(ud)
}

/// `skb:resize(n)`: the network layer's new length (cut, or zeros added at the end).
pub(crate) fn resize(lua: &Lua, slot: &Slot, n: i64) -> mlua::Result<()> {
    slot.resize_body(n)
        .map_err(|f| located(lua, format!("skb:resize: {f}")))
}

/// `skb:checksum()`: recomputes the IPv4 header checksum and the TCP or UDP checksum.
pub(crate) fn checksum(lua: &Lua, slot: &Slot) -> mlua::Result<()> {
    slot.modify(|p| crate::inet_checksum::refresh_all(&mut p.body))
        .map_err(|f| located(lua, f))
}

/// `skb:forward()`: a copy of the frame, link-layer header and all, to be sent out of the
/// packet's interface.
pub(crate) fn forward(lua: &Lua, slot: &Slot) -> mlua::Result<()> {
    check_live(lua, slot)?;
    let ifindex = ifindex(slot).ok_or_else(|| located(lua, "skb:forward: skb has no device"))?;
    if !slot.has_head() {
        return Err(located(lua, "skb:forward: MAC header not set"));
    }
    let (mut frame, body) = slot.bytes();
    frame.extend_from_slice(&body);
    let mut outbox = match lua.app_data_mut::<Outbox>() {
        Some(o) => o,
        None => {
            lua.set_app_data(Outbox::default());
            lua.app_data_mut::<Outbox>()
                .ok_or_else(|| mlua::Error::runtime("the outbox is gone"))?
        }
    };
    if outbox.0.len() >= OUTBOX_MAX {
        return Err(located(
            lua,
            format!("skb:forward: {OUTBOX_MAX} frames already wait to be sent"),
        ));
    }
    outbox.0.push(Forwarded { ifindex, frame });
    Ok(())
}

fn check_live(lua: &Lua, slot: &Slot) -> mlua::Result<()> {
    if slot.is_live() {
        Ok(())
    } else {
        Err(located(lua, crate::data::Fault::Retired))
    }
}
