//! What of Lunatik's API lunet does not have, and why: `require` of one of these modules, or
//! a call of one of these functions, raises an error naming it, where it comes from in
//! Lunatik and why it stays out (never "attempt to call a nil value"). docs/lua-tier.md's
//! compatibility table says the same for every Lunatik module.

use mlua::{Lua, Table, Value};

use crate::error::located;

/// A Lunatik module lunet does not have: its `require` name, its source in Lunatik's
/// repository, and why it is not here.
pub(crate) struct Absent {
    pub name: &'static str,
    pub source: &'static str,
    pub why: &'static str,
}

const KERNEL_ONLY: &str = "it drives kernel objects a userspace filter cannot reach";

/// Lunatik's modules (its lib/) that `require` cannot give.
pub(crate) const MODULES: &[Absent] = &[
    Absent { name: "socket", source: "lib/luasocket.c", why: "kernel sockets: a filter in lunet judges packets and opens no sockets (the Lua tier runs in the daemon, the kernel tier in eBPF)" },
    Absent { name: "socket.inet", source: "lib/socket/inet.lua", why: "needs the socket module, which lunet does not have" },
    Absent { name: "socket.raw", source: "lib/socket/raw.lua", why: "needs the socket module, which lunet does not have" },
    Absent { name: "socket.unix", source: "lib/socket/unix.lua", why: "needs the socket module, which lunet does not have" },
    Absent { name: "thread", source: "lib/luathread.c", why: "kernel threads: a lunet state is one thread the daemon owns; a script's body runs once and its hooks run per packet" },
    Absent { name: "netlink", source: "lib/luanetlink.c, lib/netlink.lua", why: "netlink sessions from a filter: lunet's own netlink use (NFQUEUE) is not a script's" },
    Absent { name: "device", source: "lib/luadevice.c", why: "character devices: KERNEL_ONLY" },
    Absent { name: "hid", source: "lib/luahid.c", why: "HID drivers: KERNEL_ONLY" },
    Absent { name: "probe", source: "lib/luaprobe.c", why: "kprobes and tracepoints: this kernel class has no kprobes for lunet (no module), and lunet filters packets" },
    Absent { name: "syscall", source: "lib/luasyscall.c", why: "the kernel's system call table: KERNEL_ONLY" },
    Absent { name: "syscall.table", source: "lib/syscall/table.lua", why: "the kernel's system call table: KERNEL_ONLY" },
    Absent { name: "notifier", source: "lib/luanotifier.c", why: "kernel notifier chains: KERNEL_ONLY" },
    Absent { name: "signal", source: "lib/luasignal.c", why: "signals to kernel tasks: KERNEL_ONLY" },
    Absent { name: "completion", source: "lib/luacompletion.c", why: "kernel completions synchronise kernel threads, which lunet does not give scripts" },
    Absent { name: "fifo", source: "lib/luafifo.c", why: "kernel FIFOs pass data between runtimes; a lunet script has one state (use an rcu table or a bpf map)" },
    Absent { name: "mailbox", source: "lib/mailbox.lua", why: "needs fifo and completion, which lunet does not have" },
    Absent { name: "cpu", source: "lib/luacpu.c", why: "per-CPU kernel statistics are not a filter's business here; linux.numcpus() gives the CPU count" },
    Absent { name: "crypto", source: "lib/luacrypto_*.c", why: "the kernel crypto API is not built in lunet yet" },
    Absent { name: "crypto.hkdf", source: "lib/crypto/hkdf.lua", why: "needs the crypto module, which lunet does not have yet" },
    Absent { name: "darken", source: "lib/luadarken.c", why: "encrypted scripts: lunet reads scripts as text" },
    Absent { name: "lighten", source: "lib/lighten.lua", why: "needs darken, which lunet does not have" },
    Absent { name: "lunatik.runner", source: "lib/lunatik/runner.lua", why: "scripts starting scripts: lunet's daemon starts states (`lunet run`)" },
    Absent { name: "set", source: "lib/luaset.c", why: "not built in lunet yet: a Lua table of names does the same in the Lua tier" },
    Absent { name: "skel", source: "lib/luaskel.c", why: "a template for writing C modules" },
    Absent { name: "class", source: "lib/class.lua", why: "a plain Lua module lunet does not ship: put Lunatik's lib/ under a script root (`--path DIR`) to use it" },
    Absent { name: "struct", source: "lib/struct.lua", why: "a plain Lua module lunet does not ship: put Lunatik's lib/ under a script root (`--path DIR`) to use it" },
    Absent { name: "util", source: "lib/util.lua", why: "a plain Lua module lunet does not ship: put Lunatik's lib/ under a script root (`--path DIR`) to use it" },
    Absent { name: "net", source: "lib/net.lua", why: "a plain Lua module lunet does not ship: put Lunatik's lib/ under a script root (`--path DIR`) to use it" },
];

