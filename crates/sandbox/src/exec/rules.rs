//! The Landlock ruleset of a sandbox, applied to the calling process.
//!
//! Rights are requested best-effort up to [`TARGET_ABI`]: the kernel enforces what it
//! knows, and newer rights (e.g. pathname UNIX socket connects, ABI 9) are enforced
//! automatically on kernels that have them.

use std::path::PathBuf;

use landlock::{
    ABI, Access, AccessFs, AccessNet, NetPort, PathBeneath, PathFd, Ruleset, RulesetAttr, RulesetCreatedAttr,
    RulesetStatus, Scope,
};

use crate::policy::NetworkPolicy;

/// The newest Landlock ABI whose rights this crate requests.
const TARGET_ABI: ABI = ABI::V9;

/// What to restrict.
#[derive(Debug)]
pub(super) struct Rules {
    pub(super) read: Vec<PathBuf>,
    pub(super) write: Vec<PathBuf>,
    /// TCP rules: `None` leaves TCP alone, `Some(ports)` allows connecting to those only
    /// and binding nothing.
    pub(super) tcp_connect: Option<Vec<u16>>,
}

impl Rules {
    /// TCP rules for `network`: none for `any`, and for `loopback` (a private namespace
    /// already confines it, and Landlock cannot tell loopback from other hosts).
    pub(super) fn tcp_for(network: &NetworkPolicy) -> Option<Vec<u16>> {
        match network {
            NetworkPolicy::None => Some(Vec::new()),
            NetworkPolicy::Connect(endpoints) => Some(endpoints.iter().map(|e| e.port).collect()),
            NetworkPolicy::Loopback | NetworkPolicy::Any => None,
        }
    }

    /// Restricts the calling process (and, from now on, every descendant). Paths that do
    /// not exist are skipped: nothing to grant.
    pub(super) fn restrict_self(&self) -> Result<RulesetStatus, String> {
        let fail = |e: landlock::RulesetError| format!("landlock: {e}");
        let mut ruleset = Ruleset::default()
            .handle_access(AccessFs::from_all(TARGET_ABI))
            .map_err(fail)?
            .scope(Scope::from_all(TARGET_ABI))
            .map_err(fail)?;
        if self.tcp_connect.is_some() {
            ruleset = ruleset.handle_access(AccessNet::from_all(TARGET_ABI)).map_err(fail)?;
        }
        let mut created = ruleset.create().map_err(fail)?;
        let grants = self
            .read
            .iter()
            .map(|path| (path, AccessFs::from_read(TARGET_ABI)))
            .chain(self.write.iter().map(|path| (path, AccessFs::from_all(TARGET_ABI))));
        for (path, access) in grants {
            let Ok(fd) = PathFd::new(path) else { continue };
            created = created
                .add_rule(PathBeneath::new(fd, access))
                .map_err(|e| format!("landlock rule for {}: {e}", path.display()))?;
        }
        for &port in self.tcp_connect.iter().flatten() {
            created = created
                .add_rule(NetPort::new(port, AccessNet::ConnectTcp))
                .map_err(|e| format!("landlock rule for port {port}: {e}"))?;
        }
        let status = created.restrict_self().map_err(fail)?;
        Ok(status.ruleset)
    }
}
