//! Access keys that are not in the host config: IAM users' keys and STS sessions (issue 12).
//! The transport's SigV4 check (`api/auth.rs`) asks a [`CredentialSource`] for a key it does
//! not know; the IAM module answers. The lookup is synchronous and cheap (an in-memory
//! index kept by the source), because it runs on every request.

use time::OffsetDateTime;

use super::context::Principal;

/// One access key: the secret to check the signature with, and who it acts as.
#[derive(Clone)]
pub struct Credential {
    pub secret_access_key: String,
    pub principal: Principal,
    /// Temporary credentials: the token the request must carry in `X-Amz-Security-Token`.
    pub session_token: Option<String>,
    /// Temporary credentials: refused (`ExpiredToken`) from this instant on.
    pub expires_at: Option<OffsetDateTime>,
    /// An IAM access key set Inactive: refused (`InvalidClientTokenId`).
    pub active: bool,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("principal", &self.principal)
            .field("expires_at", &self.expires_at)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// Finds credentials by access key id.
pub trait CredentialSource: Send + Sync + 'static {
    fn credential(&self, access_key_id: &str) -> Option<Credential>;
}
