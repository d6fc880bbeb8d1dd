//! Talking to one OCI registry through `oci-client`: the protocol (HTTPS, or plain HTTP for
//! loopback and insecure registries), credentials, bounded retries of transient failures, and
//! the translation of the client's errors into `PullError`s a user can act on.

use super::reference::ImageRef;
use super::{Credentials, PullError};
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, RegistryOperation};
use std::future::Future;
use std::sync::Once;
use std::time::Duration;

/// Media types of the CNCF "Wasm OCI artifact" layout (`wkg oci push`, `oras`).
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// First pause between two attempts; doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

pub(crate) struct Registry {
    pub client: Client,
    pub auth: RegistryAuth,
    pub name: String,
    max_attempts: u32,
}

fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another part of the process may have installed one already: that one is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Registry {
    pub fn new(
        reference: &ImageRef,
        credentials: &Credentials,
        insecure: &[String],
        max_attempts: u32,
    ) -> Self {
        install_crypto_provider();
        let name = reference.registry().to_owned();
        let plain = reference.is_loopback() || insecure.iter().any(|r| r == &name);
        let protocol = if plain {
            ClientProtocol::HttpsExcept(vec![
                name.clone(),
                reference.oci().resolve_registry().to_owned(),
            ])
        } else {
            ClientProtocol::Https
        };
        let client = Client::new(ClientConfig {
            protocol,
            ..Default::default()
        });
        let auth = match credentials {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.expose().to_owned())
            }
        };
        Self {
            client,
            auth,
            name,
            max_attempts: max_attempts.max(1),
        }
    }

    /// Authenticates for `op` (a token exchange where the registry asks for one).
    pub async fn login(
        &self,
        reference: &ImageRef,
        op: RegistryOperation,
    ) -> Result<(), PullError> {
        self.retry(reference, || async {
            self.client
                .auth(reference.oci(), &self.auth, op)
                .await
                .map(|_| ())
        })
        .await
    }

    /// Runs `f` until it succeeds, fails for good, or `max_attempts` transient failures.
    pub async fn retry<T, F, Fut>(&self, reference: &ImageRef, mut f: F) -> Result<T, PullError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        let mut pause = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) if is_transient(&e) && attempt < self.max_attempts => {
                    tracing::debug!(
                        "registry {}: attempt {attempt} failed: {e}; retrying in {pause:?}",
                        self.name
                    );
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(classify(e, reference, &self.name, attempt)),
            }
        }
    }
}

/// Connection failures, timeouts, 5xx and 429 are worth another try; nothing else is.
fn is_transient(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::RequestError(e) => {
            e.is_connect() || e.is_timeout() || e.is_request() || e.is_body()
        }
        OciDistributionError::ServerError { code, .. } => *code >= 500 || *code == 429,
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|e| e.code == OciErrorCode::Toomanyrequests),
        OciDistributionError::IoError(_) => true,
        _ => false,
    }
}

/// A client error as the user should read it. Never carries credentials: the client's errors
/// name URLs and registry messages only.
pub(crate) fn classify(
    e: OciDistributionError,
    reference: &ImageRef,
    registry: &str,
    attempts: u32,
) -> PullError {
    let not_found = |detail: String| PullError::NotFound {
        reference: reference.to_string(),
        detail,
    };
    let refused = |detail: String| PullError::AuthRefused {
        registry: registry.to_owned(),
        reference: reference.to_string(),
        detail,
    };
    match e {
        OciDistributionError::RequestError(e) if e.is_connect() || e.is_timeout() => {
            PullError::Unreachable {
                registry: registry.to_owned(),
                attempts,
                message: error_chain(&e),
            }
        }
        OciDistributionError::UnauthorizedError { .. } => refused("not authorized".into()),
        OciDistributionError::AuthenticationFailure(m) => refused(m),
        OciDistributionError::ServerError { code, message, .. } if code == 401 || code == 403 => {
            refused(format!("HTTP {code} {message}"))
        }
        OciDistributionError::ServerError {
            code: 404, message, ..
        } => not_found(message),
        OciDistributionError::ImageManifestNotFoundError(m) => not_found(m),
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<&OciErrorCode> = envelope.errors.iter().map(|e| &e.code).collect();
            let text = envelope.to_string();
            if codes
                .iter()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                refused(text)
            } else if codes.iter().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::BlobUnknown
                        | OciErrorCode::NotFound
                )
            }) {
                not_found(text)
            } else {
                PullError::Registry {
                    registry: registry.to_owned(),
                    message: text,
                }
            }
        }
        OciDistributionError::DigestError(d) => PullError::DigestMismatch {
            what: reference.to_string(),
            detail: d.to_string(),
        },
        other => PullError::Registry {
            registry: registry.to_owned(),
            message: error_chain(&other),
        },
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}
