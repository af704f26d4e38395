//! Termination signals: what `run` cancels on and `serve` shuts down on.
//!
//! The handlers are installed when the process starts ([`install`]), so a signal that arrives
//! while servers are still starting or before a client's handshake is noticed rather than
//! killing the process by its default action (which would skip the pool's cleanup).

use std::sync::OnceLock;

use tokio_util::sync::CancellationToken;

static TERMINATED: OnceLock<CancellationToken> = OnceLock::new();

fn token() -> &'static CancellationToken {
    TERMINATED.get_or_init(CancellationToken::new)
}

/// Starts listening for SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal went away). Call once,
/// inside the runtime, before anything slow.
pub(crate) fn install() {
    let token = token().clone();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let handlers = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup()));
        if let (Ok(mut interrupt), Ok(mut term), Ok(mut hangup)) = handlers {
            tokio::spawn(async move {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = term.recv() => {}
                    _ = hangup.recv() => {}
                }
                token.cancel();
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

/// Resolves once a termination signal has arrived (at once if one already has).
pub(crate) async fn termination() {
    token().cancelled().await;
}