/// Lunatik's functions in modules lunet has, that lunet does not: module, function, why.
pub(crate) const FUNCTIONS: &[(&str, &str, &str)] = &[
    ("linux", "schedule", "a hook must not sleep, and a body that sleeps holds up its start; lunet has no kernel task to put to sleep"),
    ("linux", "tracing", "the kernel's ftrace switch is not a filter's business; lunet's hooks log with print"),
    ("linux", "lookup", "kernel symbol addresses mean nothing to a userspace filter"),
];

/// Whether `name` is one of Lunatik's C modules lunet does not have. Lunatik's `require`
/// finds its built-in C modules before any file, so these are refused before the script
/// roots are searched: a script named `device.lua` that requires `device` gets this error,
/// not itself. Lunatik's Lua modules (`class`, `lunatik.runner`, ...) are looked for in the
/// roots first, since a user may put Lunatik's `lib/` there.
pub(crate) fn is_builtin(name: &str) -> bool {
    name == "lunatik"
        || MODULES
            .iter()
            .any(|a| a.name == name && a.source.ends_with(".c") && !a.source.contains(','))
}

/// The error for `require(name)` of a Lunatik module lunet does not have, if it is one.
pub(crate) fn module(name: &str) -> Option<String> {
    if name == "lunatik" {
        return Some(
            "module 'lunatik' (Lunatik's lunatik_core.c: runtimes made from Lua) is not available in lunet: a script does not make runtimes; the daemon starts one state per script (`lunet run`) (docs/lua-tier.md, \"Lunatik compatibility\")".to_string(),
        );
    }
    if let Some(a) = MODULES.iter().find(|a| a.name == name) {
        let why = a.why.replace("KERNEL_ONLY", KERNEL_ONLY);
        return Some(format!(
            "module '{name}' (Lunatik's {}) is not available in lunet: {why} (docs/lua-tier.md, \"Lunatik compatibility\")",
            a.source
        ));
    }
    // Lunatik's generated constant modules (autogen/specs.lua): linux.stat, linux.eth, ...
    if let Some(rest) = name.strip_prefix("linux.") {
        return Some(format!(
            "module '{name}' (Lunatik's constants generated from kernel headers) is not available in lunet: only linux.nf and linux.xdp are; '{rest}' would give constants no lunet API takes (docs/lua-tier.md, \"Lunatik compatibility\")"
        ));
    }
    None
}

/// Makes indexing `module` by one of its [`FUNCTIONS`] raise the error naming it, so that
/// `linux.schedule(10)` says what it is instead of calling nil. Other absent names stay nil.
pub(crate) fn guard(lua: &Lua, module_name: &'static str, module: &Table) -> mlua::Result<()> {
    if !FUNCTIONS.iter().any(|(m, _, _)| *m == module_name) {
        return Ok(());
    }
    let mt = lua.create_table()?;
    mt.set(
        "__index",
        lua.create_function(move |lua, (_, key): (Value, Value)| {
            let Value::String(k) = &key else {
                return Ok(Value::Nil);
            };
            let k = k.to_string_lossy();
            match FUNCTIONS
                .iter()
                .find(|(m, f, _)| *m == module_name && *f == k)
            {
                Some((m, f, why)) => Err(located(
                    lua,
                    format!("{m}.{f} (Lunatik's lib/lua{m}.c) is not available in lunet: {why}"),
                )),
                None => Ok(Value::Nil),
            }
        })?,
    )?;
    mt.set("__metatable", false)?;
    module.set_metatable(Some(mt))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_absent_module_says_where_it_comes_from_and_why() {
        for a in MODULES {
            let m = module(a.name).unwrap();
            assert!(m.contains(a.source) && !m.contains("KERNEL_ONLY"), "{m}");
        }
        assert!(module("linux.stat").unwrap().contains("linux.stat"));
        assert!(module("netfilter").is_none());
        assert!(is_builtin("device") && is_builtin("crypto") && is_builtin("lunatik"));
        assert!(!is_builtin("class") && !is_builtin("netlink") && !is_builtin("lunatik.runner"));
    }
}
