//! What the running kernel offers, found out once.
//!
//! Landlock is probed by creating (and dropping) rulesets that require each feature.
//! Namespaces are probed by unsharing them on a throwaway thread: `unshare` of the network,
//! PID and mount namespaces affects only the calling thread, so the rest of the process
//! (e.g. a tokio runtime) is untouched, and the namespaces vanish with the thread.

use std::sync::OnceLock;

use landlock::{ABI, Access, AccessFs, AccessNet, CompatLevel, Compatible, Ruleset, RulesetAttr, Scope};
use nix::sched::CloneFlags;
use serde::{Deserialize, Serialize};

/// The sandboxing mechanisms this host supports (for the current user).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostCapabilities {
    /// Landlock filesystem rules (ABI ≥ 1).
    pub landlock_fs: bool,
    /// Landlock TCP rules (ABI ≥ 4).
    pub landlock_net: bool,
    /// Landlock signal and abstract-socket scoping (ABI ≥ 6).
    pub landlock_scope: bool,
    /// Landlock rules on connecting to pathname UNIX sockets (ABI ≥ 9).
    pub landlock_unix_sockets: bool,
    /// `unshare(CLONE_NEWNET)` works.
    pub net_namespace: bool,
    /// `unshare(CLONE_NEWPID)` works.
    pub pid_namespace: bool,
    /// `unshare(CLONE_NEWNS)` works (used for the sandbox's own `/proc`).
    pub mount_namespace: bool,
}

/// The host's capabilities, probed on first call and cached for the process's lifetime.
pub fn probe() -> HostCapabilities {
    static CAPABILITIES: OnceLock<HostCapabilities> = OnceLock::new();
    *CAPABILITIES.get_or_init(probe_now)
}

fn probe_now() -> HostCapabilities {
    let namespaces = std::thread::spawn(|| {
        let works = |flags| nix::sched::unshare(flags).is_ok();
        (works(CloneFlags::CLONE_NEWNET), works(CloneFlags::CLONE_NEWPID), works(CloneFlags::CLONE_NEWNS))
    })
    .join()
    .unwrap_or((false, false, false));
    HostCapabilities {
        net_namespace: namespaces.0,
        pid_namespace: namespaces.1,
        mount_namespace: namespaces.2,
        ..probe_landlock()
    }
}

/// The Landlock part of the probe; namespace fields are false.
pub(crate) fn probe_landlock() -> HostCapabilities {
    let landlock_fs = landlock_supports(|r| r.handle_access(AccessFs::from_all(ABI::V1)));
    let landlock_net = landlock_supports(|r| r.handle_access(AccessNet::from_all(ABI::V4)));
    let landlock_scope = landlock_supports(|r| r.scope(Scope::from_all(ABI::V6)));
    let landlock_unix_sockets = landlock_supports(|r| r.handle_access(AccessFs::from_all(ABI::V9)));
    HostCapabilities {
        landlock_fs,
        landlock_net,
        landlock_scope,
        landlock_unix_sockets,
        net_namespace: false,
        pid_namespace: false,
        mount_namespace: false,
    }
}

/// Whether a ruleset that hard-requires what `configure` asks for can be created.
fn landlock_supports(configure: impl FnOnce(Ruleset) -> Result<Ruleset, landlock::RulesetError>) -> bool {
    let ruleset = Ruleset::default().set_compatibility(CompatLevel::HardRequirement);
    configure(ruleset).and_then(|r| r.create()).is_ok()
}
