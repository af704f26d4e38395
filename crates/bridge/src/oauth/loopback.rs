//! The browser flow's redirect on the loopback interface (RFC 8252): a one-shot listener on
//! 127.0.0.1 that takes the authorization server's redirect, and the person sent to the URL
//! by opening a browser (or, where none can be opened, by being shown it).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::{Authorizer, OAuthError};

/// How long a person has to finish in the browser.
const DEFAULT_WAIT: Duration = Duration::from_secs(300);
/// The most bytes of a redirect request read (the request line and headers).
const MAX_REQUEST_BYTES: usize = 16 * 1024;

type Notify = Box<dyn Fn(&str, &str, bool) + Send + Sync>;

/// Sends the person to the authorization URL in a browser and waits for the redirect to
/// `http://127.0.0.1:PORT/callback`.
pub struct LoopbackAuthorizer {
    listener: tokio::sync::Mutex<TcpListener>,
    port: u16,
    wait: Duration,
    open_browser: bool,
    notify: Notify,
}

impl fmt::Debug for LoopbackAuthorizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopbackAuthorizer").field("port", &self.port).finish_non_exhaustive()
    }
}

impl LoopbackAuthorizer {
    /// Listens on 127.0.0.1 at `port` (0: any free port).
    pub async fn bind(port: u16) -> Result<Self, OAuthError> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
            OAuthError::Redirect(format!("cannot listen for the OAuth redirect on 127.0.0.1:{port}: {e}"))
        })?;
        let port = listener.local_addr().map_err(|e| OAuthError::Redirect(e.to_string()))?.port();
        Ok(Self {
            listener: tokio::sync::Mutex::new(listener),
            port,
            wait: DEFAULT_WAIT,
            open_browser: true,
            notify: Box::new(|_, _, _| {}),
        })
    }

    /// How long to wait for the person (default 5 minutes).
    #[must_use]
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Whether to try opening a browser (default true; the URL is shown either way).
    #[must_use]
    pub fn open_browser(mut self, open: bool) -> Self {
        self.open_browser = open;
        self
    }

    /// Called with the server, the authorization URL and whether a browser was opened, so the
    /// caller can show the URL.
    #[must_use]
    pub fn on_url(mut self, notify: impl Fn(&str, &str, bool) + Send + Sync + 'static) -> Self {
        self.notify = Box::new(notify);
        self
    }

    /// The port listened on.
    pub fn port(&self) -> u16 {
        self.port
    }
}

/// Tries the platform's URL opener; whether one started.
async fn open_in_browser(url: &str) -> bool {
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
        // The opener hands the URL to the desktop and exits; it is waited for, never left behind.
        std::process::Command::new(opener)
            .arg(&url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
    .await
    .unwrap_or(false)
}

/// The request target of an HTTP request head (`GET /callback?code=… HTTP/1.1`).
fn request_target(head: &str) -> Option<&str> {
    let line = head.lines().next()?;
    let mut parts = line.split_whitespace();
    (parts.next()? == "GET").then_some(())?;
    parts.next()
}

const DONE_PAGE: &str =
    "<!doctype html><title>toolbridge</title><p>Authorization received; you can close this tab.</p>";

#[async_trait]
impl Authorizer for LoopbackAuthorizer {
    fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    async fn authorize(&self, server: &str, url: &str) -> Result<String, OAuthError> {
        let opened = self.open_browser && open_in_browser(url).await;
        (self.notify)(server, url, opened);
        let listener = self.listener.lock().await;
        let accept = async {
            loop {
                let (mut stream, _) = listener
                    .accept()
                    .await
                    .map_err(|e| OAuthError::Redirect(format!("OAuth redirect listener: {e}")))?;
                let mut head = Vec::with_capacity(1024);
                let mut buffer = [0_u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_REQUEST_BYTES {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head);
                match request_target(&head).filter(|t| t.starts_with("/callback")) {
                    Some(target) => {
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{DONE_PAGE}",
                            DONE_PAGE.len()
                        );
                        let _ = stream.write_all(response.as_bytes()).await;
                        return Ok(format!("http://127.0.0.1:{}{target}", self.port));
                    }
                    None => {
                        // A favicon or a stray request: not the redirect.
                        let _ = stream
                            .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                            .await;
                    }
                }
            }
        };
        tokio::time::timeout(self.wait, accept).await.map_err(|_| {
            OAuthError::Redirect(format!(
                "the authorization of server {server:?} was not completed within {:?}",
                self.wait
            ))
        })?
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_target_is_read_from_the_request_line() {
        assert_eq!(
            super::request_target("GET /callback?code=a&state=b HTTP/1.1\r\nhost: x\r\n\r\n"),
            Some("/callback?code=a&state=b")
        );
        assert_eq!(super::request_target("POST /callback HTTP/1.1\r\n"), None);
        assert_eq!(super::request_target(""), None);
    }
}
