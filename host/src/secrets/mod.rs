//! Secrets: SSM Parameter Store (`AmazonSSM`) and Secrets Manager (`secretsmanager`), both
//! awsJson1_1 over [`StateStore`] documents, and the resolver a task's container `secrets`
//! (`valueFrom`) will use (issue 13).
//!
//! Values of SecureString parameters and of every secret are sealed with the host key
//! ([`crypto`]) before they reach the store: the state database alone does not reveal them.
//! String and StringList parameters are stored in the clear, as they are not secret.
//!
//! - [`ssm`]: PutParameter, GetParameter(s), GetParametersByPath, DescribeParameters,
//!   GetParameterHistory, DeleteParameter(s) — documents of kind `ssm.parameter`;
//! - [`secretsmanager`]: CreateSecret, GetSecretValue, PutSecretValue, UpdateSecret,
//!   DescribeSecret, ListSecrets, DeleteSecret, RestoreSecret — kind `secretsmanager.secret`;
//! - [`resolve`]: `valueFrom` (parameter name or ARN, secret ARN with JSON key, stage,
//!   version) → value;
//! - [`execution`]: the runtime's `TaskSecretSource`: a task's secrets read as its
//!   execution role, its IAM policies enforced, failures in ECS's words.

pub mod crypto;
pub mod execution;
mod page;
pub mod resolve;
pub mod secretsmanager;
pub mod ssm;

use std::sync::Arc;

use crate::protocol::ApiError;
use crate::state::StateStore;

pub use crypto::{CryptoError, HostKey};
pub use execution::ExecutionRoleSecrets;
pub use resolve::{ResolveError, ValueFrom};
pub use secretsmanager::SecretsManagerService;
pub use ssm::SsmService;

/// What both services and the resolver share: the state store, the host key and the
/// region and account that ARNs carry.
#[derive(Clone)]
pub struct Vault {
    state: Arc<dyn StateStore>,
    key: Arc<HostKey>,
    region: String,
    account_id: String,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault")
            .field("region", &self.region)
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

impl Vault {
    pub fn new(
        state: Arc<dyn StateStore>,
        key: Arc<HostKey>,
        region: impl Into<String>,
        account_id: impl Into<String>,
    ) -> Self {
        Self {
            state,
            key,
            region: region.into(),
            account_id: account_id.into(),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// Runs store work (SQLite blocks) on tokio's blocking pool.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Vault) -> Result<T, ApiError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let vault = self.clone();
        match tokio::task::spawn_blocking(move || f(&vault)).await {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("secrets: store call failed: {e}");
                Err(ApiError::server("The secrets store failed to answer."))
            }
        }
    }
}

/// Read-modify-write attempts before a write gives up on concurrent writers.
const CAS_ATTEMPTS: usize = 16;

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    let now = time::OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// A stored epoch-millisecond time as an AWS timestamp.
fn timestamp(ms: i64) -> crate::protocol::Timestamp {
    crate::protocol::Timestamp::from_epoch_seconds(ms as f64 / 1000.0)
        .unwrap_or_else(crate::protocol::Timestamp::now)
}

/// `1 validation error detected: Value '…' at 'member' failed to satisfy constraint: …`,
/// the wording of AWS's model validation; the value is left out for secret members.
fn constraint(member: &str, value: Option<&str>, rule: &str) -> String {
    match value {
        Some(v) => format!(
            "1 validation error detected: Value '{}' at '{member}' failed to satisfy \
             constraint: {rule}",
            shorten(v)
        ),
        None => format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: \
             {rule}"
        ),
    }
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// A resource tag, as both services spell it (`{"Key", "Value"}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

/// Tags as both services limit them: at most 50, keys 1–128 and values up to 256
/// characters, no key twice. `member` is the list's name (`Tags`).
fn check_tags(member: &str, tags: &[Tag]) -> Result<(), ApiError> {
    if tags.len() > 50 {
        return Err(ApiError::validation(format!(
            "{member} holds {} tags; the limit is 50",
            tags.len()
        )));
    }
    for (i, t) in tags.iter().enumerate() {
        let n = t.key.chars().count();
        if n == 0 || n > 128 {
            return Err(ApiError::validation(constraint(
                &format!("{member}.{}.member.key", i + 1),
                Some(&t.key),
                "Member must have length between 1 and 128",
            )));
        }
        if t.value.chars().count() > 256 {
            return Err(ApiError::validation(constraint(
                &format!("{member}.{}.member.value", i + 1),
                Some(&t.value),
                "Member must have length less than or equal to 256",
            )));
        }
        if tags[..i].iter().any(|o| o.key == t.key) {
            return Err(ApiError::validation(format!(
                "{member}: the tag key {:?} is given twice",
                t.key
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::protocol::{Context, Principal, ProtocolKind};
    use crate::state::memory::MemStore;

    /// A vault over an in-memory store with a throwaway key, and the store to look into.
    pub fn vault() -> (Vault, Arc<MemStore>) {
        let store = Arc::new(MemStore::default());
        let vault = Vault::new(
            store.clone(),
            Arc::new(HostKey::ephemeral()),
            "us-east-1",
            "000000000000",
        );
        (vault, store)
    }

    pub fn ctx(service: &'static str, operation: &'static str) -> Context {
        Context {
            principal: Principal::root("test", "arn:aws:iam::000000000000:root"),
            request_id: "r".into(),
            service,
            operation,
            protocol: ProtocolKind::AwsJson1_1,
            unknown_members: Vec::new(),
        }
    }

    /// Runs `operation` of `service` with a JSON input through its operation table (the
    /// typed decoding included) and answers the JSON the wire would carry.
    pub async fn call<S: crate::protocol::Service>(
        service: &S,
        operation: &'static str,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, ApiError> {
        let ops = service.operations();
        let op = ops
            .iter()
            .find(|o| o.name == operation)
            .unwrap_or_else(|| panic!("{operation} is not routed"));
        let request = crate::protocol::Request {
            ctx: ctx(service.name(), op.name),
            input: crate::protocol::json::from_json(input),
        };
        let node = (op.handler)(service, request).await?;
        Ok(serde_json::from_slice(&crate::protocol::json::encode(&node)).unwrap())
    }

    /// Every document of the store as JSON text: what a copy of the database would show.
    pub fn dump(store: &MemStore, kind: &str) -> String {
        store
            .list_documents(kind, "")
            .unwrap()
            .iter()
            .map(|d| d.value.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    }
}
