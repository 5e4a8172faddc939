//! The `-m bpf` match that spreads a hook's packets over per-CPU copies by flow.
//!
//! NFQUEUE's own `--queue-balance` hashes the addresses only, so every flow between two hosts
//! meets one copy, and `--queue-cpu-fanout` follows the CPU that handles the packet (one CPU
//! for all on a veth or a one-queue NIC). So a state with N copies gets N rules per hook, one
//! per queue, each with a classic-BPF match (xt_bpf, `--bytecode`) that is true for one N-th
//! of the flows: a hash of source and destination address and, for TCP, UDP and SCTP (first
//! fragments included), ports, taken modulo N. Addresses and ports are XORed together, so both
//! directions of a flow hash alike. The match sees the packet from its network header, as
//! iptables does.

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Op {
    code: u16,
    jt: u8,
    jf: u8,
    k: u32,
}

const LD_W_ABS: u16 = 0x20;
const LD_H_ABS: u16 = 0x28;
const LD_B_ABS: u16 = 0x30;
const LD_IMM: u16 = 0x00;
const LD_H_IND: u16 = 0x48;
const LDX_MEM: u16 = 0x61;
const LDX_B_MSH: u16 = 0xb1;
const ST: u16 = 0x02;
const ALU_XOR_X: u16 = 0xac;
const ALU_MUL_K: u16 = 0x24;
const ALU_RSH_K: u16 = 0x74;
const ALU_MOD_K: u16 = 0x94;
const JMP_JA: u16 = 0x05;
const JMP_JEQ_K: u16 = 0x15;
const JMP_JSET_K: u16 = 0x45;
const RET_K: u16 = 0x06;

/// Protocols whose first four bytes after the IP header are two ports.
const PORTED: [u32; 3] = [6, 17, 132];

