//! Compiled hooks in the kernel: fresh kernel maps for the [`MapRef`]s a program uses (and
//! the verdict counters and print maps when it has them), loaded with `BPF_PROG_LOAD` and run
//! with `BPF_PROG_TEST_RUN`. Needs root: callers start with [`crate::require_root!`].

use std::os::fd::{AsRawFd, RawFd};

use lunet_compile::{HookInput, Program};
use lunet_types::{Layout, MapKind, MapRef, Scalar};

use crate::hooks::maps_of;

/// Kernel maps for the `MapRef`s a program uses, created fresh.
#[derive(Default)]
pub struct KernelMaps {
    pub list: Vec<(MapRef, lunet_bpf::Map)>,
}

impl KernelMaps {
    pub fn create(refs: &[MapRef]) -> KernelMaps {
        let list = refs
            .iter()
            .map(|r| {
                let m = lunet_bpf::Map::create(
                    lunet_bpf::map::map_type::of(r.decl.kind),
                    r.decl.key.size as u32,
                    r.decl.value.size as u32,
                    r.decl.entries,
                    &r.decl.name,
                )
                .unwrap_or_else(|e| panic!("creating map {}: {e}", r.decl.name));
                (r.clone(), m)
            })
            .collect();
        KernelMaps { list }
    }

    /// With the verdict counters too.
    pub fn with_counters(mut self) -> KernelMaps {
        self.list
            .extend(KernelMaps::create(&[lunet_compile::verdict_counter_map()]).list);
        self
    }

    /// With the print ring buffer (of `ring_size` bytes) and the lost-records counter.
    pub fn with_print(mut self, ring_size: u32) -> KernelMaps {
        let mut ring = lunet_compile::print_ring_map();
        ring.decl.entries = ring_size;
        self.list
            .extend(KernelMaps::create(&[ring, lunet_compile::print_lost_map()]).list);
        self
    }

    /// A consumer of the print ring buffer (a second mapping of the same map).
    pub fn print_ring(&self) -> lunet_bpf::RingBuf {
        use std::os::fd::AsFd;
        let (_, m) = self.get(lunet_compile::print::PRINT_MAP_NAME);
        let fd = m.as_fd().try_clone_to_owned().expect("dup");
        lunet_bpf::RingBuf::new(lunet_bpf::Map::from_fd(fd).expect("map info")).expect("mmap")
    }

    /// Records the full ring buffer refused, summed over the CPUs.
    pub fn print_lost(&self) -> i64 {
        self.dump(lunet_compile::print::PRINT_LOST_MAP_NAME)
            .iter()
            .map(|(_, v)| v)
            .sum()
    }

    pub fn fds(&self) -> Vec<(usize, RawFd)> {
        self.list
            .iter()
            .map(|(r, m)| (r.id, m.as_raw_fd()))
            .collect()
    }

    pub fn has(&self, name: &str) -> bool {
        self.list.iter().any(|(r, _)| r.decl.name == name)
    }

    pub fn get(&self, name: &str) -> &(MapRef, lunet_bpf::Map) {
        self.list
            .iter()
            .find(|(r, _)| r.decl.name == name)
            .unwrap_or_else(|| panic!("no kernel map {name}"))
    }

    /// The value of `key` on each CPU (one entry unless the map is per-CPU), decoded as
    /// lunet-lua's layout does; `None` when absent.
    pub fn per_cpu(&self, name: &str, key: i64) -> Option<Vec<i64>> {
        let (r, m) = self.get(name);
        let kl = Layout::parse(&r.decl.key.format).unwrap();
        let vl = Layout::parse(&r.decl.value.format).unwrap();
        let k = kl.pack(&[Scalar::Int(key)]).ok()?;
        let raw = m.lookup(&k).unwrap()?;
        let slot = if r.decl.kind == MapKind::PercpuArray {
            r.decl.value.size.div_ceil(8) * 8
        } else {
            r.decl.value.size
        };
        Some(
            raw.chunks(slot)
                .map(|c| int(&vl.unpack(&c[..r.decl.value.size]).unwrap()))
                .collect(),
        )
    }

    /// Every entry, decoded, per-CPU values summed (as lunet-lua reads them), sorted by key.
    pub fn dump(&self, name: &str) -> Vec<(i64, i64)> {
        let (r, m) = self.get(name);
        let kl = Layout::parse(&r.decl.key.format).unwrap();
        let mut out: Vec<(i64, i64)> = m
            .keys()
            .unwrap()
            .iter()
            .filter_map(|k| {
                let key = int(&kl.unpack(k).unwrap());
                let vals = self.per_cpu(name, key)?;
                Some((key, vals.into_iter().fold(0i64, i64::wrapping_add)))
            })
            .collect();
        out.sort();
        out
    }

    /// `m[k] = v` (or a delete) as `lunet map` does it: per-CPU values go to CPU 0, the other
    /// CPUs' slots are zeroed. False when the kernel refused (a full hash: E2BIG, ...).
    pub fn set(&self, name: &str, k: i64, v: Option<i64>) -> bool {
        let (r, m) = self.get(name);
        let kl = Layout::parse(&r.decl.key.format).unwrap();
        let vl = Layout::parse(&r.decl.value.format).unwrap();
        let key = kl.pack(&[Scalar::Int(k)]).unwrap();
        match v {
            None => m.delete(&key).is_ok(),
            Some(v) => {
                let mut bytes = vec![0u8; m.lookup_len().unwrap()];
                let b = vl.pack(&[Scalar::Int(v)]).unwrap();
                bytes[..b.len()].copy_from_slice(&b);
                m.update(&key, &bytes, 0).is_ok()
            }
        }
    }
}

