//! Scenario: real interpreters under the sandbox can do their job inside their lists and
//! nothing outside them (files read and written, TCP to a listener the test opened).

mod common;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use common::{command, has_program, run, stdout, write_file};
use toolbridge_sandbox::{NetworkPolicy, SandboxPolicy, probe};

/// The paths and listener one confinement check uses.
struct Setup {
    _root: tempfile::TempDir,
    secret: PathBuf,
    allowed_dir: PathBuf,
    allowed: PathBuf,
    work: PathBuf,
    outside_target: PathBuf,
    listener: TcpListener,
}

fn setup() -> Setup {
    let root = tempfile::tempdir().expect("temp dir");
    let secret_dir = root.path().join("secret");
    let allowed_dir = root.path().join("allowed");
    let work = root.path().join("work");
    let elsewhere = root.path().join("elsewhere");
    for dir in [&secret_dir, &allowed_dir, &work, &elsewhere] {
        std::fs::create_dir(dir).expect("mkdir");
    }
    let secret = write_file(&secret_dir, "secret.txt", "TOP-SECRET");
    let allowed = write_file(&allowed_dir, "input.txt", "hello from the read list");
    Setup {
        secret,
        allowed,
        allowed_dir,
        work,
        outside_target: elsewhere.join("escaped.txt"),
        listener: TcpListener::bind("127.0.0.1:0").expect("listen on loopback"),
        _root: root,
    }
}

fn policy(setup: &Setup, program: &str, network: NetworkPolicy) -> SandboxPolicy {
    let mut policy = SandboxPolicy::preset(program, std::slice::from_ref(&setup.work));
    policy.read.push(setup.allowed_dir.clone());
    policy.network = network;
    policy
}

fn port(setup: &Setup) -> u16 {
    setup.listener.local_addr().expect("listener address").port()
}

