//! Termination signals: what `run` cancels on and `serve` shuts down on; in `chat`, Ctrl-C
//! (SIGINT) is an interruption of the current turn instead ([`interrupts`]), and only SIGTERM
//! and SIGHUP end the session.
//!
//! The handlers are installed when the process starts ([`install`]), so a signal that arrives
//! while servers are still starting or before a client's handshake is noticed rather than
//! killing the process by its default action (which would skip the pool's cleanup). A second
//! signal exits at once (status 130), for when the cleanup itself is stuck: that is decided in
//! the signal handler itself (signal-hook's conditional shutdown), because the async side sees
//! two signals that arrive close together as one.

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, OnceLock};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

static TERMINATED: OnceLock<CancellationToken> = OnceLock::new();
static INTERRUPTS: OnceLock<watch::Sender<u64>> = OnceLock::new();

fn token() -> &'static CancellationToken {
    TERMINATED.get_or_init(CancellationToken::new)
}

fn interrupt_counter() -> &'static watch::Sender<u64> {
    INTERRUPTS.get_or_init(|| watch::Sender::new(0))
}

/// Ctrl-C presses in `chat` (a count that goes up with each).
pub(crate) fn interrupts() -> watch::Receiver<u64> {
    interrupt_counter().subscribe()
}

/// What Ctrl-C means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Termination, like SIGTERM (a second one exits at once).
    Terminate,
    /// An interruption of the current turn (`chat`); the session goes on.
    Interrupt,
}

/// Starts listening for SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal went away). Call once,
/// inside the runtime, before anything slow.
pub(crate) fn install(mode: Mode) {
    let token = token().clone();
    let seen = Arc::new(AtomicBool::new(false));
    let mut terminating = vec![signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP];
    if mode == Mode::Terminate {
        terminating.push(signal_hook::consts::SIGINT);
    }
    for signal in terminating {
        // The order matters: the conditional exit looks at the flag before this signal sets it.
        let _ = signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&seen));
        let _ = signal_hook::flag::register(signal, Arc::clone(&seen));
    }
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup()));
        if let (Ok(mut interrupt), Ok(mut term), Ok(mut hangup)) = handlers {
            tokio::spawn(async move {
                let mut terminations = 0;
                while terminations < 2 {
                    tokio::select! {
                        _ = interrupt.recv() => {
                            if mode == Mode::Interrupt {
                                interrupt_counter().send_modify(|count| *count += 1);
                                continue;
                            }
                        }
                        _ = term.recv() => {}
                        _ = hangup.recv() => {}
                    }
                    if token.is_cancelled() {
                        force_exit();
                    }
                    token.cancel();
                    terminations += 1;
                }
            });
            return;
        }
    }
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            token.cancel();
        }
    });
}

/// A second signal while the first is being handled (a stuck cleanup): leave now. Servers
/// still see their stdin close and exit.
fn force_exit() -> ! {
    eprintln!("interrupted again; exiting without cleaning up");
    std::process::exit(130);
}

/// Resolves once a termination signal has arrived (at once if one already has).
pub(crate) async fn termination() {
    token().cancelled().await;
}