fn op(code: u16, k: u32) -> Op {
    Op {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

/// A program under construction; jumps name labels, resolved by [`Prog::finish`].
#[derive(Default)]
struct Prog {
    ops: Vec<Op>,
    /// (instruction index, jt label, jf label) of conditional jumps; (index, label) of `ja`.
    cond: Vec<(usize, usize, usize)>,
    ja: Vec<(usize, usize)>,
    labels: Vec<Option<usize>>,
}

impl Prog {
    fn label(&mut self) -> usize {
        self.labels.push(None);
        self.labels.len() - 1
    }
    fn here(&mut self, l: usize) {
        self.labels[l] = Some(self.ops.len());
    }
    fn push(&mut self, o: Op) {
        self.ops.push(o);
    }
    fn jump_if(&mut self, code: u16, k: u32, jt: usize, jf: usize) {
        self.cond.push((self.ops.len(), jt, jf));
        self.push(op(code, k));
    }
    fn ja(&mut self, to: usize) {
        self.ja.push((self.ops.len(), to));
        self.push(op(JMP_JA, 0));
    }
    /// Resolves the jumps (all forward, all short here).
    fn finish(mut self) -> Vec<Op> {
        let at = |labels: &[Option<usize>], l: usize| labels[l].expect("every label placed");
        for (i, t, f) in std::mem::take(&mut self.cond) {
            self.ops[i].jt = (at(&self.labels, t) - i - 1) as u8;
            self.ops[i].jf = (at(&self.labels, f) - i - 1) as u8;
        }
        for (i, t) in std::mem::take(&mut self.ja) {
            self.ops[i].k = (at(&self.labels, t) - i - 1) as u32;
        }
        self.ops
    }
}

/// Whether the packet belongs to copy `k` of `n`, for IPv4 (`v6` false) or IPv6.
fn program(v6: bool, n: u16, k: u16) -> Vec<Op> {
    let mut p = Prog::default();
    let (ports, addrs, mix) = (p.label(), p.label(), p.label());
    let proto_off = if v6 { 6 } else { 9 };
    if !v6 {
        // A fragment other than the first has no ports.
        let l = p.label();
        p.push(op(LD_H_ABS, 6));
        p.jump_if(JMP_JSET_K, 0x1fff, addrs, l);
        p.here(l);
    }
    p.push(op(LD_B_ABS, proto_off));
    for (i, proto) in PORTED.iter().enumerate() {
        let next = p.label();
        let miss = if i + 1 == PORTED.len() { addrs } else { next };
        p.jump_if(JMP_JEQ_K, *proto, ports, miss);
        p.here(next);
    }
    // M[1] = sport ^ dport.
    p.here(ports);
    if v6 {
        p.push(op(LD_H_ABS, 42));
        p.push(op(ST, 0));
        p.push(op(LD_H_ABS, 40));
    } else {
        p.push(op(LDX_B_MSH, 0)); // X = the IPv4 header's length
        p.push(op(LD_H_IND, 2));
        p.push(op(ST, 0));
        p.push(op(LD_H_IND, 0));
    }
    p.push(op(LDX_MEM, 0));
    p.push(op(ALU_XOR_X, 0));
    p.ja(mix);
    p.here(addrs);
    p.push(op(LD_IMM, 0));
    p.here(mix);
    p.push(op(ST, 1));
    // XOR in the address words.
    let words: Vec<u32> = if v6 {
        (0..8).map(|i| 8 + 4 * i).collect()
    } else {
        vec![12, 16]
    };
    for w in words {
        p.push(op(LD_W_ABS, w));
        p.push(op(LDX_MEM, 1));
        p.push(op(ALU_XOR_X, 0));
        p.push(op(ST, 1));
    }
    // A multiplicative hash's high half, modulo the copies.
    p.push(op(ALU_MUL_K, 0x9e37_79b1));
    p.push(op(ALU_RSH_K, 16));
    p.push(op(ALU_MOD_K, n as u32));
    let (yes, no) = (p.label(), p.label());
    p.jump_if(JMP_JEQ_K, k as u32, yes, no);
    p.here(yes);
    p.push(op(RET_K, 1));
    p.here(no);
    p.push(op(RET_K, 0));
    p.finish()
}

/// `--bytecode` of the match for copy `k` of `n`: `"len,code jt jf k,..."`.
pub(crate) fn bytecode(v6: bool, n: u16, k: u16) -> String {
    let ops = program(v6, n, k);
    let mut s = ops.len().to_string();
    for o in ops {
        s.push_str(&format!(",{} {} {} {}", o.code, o.jt, o.jf, o.k));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the program on `pkt` (an interpreter of the opcodes used, as the kernel does).
    fn run(ops: &[Op], pkt: &[u8]) -> u32 {
        let (mut a, mut x, mut m) = (0u32, 0u32, [0u32; 16]);
        let load = |off: usize, n: usize| -> Option<u32> {
            let b = pkt.get(off..off + n)?;
            Some(b.iter().fold(0u32, |v, &c| (v << 8) | c as u32))
        };
        let mut pc = 0;
        loop {
            let o = ops[pc];
            pc += 1;
            match o.code {
                LD_W_ABS => a = load(o.k as usize, 4).unwrap_or(0),
                LD_H_ABS => a = load(o.k as usize, 2).unwrap_or(0),
                LD_B_ABS => a = load(o.k as usize, 1).unwrap_or(0),
                LD_H_IND => a = load((x + o.k) as usize, 2).unwrap_or(0),
                LD_IMM => a = o.k,
                LDX_MEM => x = m[o.k as usize],
                LDX_B_MSH => x = 4 * (load(o.k as usize, 1).unwrap_or(0) & 0xf),
                ST => m[o.k as usize] = a,
                ALU_XOR_X => a ^= x,
                ALU_MUL_K => a = a.wrapping_mul(o.k),
                ALU_RSH_K => a >>= o.k,
                ALU_MOD_K => a %= o.k,
                JMP_JA => pc += o.k as usize,
                JMP_JEQ_K => pc += if a == o.k { o.jt } else { o.jf } as usize,
                JMP_JSET_K => pc += if a & o.k != 0 { o.jt } else { o.jf } as usize,
                RET_K => return o.k,
                c => panic!("opcode {c:#x} not interpreted"),
            }
        }
    }

    fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, frag: u16) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 28, 0, 0];
        p.extend(frag.to_be_bytes());
        p.extend([64, 17, 0, 0]);
        p.extend(src);
        p.extend(dst);
        p.extend(sport.to_be_bytes());
        p.extend(dport.to_be_bytes());
        p.extend([0, 8, 0, 0]);
        p
    }

    fn udp6(src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0, 0, 8, 17, 64];
        p.extend(src);
        p.extend(dst);
        p.extend(sport.to_be_bytes());
        p.extend(dport.to_be_bytes());
        p.extend([0, 8, 0, 0]);
        p
    }

    /// The copies whose match takes `pkt`.
    fn takers(v6: bool, n: u16, pkt: &[u8]) -> Vec<u16> {
        (0..n)
            .filter(|&k| run(&program(v6, n, k), pkt) == 1)
            .collect()
    }

    #[test]
    fn every_packet_meets_exactly_one_copy_and_flows_spread_over_all() {
        for n in [2u16, 3, 4] {
            let mut per_copy = vec![0; n as usize];
            for sport in 40000..40064 {
                let p = udp4([198, 18, 0, 1], [198, 18, 0, 2], sport, 7100, 0);
                let t = takers(false, n, &p);
                assert_eq!(t.len(), 1, "{n} copies, port {sport}: {t:?}");
                per_copy[t[0] as usize] += 1;
                let mut a = [0u8; 16];
                a[15] = 1;
                let mut b = a;
                b[15] = 2;
                assert_eq!(takers(true, n, &udp6(a, b, sport, 7100)).len(), 1);
            }
            assert!(
                per_copy.iter().all(|&c| c >= 64 / n as usize / 3),
                "{n} copies: {per_copy:?}"
            );
        }
    }

    #[test]
    fn both_directions_and_later_fragments_hash_alike() {
        let (a, b) = ([198, 18, 0, 1], [198, 18, 0, 2]);
        for sport in 40000..40016 {
            let out = takers(false, 4, &udp4(a, b, sport, 53, 0));
            let back = takers(false, 4, &udp4(b, a, 53, sport, 0));
            assert_eq!(out, back, "port {sport}");
        }
        // Non-first fragments (offset != 0) all go by address, and so do non-ported
        // protocols: the same copy for any "port" bytes.
        let f1 = takers(false, 4, &udp4(a, b, 1, 2, 0x0010));
        let f2 = takers(false, 4, &udp4(a, b, 3, 4, 0x0020));
        assert_eq!(f1, f2);
    }

    #[test]
    fn the_bytecode_is_what_iptables_takes() {
        let s = bytecode(false, 2, 1);
        let mut parts = s.split(',');
        let n: usize = parts.next().unwrap().parse().unwrap();
        assert_eq!(parts.clone().count(), n);
        assert!(parts.all(|p| p.split(' ').count() == 4), "{s}");
    }
}
