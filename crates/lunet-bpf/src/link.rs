//! BPF links (`BPF_LINK_CREATE`): the attachment lives as long as the link fd (or a pin of it).

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use lunet_types::{Family, Hook};

use crate::prog::{attach_type, ProgFd};
use crate::sys::{self, Cmd, InfoAttr, LinkCreateAttr, LinkInfo, LinkUpdateAttr};

/// XDP attach flags (`XDP_FLAGS_*` from `linux/if_link.h`) for [`link_create_xdp`].
pub mod xdp_flags {
    /// Fail if a program is already attached.
    pub const UPDATE_IF_NOEXIST: u32 = 1 << 0;
    /// Generic (skb) mode: works on any device, slower.
    pub const SKB_MODE: u32 = 1 << 1;
    /// Native driver mode.
    pub const DRV_MODE: u32 = 1 << 2;
}

/// Netfilter link flags for [`link_create_netfilter`].
pub mod nf {
    /// `BPF_F_NETFILTER_IP_DEFRAG` (Linux 6.6): see reassembled datagrams; priority must be
    /// above `NF_IP_PRI_CONNTRACK_DEFRAG` (-400).
    pub const F_IP_DEFRAG: u32 = 1;
}

/// A BPF link. Dropping it closes the fd, which detaches the program unless the link is pinned.
#[derive(Debug)]
pub struct LinkFd(OwnedFd);

impl LinkFd {
    /// Wraps an fd known to refer to a link (for example from [`crate::pin::get`]).
    pub fn from_owned(fd: OwnedFd) -> LinkFd {
        LinkFd(fd)
    }

    pub fn into_owned(self) -> OwnedFd {
        self.0
    }
}

impl AsFd for LinkFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsRawFd for LinkFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// Attaches an XDP program to the device `ifindex` of the calling thread's network namespace
/// (`BPF_LINK_CREATE` with `BPF_XDP`, Linux 5.9). `flags` are [`xdp_flags`]; 0 picks native
/// mode where the driver has it, generic mode otherwise.
pub fn link_create_xdp(prog: &ProgFd, ifindex: u32, flags: u32) -> io::Result<LinkFd> {
    let mut attr = LinkCreateAttr {
        prog_fd: prog.as_raw_fd() as u32,
        target: ifindex,
        attach_type: attach_type::XDP,
        flags,
        ..Default::default()
    };
    // SAFETY: the attr holds no pointers; BPF_LINK_CREATE returns a new fd.
    let fd = unsafe { sys::bpf_fd(Cmd::LinkCreate, &mut attr)? };
    Ok(LinkFd(fd))
}

/// Attaches a `SCHED_CLS` program to `ifindex` (in the calling thread's namespace) with a tcx
/// link (Linux 6.6), at `attach_type::TCX_INGRESS` or `TCX_EGRESS`, after the programs
/// already there. Detached when the link is dropped.
pub fn link_create_tcx(prog: &ProgFd, ifindex: u32, attach: u32) -> io::Result<LinkFd> {
    let mut attr = LinkCreateAttr {
        prog_fd: prog.as_raw_fd() as u32,
        target: ifindex,
        attach_type: attach,
        ..Default::default()
    };
    // SAFETY: the attr holds no pointers; BPF_LINK_CREATE returns a new fd.
    let fd = unsafe { sys::bpf_fd(Cmd::LinkCreate, &mut attr)? };
    Ok(LinkFd(fd))
}

/// Attaches a netfilter program (loaded with `expected_attach_type` = `BPF_NETFILTER`) at
/// `hook` of `family` in the calling thread's network namespace (`BPF_LINK_CREATE` with
/// `BPF_NETFILTER`, Linux 6.4). `nf_flags` are [`nf::F_IP_DEFRAG`] or 0.
pub fn link_create_netfilter(
    prog: &ProgFd,
    family: Family,
    hook: Hook,
    priority: i32,
    nf_flags: u32,
) -> io::Result<LinkFd> {
    let mut attr = LinkCreateAttr {
        prog_fd: prog.as_raw_fd() as u32,
        target: 0,
        attach_type: attach_type::NETFILTER,
        flags: 0,
        nf_pf: family.raw(),
        nf_hooknum: hook.raw(),
        nf_priority: priority,
        nf_flags,
    };
    // SAFETY: the attr holds no pointers; BPF_LINK_CREATE returns a new fd.
    let fd = unsafe { sys::bpf_fd(Cmd::LinkCreate, &mut attr)? };
    Ok(LinkFd(fd))
}

/// What `BPF_OBJ_GET_INFO_BY_FD` says of a link (Linux 5.8): the program it attaches, and
/// for an XDP link its device.
fn info(link: &LinkFd) -> io::Result<LinkInfo> {
    let mut info = LinkInfo::default();
    let mut attr = InfoAttr {
        bpf_fd: link.as_raw_fd() as u32,
        info_len: std::mem::size_of::<LinkInfo>() as u32,
        info: sys::ptr_u64(&mut info as *mut LinkInfo),
    };
    // SAFETY: `info` is a writable `LinkInfo` of `info_len` bytes (the kernel copies at most
    // that many), borrowed for the call.
    unsafe { sys::bpf(Cmd::ObjGetInfoByFd, &mut attr)? };
    Ok(info)
}

