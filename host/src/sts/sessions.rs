//! STS sessions: the temporary credentials AssumeRole hands out, kept as state-store
//! documents (kind `sts.session`, keyed by access key id) so they survive a restart, and in
//! an in-memory index because every request signed with one looks it up.
//!
//! An expired session stays in the index for [`EXPIRED_GRACE`], so a client still using it
//! is told `ExpiredToken` rather than that the key does not exist; [`Sessions::sweep`]
//! forgets it after that. [`Sessions::revoke`] forgets one at once (a task's credentials
//! when the task stops).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::keys::Secrets;
use crate::protocol::{Credential, CredentialSource, Principal, PrincipalKind};
use crate::state::{Expect, StateError, StateStore};

/// The document kind of a session.
pub const KIND: &str = "sts.session";

/// How long an expired session is still recognised (and refused as expired).
pub const EXPIRED_GRACE: time::Duration = time::Duration::hours(1);

/// What a session is for: the role, the session's name and tags, and until when.
#[derive(Debug, Clone)]
pub struct Grant {
    pub account: String,
    pub role_name: String,
    pub role_id: String,
    pub session_name: String,
    /// Session tags: the session's `aws:PrincipalTag/…`.
    pub tags: Vec<(String, String)>,
    /// Who asked (for the log and the record).
    pub source_arn: String,
    pub source_identity: Option<String>,
    pub expires_at: OffsetDateTime,
}

/// One session as stored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub account: String,
    pub role_name: String,
    pub role_id: String,
    pub session_name: String,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub source_arn: String,
    #[serde(default)]
    pub source_identity: Option<String>,
    #[serde(with = "epoch_seconds")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "epoch_seconds")]
    pub expires_at: OffsetDateTime,
}

impl Session {
    /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:sts::{}:assumed-role/{}/{}",
            self.account, self.role_name, self.session_name
        )
    }

    /// `AROA…:<session>`: the session's `aws:userid` and GetCallerIdentity's `UserId`.
    pub fn assumed_role_id(&self) -> String {
        format!("{}:{}", self.role_id, self.session_name)
    }

    pub fn principal(&self) -> Principal {
        Principal {
            access_key_id: self.access_key_id.clone(),
            arn: self.arn(),
            kind: PrincipalKind::AssumedRole {
                role_name: self.role_name.clone(),
                role_id: self.role_id.clone(),
                session_name: self.session_name.clone(),
            },
        }
    }
}

/// Instants as whole seconds since the epoch in the stored document.
mod epoch_seconds {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(t.unix_timestamp())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let secs = i64::deserialize(d)?;
        OffsetDateTime::from_unix_timestamp(secs).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("state store: session document {key}: {why}")]
    Corrupt { key: String, why: String },
}

