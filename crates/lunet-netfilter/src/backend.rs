//! Choosing a backend, installing a state's rules, and removing them again (also by name after
//! a restart, and wholesale for states that no longer exist).

use crate::error::{Error, Result};
use crate::iptables::{self, IptChain};
use crate::nft::{self, nft_queue_support, NftChain};
use crate::placement::{Placement, QueueRule};
use crate::state::validate_state;
use serde::Serialize;
use std::fmt;
use std::os::unix::fs::MetadataExt;

/// How rules are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Native nft `queue` (exact priorities); needs `CONFIG_NFT_QUEUE`.
    Nft,
    /// `iptables -j NFQUEUE` (priorities rounded to a table's).
    Iptables,
}

impl Backend {
    /// [`Backend::Nft`] when [`nft_queue_support`] says nft can queue here, else
    /// [`Backend::Iptables`]. Probes in the calling thread's network namespace and leaves
    /// nothing behind.
    pub fn detect() -> Backend {
        match nft_queue_support() {
            Ok(()) => Backend::Nft,
            Err(why) => {
                tracing::debug!(%why, "using the iptables backend");
                Backend::Iptables
            }
        }
    }

    /// `nft` or `iptables`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Nft => "nft",
            Backend::Iptables => "iptables",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug)]
enum Objects {
    Iptables(Vec<IptChain>),
    Nft(Vec<NftChain>),
}

/// The rules of one state, as installed by [`install`]. Dropping it leaves the rules in place
/// (packets then bypass the queue, thanks to `bypass`): call [`Installed::remove`], or
/// [`remove_state`] after a restart.
#[derive(Debug)]
#[must_use = "the rules stay until Installed::remove or remove_state"]
pub struct Installed {
    state: String,
    backend: Backend,
    netns: Option<(u64, u64)>,
    objects: Objects,
}

fn current_netns() -> Option<(u64, u64)> {
    std::fs::metadata("/proc/thread-self/ns/net")
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

impl Installed {
    /// The state name.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The backend that made the rules.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Puts the rules that apply flow verdicts (two pinned socket-filter programs run by
    /// `-m bpf --object-pinned`, one matching flows to drop, one flows to accept) at the top
    /// of every IPv4 chain this install made. The nft backend has no such match: an error.
    pub fn guard_flows(
        &self,
        drop_pin: &std::path::Path,
        accept_pin: &std::path::Path,
    ) -> Result<()> {
        let (d, a) = (drop_pin.to_string_lossy(), accept_pin.to_string_lossy());
        match &self.objects {
            Objects::Iptables(chains) => {
                for c in chains {
                    c.guard_flows(&d, &a)?;
                }
                Ok(())
            }
            Objects::Nft(_) => Err(Error::Invalid(
                "flow verdicts need iptables' bpf match; the nft backend has none".into(),
            )),
        }
    }

    /// Removes the jumps and chains this install made. Must run in the network namespace the
    /// install ran in (checked).
    pub fn remove(self) -> Result<()> {
        let here = current_netns();
        if self.netns.is_some() && here.is_some() && here != self.netns {
            return Err(Error::WrongNamespace(format!(
                "state `{}` was installed in netns {:?} but removed from {:?}; enter that namespace first",
                self.state, self.netns, here
            )));
        }
        match &self.objects {
            Objects::Iptables(chains) => iptables::remove(chains),
            Objects::Nft(chains) => nft::remove(chains),
        }
    }
}

/// Installs the NFQUEUE rules of `state` (see the crate docs for what each backend makes) in
/// the calling thread's network namespace. Returns where each rule went (INET rules give two
/// placements with iptables: `iptables` and `ip6tables`). On failure nothing of this call
/// remains (or [`Error::RollbackFailed`] says what may).
pub fn install(
    backend: Backend,
    state: &str,
    rules: &[QueueRule],
) -> Result<(Installed, Vec<Placement>)> {
    validate_state(state)?;
    let netns = current_netns();
    let (objects, placements) = match backend {
        Backend::Iptables => {
            let (c, p) = iptables::install(state, rules)?;
            (Objects::Iptables(c), p)
        }
        Backend::Nft => {
            let (c, p) = nft::install(state, rules)?;
            (Objects::Nft(c), p)
        }
    };
    for p in &placements {
        tracing::debug!(state, placement = %p, "installed");
    }
    Ok((
        Installed {
            state: state.to_string(),
            backend,
            netns,
            objects,
        },
        placements,
    ))
}

/// Removes everything of `state` (found by chain names and `lunet:<state>` comments) from
/// iptables, ip6tables and nft, whichever are installed. Removing an absent state is Ok. For
/// `lunet stop` after a daemon restart.
pub fn remove_state(state: &str) -> Result<()> {
    validate_state(state)?;
    let mut errors = Vec::new();
    errors.extend(iptables::remove_state(state).err());
    errors.extend(nft::remove_state(state).err());
    Error::collect(errors)
}

/// Finds every lunet-made chain and jump (by the `LUNET-` prefix and `lunet:` comment, in every
/// iptables/ip6tables table, and the chains of nft tables `lunet`) that does not belong to a
/// state in `keep`, removes it, and says what it removed.
pub fn cleanup_stale(keep: &[&str]) -> Result<Vec<String>> {
    for k in keep {
        validate_state(k)?;
    }
    let mut removed = Vec::new();
    let mut errors = Vec::new();
    match iptables::cleanup_stale(keep) {
        Ok(r) => removed.extend(r),
        Err(e) => errors.push(e),
    }
    match nft::cleanup_stale(keep) {
        Ok(r) => removed.extend(r),
        Err(e) => errors.push(e),
    }
    Error::collect(errors).map(|()| removed)
}

/// Packets lunet's NFQUEUE rules have matched, by queue number, in the calling thread's
/// namespace: `None` with the nft backend (its queue rules keep no counters).
pub fn queued_packets(backend: Backend) -> Result<Option<std::collections::BTreeMap<u16, u64>>> {
    match backend {
        Backend::Iptables => iptables::queued_packets().map(Some),
        Backend::Nft => Ok(None),
    }
}

/// The lines of `iptables-save`, `ip6tables-save` and `nft list table ... lunet` that are
/// lunet's, each prefixed with where it is (`iptables filter: -A INPUT ...`). Empty when
/// nothing of lunet is installed in the calling thread's namespace.
pub fn list_lunet_rules() -> Result<Vec<String>> {
    let mut lines = iptables::list_lines()?;
    lines.extend(nft::list_lines()?);
    Ok(lines)
}