/// The id of the program `link` attaches; open it with [`crate::prog::from_id`].
pub fn prog_id(link: &LinkFd) -> io::Result<u32> {
    let info = info(link)?;
    if info.prog_id == 0 {
        return Err(io::Error::other("the link attaches no program"));
    }
    Ok(info.prog_id)
}

/// The device an XDP link attaches to (0 for other links, or a detached one).
pub fn xdp_ifindex(link: &LinkFd) -> io::Result<u32> {
    Ok(info(link)?.xdp_ifindex)
}

/// Replaces the program `link` attaches with `prog`, atomically: every packet meets either
/// the old program or the new one (`BPF_LINK_UPDATE`, Linux 5.7; XDP links 5.9).
pub fn link_update(link: &LinkFd, prog: &ProgFd) -> io::Result<()> {
    let mut attr = LinkUpdateAttr {
        link_fd: link.as_raw_fd() as u32,
        new_prog_fd: prog.as_raw_fd() as u32,
        ..Default::default()
    };
    // SAFETY: the attr holds no pointers.
    unsafe { sys::bpf(Cmd::LinkUpdate, &mut attr)? };
    Ok(())
}

/// The index of interface `name` in the calling thread's network namespace.
pub fn ifindex(name: &str) -> io::Result<u32> {
    sys::if_nametoindex(name)
}

/// The hardware address of interface `ifindex` in the calling thread's network namespace.
pub fn hwaddr(ifindex: u32) -> io::Result<Vec<u8>> {
    sys::if_hwaddr(ifindex)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::with_fake;
    use std::os::fd::IntoRawFd;

    #[test]
    fn xdp_link_attr() {
        let prog = ProgFd::from_owned(std::fs::File::open("/dev/null").unwrap().into());
        let pfd = prog.as_raw_fd() as u32;
        let link = with_fake(
            move |cmd, attr| {
                assert_eq!(cmd, Cmd::LinkCreate);
                let a = attr.downcast_mut::<LinkCreateAttr>().unwrap();
                assert_eq!(
                    *a,
                    LinkCreateAttr {
                        prog_fd: pfd,
                        target: 7,
                        attach_type: 37,
                        flags: 0,
                        ..Default::default()
                    }
                );
                Ok(std::fs::File::open("/dev/null").unwrap().into_raw_fd() as i64)
            },
            || link_create_xdp(&prog, 7, 0),
        );
        assert!(link.is_ok());
    }

    #[test]
    fn a_link_s_program_id_is_read_from_its_info() {
        let link = LinkFd::from_owned(std::fs::File::open("/dev/null").unwrap().into());
        let lfd = link.as_raw_fd() as u32;
        let id = with_fake(
            move |cmd, attr| {
                assert_eq!(cmd, Cmd::ObjGetInfoByFd);
                let a = attr.downcast_mut::<InfoAttr>().unwrap();
                assert_eq!((a.bpf_fd, a.info_len), (lfd, 20));
                // SAFETY: `info` points to the wrapper's `LinkInfo` of `info_len` bytes.
                let info = unsafe { &mut *(a.info as usize as *mut LinkInfo) };
                info.prog_id = 42;
                Ok(0)
            },
            || prog_id(&link),
        );
        assert_eq!(id.unwrap(), 42);
        let none = with_fake(|_, _| Ok(0), || prog_id(&link));
        assert!(
            none.is_err(),
            "a link whose program id is 0 attaches nothing"
        );
    }

    #[test]
    fn an_update_names_the_link_and_the_new_program() {
        let link = LinkFd::from_owned(std::fs::File::open("/dev/null").unwrap().into());
        let prog = ProgFd::from_owned(std::fs::File::open("/dev/null").unwrap().into());
        let (lfd, pfd) = (link.as_raw_fd() as u32, prog.as_raw_fd() as u32);
        with_fake(
            move |cmd, attr| {
                assert_eq!(cmd, Cmd::LinkUpdate);
                let a = attr.downcast_mut::<LinkUpdateAttr>().unwrap();
                assert_eq!(
                    *a,
                    LinkUpdateAttr {
                        link_fd: lfd,
                        new_prog_fd: pfd,
                        flags: 0,
                        old_prog_fd: 0
                    }
                );
                Ok(0)
            },
            || link_update(&link, &prog),
        )
        .unwrap();
    }

    #[test]
    fn netfilter_link_attr() {
        let prog = ProgFd::from_owned(std::fs::File::open("/dev/null").unwrap().into());
        with_fake(
            |_, attr| {
                let a = attr.downcast_mut::<LinkCreateAttr>().unwrap();
                assert_eq!(a.attach_type, 45);
                assert_eq!(
                    (a.nf_pf, a.nf_hooknum, a.nf_priority, a.nf_flags),
                    (2, 1, -128, 1)
                );
                Err(io::Error::from_raw_os_error(libc::EPERM))
            },
            || link_create_netfilter(&prog, Family::Ipv4, Hook::LocalIn, -128, nf::F_IP_DEFRAG),
        )
        .unwrap_err();
    }
}