/// The sessions of this host.
pub struct Sessions {
    store: Arc<dyn StateStore>,
    index: RwLock<HashMap<String, Session>>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("count", &self.read().len())
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// Loads the stored sessions; those past their grace are deleted.
    pub fn open(store: Arc<dyn StateStore>, now: OffsetDateTime) -> Result<Self, SessionError> {
        let mut index = HashMap::new();
        for doc in store.list_documents(KIND, "")? {
            let session: Session =
                serde_json::from_value(doc.value).map_err(|e| SessionError::Corrupt {
                    key: doc.key.clone(),
                    why: e.to_string(),
                })?;
            index.insert(doc.key, session);
        }
        let sessions = Self {
            store,
            index: RwLock::new(index),
        };
        sessions.sweep(now)?;
        Ok(sessions)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves the map consistent (single inserts/removes).
        crate::util::sync::read(&self.index)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Session>> {
        crate::util::sync::write(&self.index)
    }

    /// Creates a session: fresh secrets, stored durably before they are handed out.
    pub fn issue(&self, grant: Grant, now: OffsetDateTime) -> Result<Session, SessionError> {
        loop {
            let secrets = Secrets::generate();
            let session = Session {
                access_key_id: secrets.access_key_id,
                secret_access_key: secrets.secret_access_key,
                session_token: secrets.session_token,
                account: grant.account.clone(),
                role_name: grant.role_name.clone(),
                role_id: grant.role_id.clone(),
                session_name: grant.session_name.clone(),
                tags: grant.tags.clone(),
                source_arn: grant.source_arn.clone(),
                source_identity: grant.source_identity.clone(),
                issued_at: now,
                expires_at: grant.expires_at,
            };
            let value = serde_json::to_value(&session).map_err(|e| SessionError::Corrupt {
                key: session.access_key_id.clone(),
                why: e.to_string(),
            })?;
            // `Absent`: a key id drawn twice (80 random bits) is drawn again, never overwritten.
            if self
                .store
                .put_document(KIND, &session.access_key_id, &value, Expect::Absent)?
                .is_some()
            {
                self.write()
                    .insert(session.access_key_id.clone(), session.clone());
                return Ok(session);
            }
        }
    }

    pub fn get(&self, access_key_id: &str) -> Option<Session> {
        self.read().get(access_key_id).cloned()
    }

    /// Ends a session now: its credentials are refused from the next request on. True when
    /// there was one.
    pub fn revoke_session(&self, access_key_id: &str) -> Result<bool, SessionError> {
        // The index first: even if the store fails, the API refuses the key from now on.
        let removed = self.write().remove(access_key_id).is_some();
        let deleted = self
            .store
            .delete_document(KIND, access_key_id, Expect::Any)?;
        Ok(deleted || removed)
    }

    /// Revokes every session `which` picks; returns how many.
    pub fn revoke_where(&self, which: impl Fn(&Session) -> bool) -> Result<usize, SessionError> {
        let picked: Vec<String> = self
            .read()
            .values()
            .filter(|s| which(s))
            .map(|s| s.access_key_id.clone())
            .collect();
        for id in &picked {
            self.revoke_session(id)?;
        }
        Ok(picked.len())
    }

    /// Forgets sessions that expired more than [`EXPIRED_GRACE`] before `now`; returns how
    /// many.
    pub fn sweep(&self, now: OffsetDateTime) -> Result<usize, SessionError> {
        let stale: Vec<String> = self
            .read()
            .values()
            .filter(|s| s.expires_at + EXPIRED_GRACE <= now)
            .map(|s| s.access_key_id.clone())
            .collect();
        for id in &stale {
            self.store.delete_document(KIND, id, Expect::Any)?;
            self.write().remove(id);
        }
        Ok(stale.len())
    }

    /// Live sessions (not expired at `now`) whose caller counts as `issuer` (see
    /// [`issuer_of`]).
    pub fn live_issued_by(&self, issuer: &str, now: OffsetDateTime) -> usize {
        self.read()
            .values()
            .filter(|s| s.expires_at > now && issuer_of(&s.source_arn) == issuer)
            .count()
    }

    /// Sessions in the index (live and recently expired).
    pub fn len(&self) -> usize {
        self.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The session tags of a session's key: its `aws:PrincipalTag/…`.
    pub fn tags(&self, access_key_id: &str) -> Option<Vec<(String, String)>> {
        self.read().get(access_key_id).map(|s| s.tags.clone())
    }
}

/// Who a session's caller counts as for the per-principal cap: a user (or the account
/// root) as itself; a role session as its role, so that sessions chained from sessions are
/// capped together (`arn:aws:sts::<acct>:assumed-role/<role>/<s>` →
/// `arn:aws:iam::<acct>:role/<role>`).
pub fn issuer_of(source_arn: &str) -> std::borrow::Cow<'_, str> {
    let role = source_arn
        .strip_prefix("arn:aws:sts::")
        .and_then(|rest| rest.split_once(":assumed-role/"))
        .and_then(|(account, rest)| Some((account, rest.split_once('/')?.0)));
    match role {
        Some((account, role)) => format!("arn:aws:iam::{account}:role/{role}").into(),
        None => source_arn.into(),
    }
}

impl CredentialSource for Sessions {
    fn credential(&self, access_key_id: &str) -> Option<Credential> {
        let index = self.read();
        let s = index.get(access_key_id)?;
        Some(Credential {
            secret_access_key: s.secret_access_key.clone(),
            principal: s.principal(),
            session_token: Some(s.session_token.clone()),
            expires_at: Some(s.expires_at),
            active: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemStore;
    use time::macros::datetime;

    fn grant(expires_at: OffsetDateTime) -> Grant {
        Grant {
            account: "000000000000".into(),
            role_name: "deploy".into(),
            role_id: "AROAEXAMPLE123456789".into(),
            session_name: "ci".into(),
            tags: vec![("team".into(), "web".into())],
            source_arn: "arn:aws:iam::000000000000:user/alice".into(),
            source_identity: None,
            expires_at,
        }
    }

    #[test]
    fn issued_sessions_are_credentials_and_survive_a_reopen() {
        let store: Arc<dyn StateStore> = Arc::new(MemStore::default());
        let now = datetime!(2025-01-01 12:00 UTC);
        let sessions = Sessions::open(store.clone(), now).unwrap();
        let s = sessions
            .issue(grant(now + time::Duration::minutes(15)), now)
            .unwrap();
        assert_eq!(s.arn(), "arn:aws:sts::000000000000:assumed-role/deploy/ci");
        assert_eq!(s.assumed_role_id(), "AROAEXAMPLE123456789:ci");
        let c = sessions.credential(&s.access_key_id).unwrap();
        assert_eq!(c.secret_access_key, s.secret_access_key);
        assert_eq!(c.session_token.as_deref(), Some(s.session_token.as_str()));
        assert_eq!(c.principal.arn, s.arn());
        assert!(matches!(
            c.principal.kind,
            PrincipalKind::AssumedRole { ref role_name, .. } if role_name == "deploy"
        ));
        assert_eq!(
            sessions.tags(&s.access_key_id).unwrap(),
            vec![("team".to_owned(), "web".to_owned())]
        );

        let reopened = Sessions::open(store.clone(), now).unwrap();
        assert_eq!(reopened.get(&s.access_key_id).unwrap(), s);
        assert!(sessions.credential("ASIANOSUCHKEY0000000").is_none());
    }

    #[test]
    fn revoked_sessions_are_gone_from_index_and_store() {
        let store: Arc<dyn StateStore> = Arc::new(MemStore::default());
        let now = datetime!(2025-01-01 12:00 UTC);
        let sessions = Sessions::open(store.clone(), now).unwrap();
        let s = sessions
            .issue(grant(now + time::Duration::hours(1)), now)
            .unwrap();
        assert!(sessions.revoke_session(&s.access_key_id).unwrap());
        assert!(sessions.credential(&s.access_key_id).is_none());
        assert!(
            store
                .get_document(KIND, &s.access_key_id)
                .unwrap()
                .is_none()
        );
        assert!(!sessions.revoke_session(&s.access_key_id).unwrap());
    }

    #[test]
    fn expired_sessions_are_swept_after_the_grace() {
        let store: Arc<dyn StateStore> = Arc::new(MemStore::default());
        let now = datetime!(2025-01-01 12:00 UTC);
        let sessions = Sessions::open(store.clone(), now).unwrap();
        let short = sessions
            .issue(grant(now + time::Duration::minutes(15)), now)
            .unwrap();
        let long = sessions
            .issue(grant(now + time::Duration::hours(12)), now)
            .unwrap();
        // Expired, within the grace: still known (so refused as expired, not unknown).
        assert_eq!(
            sessions.sweep(now + time::Duration::minutes(30)).unwrap(),
            0
        );
        assert!(sessions.credential(&short.access_key_id).is_some());
        assert_eq!(sessions.sweep(now + time::Duration::hours(2)).unwrap(), 1);
        assert!(sessions.credential(&short.access_key_id).is_none());
        assert!(
            store
                .get_document(KIND, &short.access_key_id)
                .unwrap()
                .is_none()
        );
        assert!(sessions.credential(&long.access_key_id).is_some());
        // A reopen long after drops the rest.
        let later = Sessions::open(store, now + time::Duration::days(1)).unwrap();
        assert!(later.is_empty());
    }
}
