//! The credential source of the API's SigV4 check beyond the host config's keys: IAM
//! users' access keys and STS sessions, one lookup each.

use std::sync::Arc;

use super::sessions::Sessions;
use crate::protocol::{Credential, CredentialSource};

/// IAM users' keys (`AKIA…`) and STS sessions (`ASIA…`), asked in that order.
pub struct Credentials {
    users: Option<Arc<dyn CredentialSource>>,
    sessions: Arc<Sessions>,
}

impl Credentials {
    pub fn new(users: Option<Arc<dyn CredentialSource>>, sessions: Arc<Sessions>) -> Self {
        Self { users, sessions }
    }
}

impl CredentialSource for Credentials {
    fn credential(&self, access_key_id: &str) -> Option<Credential> {
        // Session ids start with ASIA; anything else is a user's key, so one map is asked.
        if access_key_id.starts_with("ASIA") {
            return self.sessions.credential(access_key_id);
        }
        self.users.as_ref()?.credential(access_key_id)
    }
}
