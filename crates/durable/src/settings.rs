//! Where the Temporal server is: flags over Temporal's own conventions. The environment
//! (`TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS*`,
//! `TEMPORAL_TLS_CLIENT_CERT_PATH`/`_KEY_PATH`, `TEMPORAL_TLS_SERVER_CA_CERT_PATH`,
//! `TEMPORAL_TLS_SERVER_NAME`, `TEMPORAL_GRPC_META_*`) and the config file
//! (`TEMPORAL_CONFIG_FILE`, profile `TEMPORAL_PROFILE`) are read as every Temporal SDK and
//! the `temporal` CLI read them; an address, namespace or TLS file given here wins.

use std::path::PathBuf;
use std::time::Duration;

/// The task queue when none is given.
pub const DEFAULT_TASK_QUEUE: &str = "toolbridge";

/// How long connecting may take when nothing says otherwise.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How to reach Temporal and which task queue to use.
#[derive(Debug, Clone)]
pub struct TemporalSettings {
    /// `host:port` or a URL (default: Temporal's environment, else `localhost:7233`).
    pub address: Option<String>,
    /// The namespace (default: Temporal's environment, else `default`).
    pub namespace: Option<String>,
    /// The task queue executions run on (default [`DEFAULT_TASK_QUEUE`]).
    pub task_queue: Option<String>,
    /// A client certificate (PEM) for mTLS; needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// Its private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// The CA that signed the server's certificate (PEM), when not a public one.
    pub tls_ca: Option<PathBuf>,
    /// How long connecting may take.
    pub connect_timeout: Duration,
}

impl Default for TemporalSettings {
    fn default() -> Self {
        Self {
            address: None,
            namespace: None,
            task_queue: None,
            tls_cert: None,
            tls_key: None,
            tls_ca: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl TemporalSettings {
    /// Settings for a server at `address`.
    pub fn at(address: impl Into<String>) -> Self {
        Self { address: Some(address.into()), ..Self::default() }
    }

    /// With this namespace.
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// With this task queue.
    #[must_use]
    pub fn task_queue(mut self, task_queue: impl Into<String>) -> Self {
        self.task_queue = Some(task_queue.into());
        self
    }

    /// The task queue executions run on.
    pub fn queue(&self) -> &str {
        self.task_queue.as_deref().filter(|q| !q.is_empty()).unwrap_or(DEFAULT_TASK_QUEUE)
    }
}

#[cfg(feature = "temporal")]
mod connect {
    use temporalio_client::envconfig::{ClientConfigProfile, DataSource, LoadClientConfigProfileOptions};
    use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};
    use temporalio_common::envconfig::load_client_config_profile;

    use super::TemporalSettings;
    use crate::error::DurableError;

    /// A connected client and where it is connected.
    #[derive(Clone)]
    pub(crate) struct Connected {
        pub(crate) client: Client,
        pub(crate) address: String,
        pub(crate) namespace: String,
    }

    impl std::fmt::Debug for Connected {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Connected").field("address", &self.address).field("namespace", &self.namespace).finish()
        }
    }

    impl TemporalSettings {
        /// Temporal's profile (environment, config file) with these settings over it.
        fn profile(&self) -> Result<ClientConfigProfile, DurableError> {
            let mut profile = load_client_config_profile(LoadClientConfigProfileOptions::default(), None)
                .map_err(|e| DurableError::Config(format!("Temporal client configuration: {e}")))?;
            if let Some(address) = &self.address {
                profile.address = Some(address.clone());
            }
            if let Some(namespace) = &self.namespace {
                profile.namespace = Some(namespace.clone());
            }
            if self.tls_cert.is_some() || self.tls_key.is_some() || self.tls_ca.is_some() {
                let mut tls = profile.tls.take().unwrap_or_default();
                let path = |p: &std::path::PathBuf| DataSource::Path(p.display().to_string());
                if let Some(cert) = &self.tls_cert {
                    tls.client_cert = Some(path(cert));
                }
                if let Some(key) = &self.tls_key {
                    tls.client_key = Some(path(key));
                }
                if let Some(ca) = &self.tls_ca {
                    tls.server_ca_cert = Some(path(ca));
                }
                tls.disabled = Some(false);
                profile.tls = Some(tls);
            }
            Ok(profile)
        }

        /// Connects, within `connect_timeout`; the error says where it tried and what to do.
        pub(crate) async fn connect(&self) -> Result<Connected, DurableError> {
            let profile = self.profile()?;
            let namespace = profile.namespace.clone().unwrap_or_else(|| "default".to_owned());
            let shown = profile.address.clone().unwrap_or_else(|| "localhost:7233".to_owned());
            let options = ConnectionOptions::try_from(profile)
                .map_err(|e| DurableError::Config(format!("Temporal connection settings: {e}")))?;
            let address = options.target.to_string();
            let connecting = Connection::connect(options);
            let connection = match tokio::time::timeout(self.connect_timeout, connecting).await {
                Err(_) => return Err(DurableError::ConnectTimeout { address: shown, after: self.connect_timeout }),
                Ok(Err(error)) => {
                    return Err(DurableError::Connect { address: shown, namespace, reason: root_cause(&error) });
                }
                Ok(Ok(connection)) => connection,
            };
            let client = Client::new(connection, ClientOptions::new(namespace.clone()).build()).map_err(|e| {
                DurableError::Connect { address: shown, namespace: namespace.clone(), reason: e.to_string() }
            })?;
            Ok(Connected { client, address, namespace })
        }
    }

    /// The innermost cause of an error (the transport's own words, not the wrappers' debug
    /// dumps).
    pub(crate) fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
        let mut cause = error;
        while let Some(next) = cause.source() {
            cause = next;
        }
        cause.to_string()
    }

    /// An error and its causes, `: `-joined.
    pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.contains(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        text
    }
}

#[cfg(feature = "temporal")]
pub(crate) use connect::{Connected, error_chain};