fn int(s: &[Scalar]) -> i64 {
    match s.first() {
        Some(Scalar::Int(i)) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

/// A compiled and loaded program, with the maps it uses.
pub struct Kernel {
    pub fd: lunet_bpf::ProgFd,
    pub maps: KernelMaps,
}

/// Compiles and loads like a loader should: the default options first, and hidden loop
/// counters when the verifier finds the program too complex
/// ([`lunet_bpf::LoadError::too_complex`]). Creates the maps the hook uses.
pub fn compile_and_load(input: &HookInput) -> Result<(Program, Kernel), lunet_compile::Diagnostic> {
    compile_and_load_counting(input, false)
}

/// [`compile_and_load`], with verdict counters when `count` is set.
pub fn compile_and_load_counting(
    input: &HookInput,
    count: bool,
) -> Result<(Program, Kernel), lunet_compile::Diagnostic> {
    let fresh_maps = |p: &Program| {
        let mut m = KernelMaps::create(&maps_of(input));
        if count {
            m = m.with_counters();
        }
        if !p.prints.is_empty() {
            m = m.with_print(lunet_compile::print::PRINT_RING_SIZE);
        }
        m
    };
    let compile = |opts: &lunet_compile::Options| {
        let mut p = lunet_compile::compile_with(input, opts)?;
        if count {
            p.count_verdicts().expect("count_verdicts");
        }
        Ok::<_, lunet_compile::Diagnostic>(p)
    };
    let p = compile(&lunet_compile::Options::default())?;
    match Kernel::try_load(&p, fresh_maps(&p)) {
        Ok(k) => Ok((p, k)),
        Err(e) if e.too_complex() => {
            let opts = lunet_compile::Options {
                loop_bound: lunet_compile::LoopBound::Counter,
            };
            let p = compile(&opts)?;
            let k = Kernel::load_with(&p, &input.source, fresh_maps(&p));
            Ok((p, k))
        }
        Err(_) => {
            let k = Kernel::load_with(&p, &input.source, fresh_maps(&p));
            Ok((p, k))
        }
    }
}

impl Kernel {
    /// Loads a program that uses no maps.
    pub fn load(p: &Program, source: &str) -> Kernel {
        Kernel::load_with(p, source, KernelMaps::default())
    }

    /// Patches `maps`' fds into a copy of `p` and loads it.
    pub fn try_load(p: &Program, maps: KernelMaps) -> Result<Kernel, lunet_bpf::LoadError> {
        let mut p = p.clone();
        p.patch_map_fds(&maps.fds())
            .unwrap_or_else(|e| panic!("patching map fds: {e}"));
        let (prog_type, attach) = p.load_type();
        let fd = lunet_bpf::load(prog_type, &p.insns, "GPL", attach)?;
        Ok(Kernel { fd, maps })
    }

    pub fn load_with(p: &Program, source: &str, maps: KernelMaps) -> Kernel {
        match Kernel::try_load(p, maps) {
            Ok(k) => k,
            Err(e) => {
                let at = p.verifier_line(&e.log);
                let tail: Vec<&str> = e.log.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "verifier refused ({:?} -> Lua line {:?}):\n{}\n--- program ---\n{}",
                    e.io_error(),
                    at,
                    tail.join("\n"),
                    p.asm(source)
                )
            }
        }
    }

    /// A netfilter program's verdict on `net` (a packet from its IP header on) at
    /// PRE_ROUTING: `BPF_PROG_TEST_RUN` takes an Ethernet frame there and hands the program
    /// the skb from the IP header, with a 48-byte `struct nf_hook_state` (`hook`, `pf`) as
    /// the context. And the average ns per run over `repeat` runs.
    /// The test run's skb has mark 0 (the context sets no skb field).
    pub fn run_nf(&self, net: &[u8], repeat: u32) -> (u32, u32) {
        // IPv6 by the version nibble when the packet can hold its header (the test run refuses
        // shorter IPv6 packets); anything else goes as IPv4, which the test run takes as is.
        let v6 = net.len() >= 40 && net.first().is_some_and(|b| b >> 4 == 6);
        let mut frame = vec![0u8; 12];
        frame.extend_from_slice(if v6 { &[0x86, 0xdd] } else { &[0x08, 0x00] });
        frame.extend_from_slice(net);
        let mut ctx = [0u8; 48];
        ctx[0] = 0; // NF_INET_PRE_ROUTING
        ctx[1] = if v6 { 10 } else { 2 }; // NFPROTO_IPV6 / NFPROTO_IPV4
        let r = lunet_bpf::test_run(&self.fd, &frame, repeat, Some(&ctx), 0, 0)
            .expect("test_run (netfilter)");
        (r.retval, r.duration_ns)
    }

    /// The verdict and the packet after the program.
    pub fn run(&self, frame: &[u8]) -> (u32, Vec<u8>) {
        let r = lunet_bpf::test_run(&self.fd, frame, 1, None, 0, 0).expect("test_run");
        (r.retval, r.data_out)
    }
}
