//! What a launch will enforce, decided before anything is spawned.
//!
//! The parent and the helper reach the same decisions from the same inputs (the policy and
//! [`probe`](crate::probe())), so the report the parent shows is what the helper applies;
//! the helper re-checks and, for a `required` policy, refuses to run if the kernel
//! disagrees at launch time.

use serde::{Deserialize, Serialize};

use crate::policy::{Mechanism, NetworkPolicy, SandboxPolicy};
use crate::probe::HostCapabilities;

/// What a sandboxed launch enforces, and what it cannot.
///
/// Serialisable for `toolbridge tools --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxReport {
    /// The process is confined (filesystem, network, capabilities); `false` when it is only
    /// contained ([`SandboxPolicy::containment`]).
    pub confined: bool,
    /// Filesystem access is limited to the policy's paths (Landlock).
    pub landlock_fs: bool,
    /// TCP bind/connect are limited (Landlock ≥ 4). False when the policy does not ask.
    pub landlock_net: bool,
    /// The process has its own network namespace. False when the policy does not ask.
    pub net_namespace: bool,
    /// The process is the first of its own PID namespace: its whole tree dies with it.
    pub pid_namespace: bool,
    /// No PID namespace: the helper is a child subreaper and kills the remaining
    /// descendants when the program exits.
    pub subreaper_fallback: bool,
    /// Mechanisms the policy asks for that are not enforced.
    pub missing: Vec<Mechanism>,
    /// Human-readable limits of this launch (e.g. "network rules not enforced: Landlock
    /// ABI < 4").
    pub not_enforced: Vec<String>,
}

impl SandboxReport {
    /// What launching under `policy` enforces on a host with `caps`.
    pub fn plan(policy: &SandboxPolicy, caps: &HostCapabilities) -> Self {
        let usable = |mechanism, available: bool| available && !policy.is_disabled(mechanism);
        if !policy.confine {
            let pid_namespace = usable(Mechanism::PidNamespace, caps.pid_namespace);
            let mut not_enforced = vec![
                "not sandboxed: the process reads, writes and connects as its user (no `sandbox` configured)"
                    .to_owned(),
            ];
            if !pid_namespace {
                not_enforced.push(
                    "no PID namespace: descendants are swept when the program exits, but survive a SIGKILL of the helper"
                        .to_owned(),
                );
            }
            return Self {
                confined: false,
                landlock_fs: false,
                landlock_net: false,
                net_namespace: false,
                pid_namespace,
                subreaper_fallback: !pid_namespace,
                missing: if pid_namespace { Vec::new() } else { vec![Mechanism::PidNamespace] },
                not_enforced,
            };
        }
        let wants_netns = matches!(policy.network, NetworkPolicy::None | NetworkPolicy::Loopback);
        let wants_landlock_net = matches!(policy.network, NetworkPolicy::None | NetworkPolicy::Connect(_));

        let landlock_fs = usable(Mechanism::LandlockFs, caps.landlock_fs);
        let landlock_net = wants_landlock_net && landlock_fs && usable(Mechanism::LandlockNet, caps.landlock_net);
        let net_namespace = wants_netns && usable(Mechanism::NetNamespace, caps.net_namespace);
        let pid_namespace = usable(Mechanism::PidNamespace, caps.pid_namespace);

        let mut missing = Vec::new();
        let mut not_enforced = Vec::new();
        if !landlock_fs {
            missing.push(Mechanism::LandlockFs);
            not_enforced.push(if policy.is_disabled(Mechanism::LandlockFs) {
                "filesystem rules not enforced: Landlock disabled by policy".to_owned()
            } else {
                "filesystem rules not enforced: Landlock unavailable".to_owned()
            });
        }
        if wants_landlock_net && !landlock_net {
            missing.push(Mechanism::LandlockNet);
            not_enforced.push(if policy.is_disabled(Mechanism::LandlockNet) {
                "TCP rules not enforced: Landlock network rules disabled by policy".to_owned()
            } else {
                "TCP rules not enforced: Landlock ABI < 4".to_owned()
            });
        }
        if wants_netns && !net_namespace {
            missing.push(Mechanism::NetNamespace);
            not_enforced.push(match policy.network {
                NetworkPolicy::Loopback => {
                    "network \"loopback\" not enforced: no network namespace, the host network is reachable".to_owned()
                }
                _ => "no network namespace: UDP and other non-TCP traffic is not blocked".to_owned(),
            });
        }
        if !pid_namespace {
            missing.push(Mechanism::PidNamespace);
            not_enforced.push(
                "no PID namespace: descendants are swept when the program exits, but survive a SIGKILL of the helper"
                    .to_owned(),
            );
        }
        if let NetworkPolicy::Connect(endpoints) = &policy.network {
            if endpoints.iter().any(|e| e.host != "*") {
                not_enforced.push(
                    "network hosts not enforced: Landlock filters TCP ports, any host on an allowed port is reachable"
                        .to_owned(),
                );
            }
            not_enforced.push("UDP and other non-TCP traffic is not restricted".to_owned());
        }
        if landlock_fs && !caps.landlock_scope {
            not_enforced.push("signal and abstract-socket scoping not enforced: Landlock ABI < 6".to_owned());
        }
        if landlock_fs && !caps.landlock_unix_sockets {
            not_enforced.push(if pid_namespace && caps.mount_namespace {
                "connecting to pathname UNIX sockets is not restricted (Landlock ABI < 9); /run is hidden by a private mount, sockets elsewhere (e.g. /tmp) are reachable"
                    .to_owned()
            } else {
                "connecting to pathname UNIX sockets (e.g. /run/docker.sock) is not restricted: Landlock ABI < 9 and no mount namespace"
                    .to_owned()
            });
        }
        Self {
            confined: true,
            landlock_fs,
            landlock_net,
            net_namespace,
            pid_namespace,
            subreaper_fallback: !pid_namespace,
            missing,
            not_enforced,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> HostCapabilities {
        HostCapabilities {
            landlock_fs: true,
            landlock_net: true,
            landlock_scope: true,
            landlock_unix_sockets: true,
            net_namespace: true,
            pid_namespace: true,
            mount_namespace: true,
        }
    }

    #[test]
    fn full_host_enforces_everything_asked() {
        let report = SandboxReport::plan(&SandboxPolicy::default(), &all());
        assert!(report.landlock_fs && report.landlock_net && report.net_namespace);
        assert!(report.pid_namespace && !report.subreaper_fallback);
        assert!(report.missing.is_empty());
    }

    #[test]
    fn old_landlock_is_reported() {
        let caps = HostCapabilities { landlock_net: false, ..all() };
        let report = SandboxReport::plan(&SandboxPolicy::default(), &caps);
        assert_eq!(report.missing, vec![Mechanism::LandlockNet]);
        assert!(report.not_enforced.iter().any(|m| m.contains("Landlock ABI < 4")));
    }

    #[test]
    fn disabled_pid_namespace_means_fallback() {
        let policy = SandboxPolicy {
            disable: vec![Mechanism::PidNamespace],
            network: NetworkPolicy::Any,
            ..SandboxPolicy::default()
        };
        let report = SandboxReport::plan(&policy, &all());
        assert!(report.subreaper_fallback && !report.pid_namespace);
        assert!(!report.net_namespace && !report.landlock_net, "not asked for");
        assert_eq!(report.missing, vec![Mechanism::PidNamespace]);
    }
}
