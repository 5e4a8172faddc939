//! The skb and data API of Lunatik's `lib/luaskb.c` and `lib/luadata.c` through a real
//! state: what a script sees of copies, resizes, checksums, forwarded frames, VLAN ids,
//! connection marks and `data.new` buffers. (The same calls with real traffic:
//! crates/lunet/tests/lunatik.rs.)

mod common;

use common::*;
use lunet_lua::{Forwarded, NfPacket};

fn register(body: &str) -> String {
    format!(
        "{PRELUDE}\nlocal data = require('data')\nlocal byteorder = require('byteorder')\n\
         netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, hook = function(skb)\n{body}\nend }}\n"
    )
}

/// The ones-complement sum of `b` as 16-bit big-endian words, folded (not inverted).
fn sum(b: &[u8]) -> u32 {
    let mut acc: u32 = b
        .chunks(2)
        .map(|c| u32::from(c[0]) << 8 | u32::from(*c.get(1).unwrap_or(&0)))
        .sum();
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    acc
}

fn printed(st: &lunet_lua::State) -> Vec<String> {
    st.log().since(0).into_iter().map(|l| l.text).collect()
}

#[test]
fn a_copy_is_turned_around_resized_checksummed_and_forwarded_while_the_packet_stays() {
    let (st, _s) = start(&register(
        "local r = skb:copy()\n\
         local mac, ip = r:data('mac'), r:data('net')\n\
         local a, b = mac:getstring(0, 6), mac:getstring(6, 6)\n\
         mac:setstring(0, b) mac:setstring(6, a)\n\
         local s, d = ip:getuint32(12), ip:getuint32(16)\n\
         ip:setuint32(12, d) ip:setuint32(16, s)\n\
         r:resize(28)\n\
         ip:setuint16(2, byteorder.hton16(28))\n\
         ip:setuint16(10, 0xdead)\n\
         r:checksum()\n\
         print(#r, #ip, #skb)\n\
         r:forward()\n\
         return nf.action.DROP",
    ));
    let p = udp4(53, b"a long enough payload");
    let out = st.run_netfilter(0, p.nf());
    assert_eq!(out.error, None);
    assert_eq!(out.verdict, 0);
    assert_eq!(out.rewritten, None, "the copy's changes are its own");
    assert_eq!(printed(&st), ["28\t28\t49"]);
    let sent: Vec<Forwarded> = st.take_forwarded();
    assert_eq!(sent.len(), 1);
    let f = &sent[0];
    assert_eq!(f.ifindex, 2, "out of the interface it came in on");
    assert_eq!(f.frame.len(), 14 + 28);
    assert_eq!(
        &f.frame[..6],
        &p.link_header[6..12],
        "to where it came from"
    );
    assert_eq!(&f.frame[6..12], &p.link_header[..6]);
    let ip = &f.frame[14..];
    assert_eq!((&ip[12..16], &ip[16..20]), (&p.net[16..20], &p.net[12..16]));
    assert_eq!(sum(&ip[..20]), 0xffff, "the IPv4 header checksum is right");
    // UDP over IPv4: pseudo-header (addresses, protocol, length) and the datagram.
    let mut pseudo = ip[12..20].to_vec();
    pseudo.extend_from_slice(&[0, 17, 0, 8]);
    pseudo.extend_from_slice(&ip[20..28]);
    assert_eq!(sum(&pseudo), 0xffff, "the UDP checksum is right");
    assert!(st.take_forwarded().is_empty(), "each frame is taken once");
}

#[test]
fn checksum_fixes_tcp_over_ipv6_and_resize_of_the_packet_goes_back() {
    let (st, _s) = start(&register(
        "skb:setuint16(40 + 16, 0)\n\
         skb:checksum()\n\
         return nf.action.ACCEPT",
    ));
    // IPv6 ::1 -> ::1, TCP 1000 -> 80 with 4 bytes of data, checksum zero.
    let mut v6 = vec![0x60, 0, 0, 0, 0, 24, 6, 64];
    v6.extend_from_slice(&[0; 15]);
    v6.push(1);
    v6.extend_from_slice(&[0; 15]);
    v6.push(1);
    v6.extend_from_slice(&[
        0x03, 0xe8, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x18, 0xff, 0xff,
    ]);
    v6.extend_from_slice(&[0, 0, 0, 0, b'd', b'a', b't', b'a']);
    let pkt = NfPacket {
        net: &v6,
        link_header: &[0; 14],
        ifindex: 1,
        ..NfPacket::default()
    };
    let out = st.run_netfilter(0, pkt);
    assert_eq!(out.error, None);
    let new = out.rewritten.expect("checksummed");
    let mut pseudo = new[8..40].to_vec();
    pseudo.extend_from_slice(&[0, 0, 0, 24, 0, 0, 0, 6]);
    pseudo.extend_from_slice(&new[40..]);
    assert_eq!(sum(&pseudo), 0xffff, "the TCP checksum over IPv6 is right");

    let (st, _s) = start(&register(
        "skb:resize(#skb + 2)\n\
         skb:setuint16(#skb - 2, 0x4142)\n\
         return nf.action.ACCEPT",
    ));
    let p = udp4(9, b"x");
    let out = st.run_netfilter(0, p.nf());
    let new = out.rewritten.expect("resized");
    assert_eq!(new.len(), p.net.len() + 2);
    assert_eq!(&new[..p.net.len()], &p.net[..]);
}

