//! `linux`: the kernel's constants (`linux.nf`, `linux.xdp`, from [`lunet_types`]) and
//! Lunatik's lib/lualinux.c functions a filter uses: `time`, `difftime`, `random`, `ifindex`,
//! `ifaddr`, `errname`, `numcpus`. The ones lunet leaves out raise, naming themselves
//! ([`super::absent`]).

use mlua::{Lua, MultiValue, Table, Value};

use crate::error::located;

use lunet_types::{nf, xdp, Hook};

fn indexed(names: &'static [&'static str]) -> impl Iterator<Item = (&'static str, i64)> {
    names.iter().enumerate().map(|(i, n)| (*n, i as i64))
}

fn priorities() -> impl Iterator<Item = (&'static str, i64)> {
    nf::priority::ALL.iter().map(|(n, v)| (*n, *v as i64))
}

pub(crate) fn nf(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("proto", constants(lua, nf::PROTO.iter().copied())?)?;
    t.set("action", constants(lua, indexed(nf::action::NAMES))?)?;
    t.set(
        "inet",
        constants(lua, Hook::ALL.iter().map(|h| (h.name(), h.raw() as i64)))?,
    )?;
    let ip = lua.create_table()?;
    ip.set("pri", constants(lua, priorities())?)?;
    t.set("ip", ip)?;
    Ok(t)
}

pub(crate) fn xdp(lua: &Lua) -> mlua::Result<Table> {
    constants(lua, indexed(xdp::NAMES))
}

/// Nanoseconds since the epoch on the real-time clock, as Lunatik's `linux.time()`
/// (`ktime_get_real_ns`).
fn time_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// 64 random bits from the kernel (`getrandom(2)`, as Lunatik's `get_random_u64`).
fn random_u64() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom writes at most `b.len()` bytes into `b`, alive for the call. It
    // never fails for 8 bytes once the pool is ready (it blocks until then, at boot only).
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    debug_assert_eq!(n, 8);
    u64::from_ne_bytes(b)
}

