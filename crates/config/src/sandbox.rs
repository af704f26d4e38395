//! What a sandboxed process may touch, as configured.
//!
//! A [`SandboxPolicy`] is the complete list the helper enforces: nothing is added behind
//! the caller's back except the private temp dir (`private_tmp`) and, when the helper
//! mounted one, the sandbox's own `/proc`. The baseline a program needs to start at all
//! (loader, libraries, `/etc`, its own install dir) comes from [`SandboxPolicy::preset`],
//! and the configuration form [`SandboxSetting`] (`sandbox: true | false | {...}`) builds
//! on that preset.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// System paths every preset may read (and execute): loader, libraries, binaries and the
/// harmless character devices. Missing ones are skipped by the helper. `/etc` is added
/// entry by entry, less [`ETC_SECRETS`].
pub const SYSTEM_READ: &[&str] = &[
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/libx32",
    "/bin",
    "/sbin",
    "/dev/null",
    "/dev/zero",
    "/dev/random",
    "/dev/urandom",
];

/// Entries of `/etc` a preset does not grant: credentials and private keys. They matter
/// because the bridge commonly runs as root, and a root-owned file is readable by its owner
/// even with every capability dropped.
pub const ETC_SECRETS: &[&str] =
    &["shadow", "shadow-", "gshadow", "gshadow-", "sudoers", "sudoers.d", "ssh", "ssl", "security", "credstore"];

/// The readable part of `/etc`: each top-level entry except [`ETC_SECRETS`], or `/etc`
/// whole when it cannot be listed.
fn etc_entries() -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir("/etc") else {
        return vec![PathBuf::from("/etc")];
    };
    let mut paths: Vec<PathBuf> = entries
        .flatten()
        .filter(|entry| !ETC_SECRETS.iter().any(|secret| entry.file_name() == *secret))
        .map(|entry| entry.path())
        .collect();
    paths.sort();
    // Certificates are public and needed for TLS; their private keys are not.
    paths.extend(["/etc/ssl/certs", "/etc/ssl/openssl.cnf"].map(PathBuf::from).into_iter().filter(|p| p.exists()));
    paths
}

/// System paths every preset may write: only the bit bucket.
pub const SYSTEM_WRITE: &[&str] = &["/dev/null"];

/// Where a sandboxed process may read, write and connect.
///
/// Deserialises from the configuration's `sandbox: {...}` object; unknown fields are
/// rejected so a misspelt key does not silently widen or narrow the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxPolicy {
    /// Paths readable and executable (recursively for directories).
    pub read: Vec<PathBuf>,
    /// Paths readable and writable (recursively for directories).
    pub write: Vec<PathBuf>,
    /// Network access.
    pub network: NetworkPolicy,
    /// Refuse to start when a mechanism the policy needs is missing, instead of running
    /// with what the kernel offers.
    pub required: bool,
    /// Give the process a private, writable temp dir (created per launch, removed after,
    /// `TMPDIR` pointed at it). Default true.
    pub private_tmp: bool,
    /// Mechanisms to treat as unavailable on this host: for testing the fallbacks, or to
    /// work around a host where one misbehaves. With `required`, the launch then fails.
    pub disable: Vec<Mechanism>,
    /// Confine the process (filesystem, network, capabilities). `false` only *contains* it:
    /// its whole process tree still ends with it (PID namespace, or the sweep), but it may
    /// touch what its user may. See [`SandboxPolicy::containment`].
    pub confine: bool,
}

impl Default for SandboxPolicy {
    fn default() -> Self {
        Self {
            read: Vec::new(),
            write: Vec::new(),
            network: NetworkPolicy::None,
            required: false,
            private_tmp: true,
            disable: Vec::new(),
            confine: true,
        }
    }
}

