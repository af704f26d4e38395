//! What a server may do beyond tools, as its configuration allows: OAuth for an HTTP server
//! (`oauth`), resources and prompts offered to the model (`resources`, `prompts`), sampling
//! answered by the execution's model (`sampling`), how elicitations are answered without a
//! terminal (`elicitation`), and the roots declared to it (`roots`).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::secrets::SecretValue;
use crate::values::{ScalarString, StringList};

/// How an OAuth client obtains its tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OAuthGrant {
    /// A person authorizes in a browser (`toolbridge auth login`); PKCE, loopback redirect.
    #[default]
    AuthorizationCode,
    /// Headless: the client's own credentials (`client_id` + `client_secret`) buy the token.
    ClientCredentials,
}

/// `oauth` of an HTTP server, as written (values may be `${VAR}` templates).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, remote = "Self")]
pub struct OAuthSpec {
    /// A pre-registered client id (none: client ID metadata document or dynamic registration).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<ScalarString>,
    /// Its secret (keep it in `${VAR}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<ScalarString>,
    /// Scopes to ask for (none: from the server's challenge or `scopes_supported`).
    #[serde(default, skip_serializing_if = "StringList::is_empty")]
    pub scopes: StringList,
    /// An HTTPS URL of this client's metadata document (used when the authorization server
    /// supports client ID metadata documents).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_metadata_url: Option<String>,
    /// The loopback port of the redirect (default: any free port).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_port: Option<u16>,
    /// `authorization_code` (default) or `client_credentials`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<OAuthGrant>,
}

crate::values::object_only!(OAuthSpec, "{client_id, client_secret, scopes, client_metadata_url, redirect_port, grant}");

/// `oauth` of an HTTP server, ready to use.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct OAuthConfig {
    /// A pre-registered client id.
    pub client_id: Option<String>,
    /// Its secret.
    pub client_secret: Option<SecretValue>,
    /// Scopes to ask for.
    pub scopes: Vec<String>,
    /// The client ID metadata document URL.
    pub client_metadata_url: Option<String>,
    /// The loopback port of the redirect.
    pub redirect_port: Option<u16>,
    /// How tokens are obtained.
    pub grant: OAuthGrant,
}

impl fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| crate::REDACTED))
            .field("scopes", &self.scopes)
            .field("client_metadata_url", &self.client_metadata_url)
            .field("redirect_port", &self.redirect_port)
            .field("grant", &self.grant)
            .finish()
    }
}

/// How a server's elicitation is answered when no person can be asked (no terminal, `--json`,
/// the API). In a terminal, `run` asks the person instead.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElicitationAnswer {
    /// Decline (the default).
    #[default]
    Decline,
    /// Cancel.
    Cancel,
    /// Accept with the requested schema's defaults.
    AcceptDefaults,
}

/// What a server may do beyond tools, resolved.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerFeatures {
    /// Offer its resources to the model (`<server>__list_resources`, `<server>__read_resource`).
    pub resources: bool,
    /// Offer its prompts (`<server>__list_prompts`, `<server>__get_prompt`).
    pub prompts: bool,
    /// Answer its `sampling/createMessage` with the execution's model.
    pub sampling: bool,
    /// How its elicitations are answered without a person.
    pub elicitation: ElicitationAnswer,
    /// The roots declared to it (`file://` URIs; plain paths are turned into them).
    pub roots: Vec<String>,
}

impl ServerFeatures {
    /// `roots` as `file://` URIs: paths are made absolute against `base` (the server's `cwd`
    /// or the working directory).
    pub fn root_uris(&self, base: &std::path::Path) -> Vec<String> {
        self.roots
            .iter()
            .map(|root| {
                if root.contains("://") {
                    root.clone()
                } else {
                    let path = std::path::Path::new(root);
                    let path = if path.is_absolute() { path.to_path_buf() } else { base.join(path) };
                    format!("file://{}", path.display())
                }
            })
            .collect()
    }
}