/// Every check prints one `name=ok|denied|error:<text>` line.
fn parse(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

fn assert_confined(setup: &Setup, output: &std::process::Output) {
    let results = parse(&stdout(output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "status {:?}, stdout {results:?}, stderr {stderr}", output.status);
    assert_eq!(
        results.get("read_allowed").map(String::as_str),
        Some("hello from the read list"),
        "{results:?} {stderr}"
    );
    assert_eq!(results.get("write_work").map(String::as_str), Some("ok"), "{results:?}");
    assert_eq!(results.get("read_secret").map(String::as_str), Some("denied"), "{results:?}");
    assert_eq!(results.get("write_outside").map(String::as_str), Some("denied"), "{results:?}");
    assert_eq!(results.get("connect").map(String::as_str), Some("denied"), "{results:?}");
    assert_eq!(std::fs::read_to_string(setup.work.join("out.txt")).expect("written in work dir"), "written");
    assert!(!setup.outside_target.exists(), "a file appeared outside the write list");
}

const PYTHON_CHECKS: &str = r#"
import socket, sys
secret, allowed, work, outside, port = sys.argv[1:6]
def attempt(name, action):
    try:
        print(f"{name}={action()}", flush=True)
    except (PermissionError, OSError) as error:
        print(f"{name}=denied" if isinstance(error, PermissionError) or error.errno in (1, 13, 101, 99) else f"{name}=error:{error}", flush=True)
attempt("read_secret", lambda: open(secret).read())
attempt("read_allowed", lambda: open(allowed).read())
def write(path):
    with open(path, "w") as f:
        f.write("written")
    return "ok"
attempt("write_work", lambda: write(work + "/out.txt"))
attempt("write_outside", lambda: write(outside))
attempt("connect", lambda: (socket.create_connection(("127.0.0.1", int(port)), timeout=5), "ok")[1])
"#;

const NODE_CHECKS: &str = r#"
const fs = require("fs"), net = require("net");
const [secret, allowed, work, outside, port] = process.argv.slice(1);
const denied = (e) => ["EACCES", "EPERM", "ENETUNREACH", "EADDRNOTAVAIL"].includes(e.code) ? "denied" : "error:" + e.code;
function attempt(name, action) {
  try { console.log(`${name}=${action()}`); } catch (e) { console.log(`${name}=${denied(e)}`); }
}
attempt("read_secret", () => fs.readFileSync(secret, "utf8"));
attempt("read_allowed", () => fs.readFileSync(allowed, "utf8"));
attempt("write_work", () => { fs.writeFileSync(work + "/out.txt", "written"); return "ok"; });
attempt("write_outside", () => { fs.writeFileSync(outside, "written"); return "ok"; });
const socket = net.connect({ host: "127.0.0.1", port: Number(port) });
socket.on("connect", () => { console.log("connect=ok"); socket.destroy(); });
socket.on("error", (e) => console.log(`connect=${denied(e)}`));
"#;

fn args(setup: &Setup, script: &str, flag: &str) -> Vec<String> {
    let path = |p: &Path| p.display().to_string();
    vec![
        flag.to_owned(),
        script.to_owned(),
        path(&setup.secret),
        path(&setup.allowed),
        path(&setup.work),
        path(&setup.outside_target),
        port(setup).to_string(),
    ]
}

#[test]
fn python_is_confined_to_its_lists_and_has_no_network() {
    require!(probe().landlock_fs, "Landlock unavailable on this kernel");
    require!(has_program("python3"), "python3 not installed");
    require!(probe().net_namespace || probe().landlock_net, "neither network namespaces nor Landlock ABI >= 4");
    let setup = setup();

    // Control: with network "any" the same script reaches the listener, so a "denied"
    // below is the sandbox's doing, not a broken check.
    let (control, _) =
        command(&policy(&setup, "python3", NetworkPolicy::Any), "python3", args(&setup, PYTHON_CHECKS, "-c"));
    let control = run(control);
    assert_eq!(parse(&stdout(&control)).get("connect").map(String::as_str), Some("ok"), "{control:?}");
    std::fs::remove_file(setup.work.join("out.txt")).expect("control wrote its file");

    let (confined, report) =
        command(&policy(&setup, "python3", NetworkPolicy::None), "python3", args(&setup, PYTHON_CHECKS, "-c"));
    assert!(report.landlock_fs);
    assert_confined(&setup, &run(confined));
}

#[test]
fn node_is_confined_to_its_lists_and_has_no_network() {
    require!(probe().landlock_fs, "Landlock unavailable on this kernel");
    require!(has_program("node"), "node not installed");
    require!(probe().net_namespace || probe().landlock_net, "neither network namespaces nor Landlock ABI >= 4");
    let setup = setup();
    let (confined, _) = command(&policy(&setup, "node", NetworkPolicy::None), "node", args(&setup, NODE_CHECKS, "-e"));
    assert_confined(&setup, &run(confined));
}

#[test]
fn confinement_holds_without_namespaces_through_landlock_alone() {
    require!(probe().landlock_fs && probe().landlock_net, "Landlock ABI < 4 on this kernel");
    require!(has_program("python3"), "python3 not installed");
    require!(probe().net_namespace || probe().landlock_net, "neither network namespaces nor Landlock ABI >= 4");
    let setup = setup();
    let mut policy = policy(&setup, "python3", NetworkPolicy::None);
    policy.disable = vec![toolbridge_sandbox::Mechanism::NetNamespace, toolbridge_sandbox::Mechanism::PidNamespace];
    let (confined, report) = command(&policy, "python3", args(&setup, PYTHON_CHECKS, "-c"));
    assert!(report.landlock_net && !report.net_namespace && report.subreaper_fallback, "{report:?}");
    assert_confined(&setup, &run(confined));
}

#[test]
fn connect_list_allows_only_the_listed_port() {
    require!(probe().landlock_net, "Landlock ABI < 4 on this kernel");
    require!(has_program("python3"), "python3 not installed");
    let allowed = TcpListener::bind("127.0.0.1:0").expect("listen");
    let other = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = |l: &TcpListener| l.local_addr().expect("address").port();
    let mut policy = SandboxPolicy::preset("python3", &[]);
    policy.network = NetworkPolicy::Connect(vec![format!("127.0.0.1:{}", port(&allowed)).parse().expect("endpoint")]);
    let script = r#"
import socket, sys
for name, port in (("allowed", sys.argv[1]), ("other", sys.argv[2])):
    try:
        socket.create_connection(("127.0.0.1", int(port)), timeout=5); print(f"{name}=ok")
    except PermissionError:
        print(f"{name}=denied")
"#;
    let (command, report) =
        command(&policy, "python3", ["-c", script, &port(&allowed).to_string(), &port(&other).to_string()]);
    assert!(report.landlock_net && !report.net_namespace);
    assert!(report.not_enforced.iter().any(|m| m.contains("hosts not enforced")), "{report:?}");
    let output = run(command);
    let results = parse(&stdout(&output));
    assert_eq!(results.get("allowed").map(String::as_str), Some("ok"), "{output:?}");
    assert_eq!(results.get("other").map(String::as_str), Some("denied"), "{output:?}");
}

#[test]
fn loopback_is_the_sandbox_own() {
    require!(probe().net_namespace, "network namespaces unavailable");
    require!(has_program("python3"), "python3 not installed");
    let host = TcpListener::bind("127.0.0.1:0").expect("listen");
    let mut policy = SandboxPolicy::preset("python3", &[]);
    policy.network = NetworkPolicy::Loopback;
    let script = r#"
import socket, sys
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
client = socket.create_connection(server.getsockname(), timeout=5)
peer, _ = server.accept(); client.sendall(b"ping"); print("own=" + peer.recv(4).decode())
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2); print("host=ok")
except OSError:
    print("host=unreachable")
"#;
    let port = host.local_addr().expect("address").port().to_string();
    let (command, report) = command(&policy, "python3", ["-c", script, &port]);
    assert!(report.net_namespace && !report.landlock_net, "{report:?}");
    let output = run(command);
    let results = parse(&stdout(&output));
    assert_eq!(results.get("own").map(String::as_str), Some("ping"), "{output:?}");
    assert_eq!(results.get("host").map(String::as_str), Some("unreachable"), "{output:?}");
}

#[test]
fn preset_reads_etc_but_not_its_secrets() {
    require!(probe().landlock_fs, "Landlock unavailable on this kernel");
    require!(Path::new("/etc/shadow").exists(), "no /etc/shadow on this host");
    let script = "for f in /etc/passwd /etc/shadow; do if head -c1 $f >/dev/null 2>&1; then echo $f=ok; else echo $f=denied; fi; done";
    let (command, _) = command(&SandboxPolicy::preset("sh", &[]), "sh", ["-c", script]);
    let output = run(command);
    let results = parse(&stdout(&output));
    assert_eq!(results.get("/etc/passwd").map(String::as_str), Some("ok"), "{output:?}");
    assert_eq!(results.get("/etc/shadow").map(String::as_str), Some("denied"), "{output:?}");
}

#[test]
fn sockets_under_run_are_out_of_reach() {
    require!(probe().pid_namespace && probe().mount_namespace, "no private mounts without PID and mount namespaces");
    require!(Path::new("/run").is_dir(), "no /run on this host");
    require!(has_program("python3"), "python3 not installed");
    let dir = tempfile::Builder::new().prefix("toolbridge-sandbox-test-").tempdir_in("/run").expect("dir in /run");
    let path = dir.path().join("socket");
    let _listener = std::os::unix::net::UnixListener::bind(&path).expect("bind a socket in /run");
    let script = "import socket, sys\ns = socket.socket(socket.AF_UNIX)\ntry:\n    s.connect(sys.argv[1]); print('connect=ok')\nexcept OSError:\n    print('connect=denied')";
    let connect = |policy: &SandboxPolicy| {
        let (command, _) = command(policy, "python3", ["-c", script, &path.display().to_string()]);
        parse(&stdout(&run(command))).get("connect").cloned()
    };
    let mut control = SandboxPolicy::preset("python3", &[]);
    control.read.push(dir.path().to_path_buf());
    assert_eq!(connect(&control).as_deref(), Some("ok"), "control: granted, the socket is reachable");
    assert_eq!(connect(&SandboxPolicy::preset("python3", &[])).as_deref(), Some("denied"));
}