impl SandboxPolicy {
    /// The baseline for running `command`: read [`SYSTEM_READ`], `/etc` less
    /// [`ETC_SECRETS`] and the command's install dirs (see [`install_dirs`]), write `writable_dirs`, [`SYSTEM_WRITE`] and a private
    /// temp dir, no network. `command` is resolved through the current `PATH` when it has
    /// no `/`.
    pub fn preset(command: impl AsRef<OsStr>, writable_dirs: &[PathBuf]) -> Self {
        let mut read: Vec<PathBuf> = SYSTEM_READ.iter().map(PathBuf::from).collect();
        read.extend(etc_entries());
        if let Some(program) = resolve_program(command.as_ref(), std::env::var_os("PATH")) {
            for dir in install_dirs(&program) {
                push_unique(&mut read, dir);
            }
        }
        let mut write: Vec<PathBuf> = SYSTEM_WRITE.iter().map(PathBuf::from).collect();
        for dir in writable_dirs {
            push_unique(&mut write, dir.clone());
        }
        Self { read, write, ..Self::default() }
    }

    /// No confinement, only containment: for what runs unsandboxed, so that nothing it
    /// starts (`setsid`, a daemon) outlives it.
    pub fn containment() -> Self {
        Self { network: NetworkPolicy::Any, private_tmp: false, confine: false, ..Self::default() }
    }

    /// This policy with `extra`'s paths added and `extra`'s other settings taking over:
    /// how `sandbox: {...}` extends the preset.
    pub fn extended_with(mut self, extra: &SandboxPolicy) -> Self {
        for path in &extra.read {
            push_unique(&mut self.read, path.clone());
        }
        for path in &extra.write {
            push_unique(&mut self.write, path.clone());
        }
        self.network = extra.network.clone();
        self.required = extra.required;
        self.private_tmp = extra.private_tmp;
        self.disable = extra.disable.clone();
        self
    }

    /// Whether `mechanism` was switched off by [`disable`](Self::disable).
    pub fn is_disabled(&self, mechanism: Mechanism) -> bool {
        self.disable.contains(&mechanism)
    }
}

fn push_unique(list: &mut Vec<PathBuf>, path: PathBuf) {
    if !list.contains(&path) {
        list.push(path);
    }
}

/// The configuration form: `sandbox: true` (the preset), `sandbox: false` (no sandbox) or
/// `sandbox: {read, write, network, required, ...}` (the preset extended with those).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxSetting {
    /// `true`: the preset; `false`: run unsandboxed.
    Enabled(bool),
    /// The preset extended with this policy's paths and settings.
    Custom(SandboxPolicy),
}

impl Default for SandboxSetting {
    fn default() -> Self {
        Self::Enabled(false)
    }
}

impl SandboxSetting {
    /// The policy for running `command` with `writable_dirs` writable, or `None` when the
    /// setting turns the sandbox off.
    pub fn policy_for(&self, command: impl AsRef<OsStr>, writable_dirs: &[PathBuf]) -> Option<SandboxPolicy> {
        match self {
            Self::Enabled(false) => None,
            Self::Enabled(true) => Some(SandboxPolicy::preset(command, writable_dirs)),
            Self::Custom(extra) => Some(SandboxPolicy::preset(command, writable_dirs).extended_with(extra)),
        }
    }
}