/// `linux.random([m [, n]])`: as Lua's `math.random` (Lunatik's lib/lualinux.c): no argument
/// gives 64 random bits, `n` an integer in [1, n], `m, n` one in [m, n].
fn random(lua: &Lua, args: MultiValue) -> mlua::Result<i64> {
    let int = |i: usize| -> mlua::Result<i64> {
        match args.get(i) {
            Some(Value::Integer(v)) => Ok(*v),
            Some(Value::Number(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
            other => Err(located(
                lua,
                format!(
                    "bad argument #{} to 'random' (number has no integer representation: {})",
                    i + 1,
                    other.map(|v| v.type_name()).unwrap_or("no value")
                ),
            )),
        }
    };
    let (low, up) = match args.len() {
        0 => return Ok(random_u64() as i64),
        1 => (1, int(0)?),
        2 => (int(0)?, int(1)?),
        _ => return Err(located(lua, "linux.random: wrong number of arguments")),
    };
    if low > up {
        return Err(located(
            lua,
            "bad argument #1 to 'random' (interval is empty)",
        ));
    }
    if low < 0 && up > i64::MAX + low {
        return Err(located(
            lua,
            "bad argument #1 to 'random' (interval too large)",
        ));
    }
    let span = (up - low) as u64 + 1;
    Ok(low + (random_u64() % span) as i64)
}

/// The kernel's name for error number `n` (either sign), as `errname()`; "unknown" otherwise.
pub(crate) fn errname(n: i64) -> &'static str {
    usize::try_from(n.unsigned_abs())
        .ok()
        .and_then(|i| ERRNAMES.get(i))
        .copied()
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
}

/// Linux's error names by number (asm-generic/errno-base.h and errno.h; 41 and 58 are unused).
const ERRNAMES: &[&str] = &[
    "",
    "EPERM",
    "ENOENT",
    "ESRCH",
    "EINTR",
    "EIO",
    "ENXIO",
    "E2BIG",
    "ENOEXEC",
    "EBADF",
    "ECHILD",
    "EAGAIN",
    "ENOMEM",
    "EACCES",
    "EFAULT",
    "ENOTBLK",
    "EBUSY",
    "EEXIST",
    "EXDEV",
    "ENODEV",
    "ENOTDIR",
    "EISDIR",
    "EINVAL",
    "ENFILE",
    "EMFILE",
    "ENOTTY",
    "ETXTBSY",
    "EFBIG",
    "ENOSPC",
    "ESPIPE",
    "EROFS",
    "EMLINK",
    "EPIPE",
    "EDOM",
    "ERANGE",
    "EDEADLK",
    "ENAMETOOLONG",
    "ENOLCK",
    "ENOSYS",
    "ENOTEMPTY",
    "ELOOP",
    "",
    "ENOMSG",
    "EIDRM",
    "ECHRNG",
    "EL2NSYNC",
    "EL3HLT",
    "EL3RST",
    "ELNRNG",
    "EUNATCH",
    "ENOCSI",
    "EL2HLT",
    "EBADE",
    "EBADR",
    "EXFULL",
    "ENOANO",
    "EBADRQC",
    "EBADSLT",
    "",
    "EBFONT",
    "ENOSTR",
    "ENODATA",
    "ETIME",
    "ENOSR",
    "ENONET",
    "ENOPKG",
    "EREMOTE",
    "ENOLINK",
    "EADV",
    "ESRMNT",
    "ECOMM",
    "EPROTO",
    "EMULTIHOP",
    "EDOTDOT",
    "EBADMSG",
    "EOVERFLOW",
    "ENOTUNIQ",
    "EBADFD",
    "EREMCHG",
    "ELIBACC",
    "ELIBBAD",
    "ELIBSCN",
    "ELIBMAX",
    "ELIBEXEC",
    "EILSEQ",
    "ERESTART",
    "ESTRPIPE",
    "EUSERS",
    "ENOTSOCK",
    "EDESTADDRREQ",
    "EMSGSIZE",
    "EPROTOTYPE",
    "ENOPROTOOPT",
    "EPROTONOSUPPORT",
    "ESOCKTNOSUPPORT",
    "EOPNOTSUPP",
    "EPFNOSUPPORT",
    "EAFNOSUPPORT",
    "EADDRINUSE",
    "EADDRNOTAVAIL",
    "ENETDOWN",
    "ENETUNREACH",
    "ENETRESET",
    "ECONNABORTED",
    "ECONNRESET",
    "ENOBUFS",
    "EISCONN",
    "ENOTCONN",
    "ESHUTDOWN",
    "ETOOMANYREFS",
    "ETIMEDOUT",
    "ECONNREFUSED",
    "EHOSTDOWN",
    "EHOSTUNREACH",
    "EALREADY",
    "EINPROGRESS",
    "ESTALE",
    "EUCLEAN",
    "ENOTNAM",
    "ENAVAIL",
    "EISNAM",
    "EREMOTEIO",
    "EDQUOT",
    "ENOMEDIUM",
    "EMEDIUMTYPE",
    "ECANCELED",
    "ENOKEY",
    "EKEYEXPIRED",
    "EKEYREVOKED",
    "EKEYREJECTED",
    "EOWNERDEAD",
    "ENOTRECOVERABLE",
    "ERFKILL",
    "EHWPOISON",
];

pub(crate) fn module(lua: &Lua) -> mlua::Result<Table> {
    let linux = lua.create_table()?;
    linux.set("time", lua.create_function(|_, ()| Ok(time_ns()))?)?;
    linux.set(
        "difftime",
        lua.create_function(|_, (t2, t1): (i64, i64)| Ok(t2.wrapping_sub(t1)))?,
    )?;
    linux.set("random", lua.create_function(random)?)?;
    // The state's network namespace: its thread entered it (Lunatik looks in init_net).
    linux.set(
        "ifindex",
        lua.create_function(|lua, name: String| {
            lunet_bpf::link::ifindex(&name).map_err(|e| {
                located(
                    lua,
                    format!("bad argument #1 to 'ifindex' (device '{name}' not found: {e})"),
                )
            })
        })?,
    )?;
    linux.set(
        "ifaddr",
        lua.create_function(|lua, ifindex: i64| {
            let addr = u32::try_from(ifindex)
                .ok()
                .and_then(|i| lunet_bpf::link::hwaddr(i).ok())
                .ok_or_else(|| {
                    located(
                        lua,
                        format!("bad argument #1 to 'ifaddr' (device {ifindex} not found)"),
                    )
                })?;
            lua.create_string(addr)
        })?,
    )?;
    linux.set("errname", lua.create_function(|_, n: i64| Ok(errname(n)))?)?;
    linux.set(
        "numcpus",
        lua.create_function(|_, ()| {
            Ok(lunet_bpf::map::possible_cpus()
                .unwrap_or_else(|_| std::thread::available_parallelism().map_or(1, |n| n.get()))
                as i64)
        })?,
    )?;
    linux.set("nf", nf(lua)?)?;
    linux.set("xdp", xdp(lua)?)?;
    super::absent::guard(lua, "linux", &linux)?;
    Ok(linux)
}

/// A table of name = value constants.
fn constants<'a>(
    lua: &Lua,
    pairs: impl IntoIterator<Item = (&'a str, i64)>,
) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for (k, v) in pairs {
        t.set(k, v)?;
    }
    Ok(t)
}