#[test]
fn skb_mistakes_and_missing_methods_name_the_line_and_the_name() {
    let (st, _s) = start(&register(
        "if skb:getuint8(9) == 17 then skb:resize(-1) end\n\
         local ok, e = pcall(function() return skb:copy():frobnicate() end)\n\
         assert(not ok and e:find('frobnicate', 1, true) and not e:find('nil value'), e)\n\
         ok, e = pcall(function() return skb:data('net'):frobnicate() end)\n\
         assert(not ok and e:find('data:frobnicate', 1, true) and not e:find('nil value'), e)\n\
         skb:frobnicate()\n\
         return nf.action.ACCEPT",
    ));
    let out = st.run_netfilter(0, udp4(9, b"x").nf());
    let e = out.error.expect("resize(-1)").message().to_string();
    assert!(e.contains("script.lua:") && e.contains("skb:resize"), "{e}");
    let out = st.run_netfilter(
        0,
        NfPacket {
            net: &tcp4(9, b"x").net,
            link_header: &[0; 14],
            ..NfPacket::default()
        },
    );
    let e = out.error.expect("no such method").message().to_string();
    assert!(
        e.contains("script.lua:") && e.contains("frobnicate") && !e.contains("nil value"),
        "{e}"
    );
    // No interface, or no link-layer header: nothing to forward out of.
    let (st, _s) = start(&register("skb:forward() return nf.action.ACCEPT"));
    let out = st.run_netfilter(
        0,
        NfPacket {
            net: &udp4(9, b"x").net,
            link_header: &[0; 14],
            ifindex: 0,
            ..NfPacket::default()
        },
    );
    let e = out.error.expect("no device").message().to_string();
    assert!(e.contains("skb has no device"), "{e}");
}

#[test]
fn vlan_connmark_and_ifindex_show_what_the_kernel_told() {
    let (st, _s) = start(&register(
        "print(skb:ifindex(), skb:vlan(), skb:connmark())\n\
         if skb:connmark() then print(skb:connmark(skb:connmark() + 1)) end\n\
         return nf.action.ACCEPT",
    ));
    let p = udp4(9, b"x");
    let out = st.run_netfilter(
        0,
        NfPacket {
            vlan: Some(10),
            connmark: Some(41),
            ..p.nf()
        },
    );
    assert_eq!(out.error, None);
    assert_eq!(out.connmark, Some(42), "the new mark goes with the verdict");
    let out = st.run_netfilter(
        0,
        NfPacket {
            ifindex: 0,
            ..p.nf()
        },
    );
    assert_eq!(out.connmark, None);
    assert_eq!(printed(&st), ["2\t10\t41", "42", "nil\tnil\tnil"]);
}

#[test]
fn data_new_makes_buffers_that_resize_checksum_and_print_their_bytes() {
    let (st, _s) = start(&register(
        "local d = data.new(4)\n\
         d:setstring(0, 'ab')\n\
         d:resize(6)\n\
         d:setuint8(5, 0x7a)\n\
         print(#d, tostring(d) == 'ab\\0\\0\\0z')\n\
         local h = data.new(8, 'single')\n\
         h:setstring(0, '\\x00\\x01\\xf2\\x03\\xf4\\xf5\\xf6\\xf7')\n\
         h:setuint16(0, h:checksum())\n\
         print(string.format('%02x%02x', h:getuint8(0), h:getuint8(1)), h:checksum(2, 2))\n\
         local ok, e = pcall(skb.data(skb).resize, skb:data(), 3)\n\
         print(ok, e)\n\
         print(pcall(data.new, -1))\n\
         return nf.action.ACCEPT",
    ));
    let out = st.run_netfilter(0, udp4(9, b"x").nf());
    assert_eq!(out.error, None);
    let lines = printed(&st);
    assert_eq!(lines[0], "6\ttrue");
    // RFC 1071's example bytes sum to 0xddf2; `d:checksum()` is its inverse as a C load
    // reads it, so `setuint16` stores the checksum's bytes in network order.
    let rfc = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
    assert_eq!(sum(&rfc), 0xddf2);
    let expect = !(sum(&rfc) as u16);
    assert!(
        lines[1].starts_with(&format!("{:04x}", expect)),
        "{lines:?}"
    );
    assert!(
        lines[2].contains("cannot resize external memory"),
        "{lines:?}"
    );
    assert!(lines[3].contains("data.new: cannot allocate"), "{lines:?}");
}

/// `data.new` buffers and `skb:copy()`s hold their bytes outside the Lua heap; they still
/// count against the state's memory cap, so piling them up ends at the cap, not the host's
/// memory.
#[test]
fn buffers_and_copies_count_against_the_memory_cap() {
    let limits = lunet_lua::Limits {
        memory: 16 << 20,
        ..lunet_lua::Limits::default()
    };
    let body = "local data = require('data')\nlocal keep = {}\n\
                for i = 1, 64 do keep[i] = data.new(1 << 20) end\n";
    let err = start_with(body, limits)
        .err()
        .expect("the cap stops the body");
    assert_eq!(err.kind, lunet_lua::ScriptErrorKind::Memory, "{err}");

    let source = format!(
        "{PRELUDE}\nlocal keep = {{}}\n\
         netfilter.register{{ pf = nf.proto.IPV4, hooknum = nf.inet.LOCAL_IN, hook = function(skb)\n\
         local c = skb:copy() c:resize(60000) keep[#keep + 1] = c\n\
         return nf.action.ACCEPT end }}\n"
    );
    let (st, _s) = start_with(&source, limits).unwrap();
    let p = udp4(9, b"x");
    let hit = (0..1000).find_map(|_| match st.run_netfilter(0, p.nf()).error {
        Some(lunet_lua::HookError::Memory(m)) => Some(m),
        _ => None,
    });
    assert!(hit.is_some(), "copies kept by a hook reach the memory cap");
}