impl Serialize for SandboxSetting {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Enabled(on) => serializer.serialize_bool(*on),
            Self::Custom(policy) => policy.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for SandboxSetting {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A visitor rather than `untagged`, so a bad object reports the policy's own error
        // ("unknown field `reed`") instead of "did not match any variant".
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = SandboxSetting;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false or a sandbox policy object")
            }
            fn visit_bool<E: serde::de::Error>(self, on: bool) -> Result<Self::Value, E> {
                Ok(SandboxSetting::Enabled(on))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                SandboxPolicy::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(SandboxSetting::Custom)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Network access of a sandboxed process.
///
/// Wire form: `"none"`, `"loopback"`, `"any"`, or a list of `"host:port"` strings.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "NetworkRepr", into = "NetworkRepr")]
pub enum NetworkPolicy {
    /// No network at all: an empty network namespace, and no TCP bind/connect (Landlock).
    #[default]
    None,
    /// The sandbox's own private loopback (a fresh network namespace with `lo` up): the
    /// process may listen and connect on 127.0.0.1 among its own processes, but cannot
    /// reach the host's loopback services nor any other network.
    Loopback,
    /// Unrestricted network.
    Any,
    /// TCP connect to these endpoints only. Landlock filters ports, not hosts: the host
    /// part is documentation, not enforced; binding TCP ports is denied.
    Connect(Vec<Endpoint>),
}

/// One `host:port` of [`NetworkPolicy::Connect`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or address (not enforced, see [`NetworkPolicy::Connect`]).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl std::str::FromStr for Endpoint {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (host, port) =
            text.rsplit_once(':').ok_or_else(|| format!("network endpoint {text:?} is not host:port"))?;
        let port = port.parse().map_err(|_| format!("network endpoint {text:?}: port is not a number 0-65535"))?;
        if host.is_empty() {
            return Err(format!("network endpoint {text:?}: empty host"));
        }
        Ok(Self { host: host.to_owned(), port })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum NetworkRepr {
    Word(String),
    List(Vec<String>),
}

impl TryFrom<NetworkRepr> for NetworkPolicy {
    type Error = String;
    fn try_from(repr: NetworkRepr) -> Result<Self, Self::Error> {
        match repr {
            NetworkRepr::Word(word) => match word.as_str() {
                "none" => Ok(Self::None),
                "loopback" => Ok(Self::Loopback),
                "any" => Ok(Self::Any),
                other => Err(format!(
                    "network {other:?}: expected \"none\", \"loopback\", \"any\" or a list of \"host:port\""
                )),
            },
            NetworkRepr::List(items) => {
                items.iter().map(|item| item.parse()).collect::<Result<_, _>>().map(Self::Connect)
            }
        }
    }
}

impl From<NetworkPolicy> for NetworkRepr {
    fn from(policy: NetworkPolicy) -> Self {
        match policy {
            NetworkPolicy::None => Self::Word("none".into()),
            NetworkPolicy::Loopback => Self::Word("loopback".into()),
            NetworkPolicy::Any => Self::Word("any".into()),
            NetworkPolicy::Connect(endpoints) => Self::List(endpoints.iter().map(ToString::to_string).collect()),
        }
    }
}

/// A kernel mechanism the sandbox uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// Landlock filesystem rules.
    LandlockFs,
    /// Landlock TCP bind/connect rules (Landlock ABI ≥ 4).
    LandlockNet,
    /// A private network namespace.
    NetNamespace,
    /// A private PID namespace (the whole tree dies with the program).
    PidNamespace,
}

impl Mechanism {
    /// The wire name (`landlock_fs`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LandlockFs => "landlock_fs",
            Self::LandlockNet => "landlock_net",
            Self::NetNamespace => "net_namespace",
            Self::PidNamespace => "pid_namespace",
        }
    }

    /// The names, comma-separated.
    pub fn list(mechanisms: &[Mechanism]) -> String {
        mechanisms.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `command` as an absolute path: itself when it contains a `/`, else the first match in
/// `path_var` that is an executable file.
pub fn resolve_program(command: &OsStr, path_var: Option<OsString>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let command_path = Path::new(command);
    if command_path.components().count() > 1 || command_path.is_absolute() {
        return std::path::absolute(command_path).ok();
    }
    std::env::split_paths(&path_var?)
        .map(|dir| dir.join(command_path))
        .find(|candidate| candidate.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0))
}

