//! The credential source of the API's SigV4 check beyond the host config's keys: IAM
//! users' access keys (from the IAM store's in-memory mirror) and STS sessions.

use std::sync::Arc;

use super::sessions::Sessions;
use crate::iam::store::{IamStore, KeyStatus};
use crate::protocol::{Credential, CredentialSource, Principal, PrincipalKind};

/// IAM users' keys (`AKIA…`) and STS sessions (`ASIA…`).
pub struct Credentials {
    iam: Arc<IamStore>,
    sessions: Arc<Sessions>,
}

impl Credentials {
    pub fn new(iam: Arc<IamStore>, sessions: Arc<Sessions>) -> Self {
        Self { iam, sessions }
    }
}

impl CredentialSource for Credentials {
    fn credential(&self, access_key_id: &str) -> Option<Credential> {
        // Session ids start with ASIA, and only they: one map is asked.
        if access_key_id.starts_with("ASIA") {
            return self.sessions.credential(access_key_id);
        }
        let (key, user) = self.iam.access_key(access_key_id)?;
        Some(Credential {
            secret_access_key: key.secret.clone(),
            principal: Principal {
                access_key_id: key.id.clone(),
                arn: user.arn.clone(),
                kind: PrincipalKind::User {
                    name: user.name.clone(),
                    id: user.id.clone(),
                },
            },
            session_token: None,
            expires_at: None,
            active: key.status == KeyStatus::Active,
        })
    }
}