/// Directories a program needs besides the system set: the dir it was found in and the dir
/// its symlinks resolve to, and for each of those in a `bin` dir, the prefix above it when
/// that looks like an install prefix (a `lib` dir, or a venv's `pyvenv.cfg`): a node under
/// nvm needs `<prefix>/lib/node_modules`, a venv python its `site-packages`. A version
/// manager's `shims` dir (pyenv, rbenv, asdf) brings in the manager's root, where the shim
/// finds the real interpreter.
///
/// `/` is never returned: a program in `/bin` does not open the whole filesystem.
pub fn install_dirs(program: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let canonical = program.canonicalize().ok();
    for found in std::iter::once(program).chain(canonical.as_deref()) {
        let Some(dir) = found.parent() else { continue };
        if dir.parent().is_none() {
            continue;
        }
        push_unique(&mut dirs, dir.to_path_buf());
        if dir.file_name() == Some(OsStr::new("shims"))
            && let Some(root) = dir.parent()
            && root.parent().is_some()
        {
            // A version manager's shim (pyenv, rbenv, asdf) runs the manager from its root.
            push_unique(&mut dirs, root.to_path_buf());
        }
        if dir.file_name() == Some(OsStr::new("bin"))
            && let Some(prefix) = dir.parent()
            && prefix.parent().is_some()
            && (prefix.join("lib").is_dir() || prefix.join("pyvenv.cfg").is_file())
        {
            push_unique(&mut dirs, prefix.to_path_buf());
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_wire_forms_round_trip() {
        for (json, policy) in [
            (r#""none""#, NetworkPolicy::None),
            (r#""loopback""#, NetworkPolicy::Loopback),
            (r#""any""#, NetworkPolicy::Any),
            (
                r#"["api.example.com:443","[::1]:8080"]"#,
                NetworkPolicy::Connect(vec![
                    Endpoint { host: "api.example.com".into(), port: 443 },
                    Endpoint { host: "[::1]".into(), port: 8080 },
                ]),
            ),
        ] {
            let parsed: NetworkPolicy = serde_json::from_str(json).expect("valid network form");
            assert_eq!(parsed, policy);
            assert_eq!(serde_json::to_string(&parsed).expect("serialisable"), json);
        }
        let error = serde_json::from_str::<NetworkPolicy>(r#"["example.com"]"#).expect_err("no port").to_string();
        assert!(error.contains("not host:port"), "{error}");
        assert!(serde_json::from_str::<NetworkPolicy>(r#""lan""#).is_err());
    }

    #[test]
    fn setting_forms() {
        let on: SandboxSetting = serde_json::from_str("true").expect("bool form");
        assert_eq!(on, SandboxSetting::Enabled(true));
        let custom: SandboxSetting =
            serde_json::from_str(r#"{"read": ["/opt/data"], "network": "loopback"}"#).expect("object form");
        let SandboxSetting::Custom(extra) = &custom else {
            panic!("expected a custom policy, got {custom:?}");
        };
        assert!(extra.private_tmp, "defaults apply to omitted fields");
        let policy = custom.policy_for("sh", &[PathBuf::from("/work")]).expect("enabled");
        assert!(policy.read.contains(&PathBuf::from("/opt/data")));
        assert!(policy.read.contains(&PathBuf::from("/usr")));
        assert!(policy.read.contains(&PathBuf::from("/etc/passwd")));
        assert!(!policy.read.iter().any(|p| p == Path::new("/etc") || p == Path::new("/etc/shadow")));
        assert!(policy.write.contains(&PathBuf::from("/work")));
        assert_eq!(policy.network, NetworkPolicy::Loopback);
        assert_eq!(SandboxSetting::Enabled(false).policy_for("sh", &[]), None);

        let error = serde_json::from_str::<SandboxSetting>(r#"{"reed": []}"#).expect_err("misspelt field").to_string();
        assert!(error.contains("unknown field `reed`"), "{error}");
    }

    #[test]
    fn install_dirs_never_open_the_root() {
        let dirs = install_dirs(Path::new("/bin/sh"));
        assert!(!dirs.contains(&PathBuf::from("/")), "{dirs:?}");
        assert!(dirs.contains(&PathBuf::from("/bin")), "{dirs:?}");
    }

    #[test]
    fn install_dirs_include_a_prefix_with_lib() {
        let root = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(root.path().join("node/bin")).expect("mkdir");
        std::fs::create_dir_all(root.path().join("node/lib/node_modules")).expect("mkdir");
        std::fs::write(root.path().join("node/bin/node"), "").expect("write");
        let dirs = install_dirs(&root.path().join("node/bin/node"));
        assert!(dirs.contains(&root.path().join("node")), "{dirs:?}");
    }
}
