//! The execution role: the host reads a task's `secrets` *as* the role its definition's
//! `executionRoleArn` names (issue 13 item 2). When that role exists in IAM, its identity
//! policies must allow `ssm:GetParameters` on the parameter, or
//! `secretsmanager:GetSecretValue` on the secret (by its full ARN); a denial, a missing
//! secret or a missing JSON key is told in ECS's words, naming the secret, never a value.
//!
//! Without an IAM store (or when the role does not exist) nothing is checked: the host's
//! own stores are read as the operator who runs it.

use std::sync::Arc;

use super::Vault;
use super::resolve::{Access, ResolveError};
use crate::iam::authz::context::request_keys;
use crate::iam::policy::{ConditionKeys, Decision, EvalContext, NamedPolicy, evaluate};
use crate::iam::store::IamStore;
use crate::runtime::{SecretReader, TaskSecretSource};

/// Container secrets from this host's parameters and secrets, read as the execution role.
pub struct ExecutionRoleSecrets {
    vault: Vault,
    iam: Option<Arc<IamStore>>,
}

impl ExecutionRoleSecrets {
    pub fn new(vault: Vault, iam: Option<Arc<IamStore>>) -> Self {
        Self { vault, iam }
    }

    /// Whether the execution role may take `access`; `Err` is ECS's reason.
    fn authorize_read(&self, reader: &SecretReader<'_>, access: &Access) -> Result<(), String> {
        self.check(reader, access.action, &access.resource)
            .map_err(|denied| wording(access, &denied))
    }

    /// Whether the execution role may take `action` on `resource`; `Err` is the
    /// `AccessDeniedException: …` message.
    fn check(&self, reader: &SecretReader<'_>, action: &str, resource: &str) -> Result<(), String> {
        let (Some(iam), Some(role_arn)) = (&self.iam, reader.execution_role_arn) else {
            return Ok(());
        };
        let name = role_name(role_arn);
        let Some(policies) = iam.role_identity_policies(name) else {
            return Ok(());
        };
        let principal = format!(
            "arn:aws:sts::{}:assumed-role/{name}/{}",
            self.vault.account_id(),
            reader.task_id
        );
        let mut keys = ConditionKeys::new();
        request_keys(
            &mut keys,
            self.vault.region(),
            time::OffsetDateTime::now_utc(),
            None,
            true,
        );
        keys.insert("aws:PrincipalArn", role_arn_of(iam, name));
        keys.insert("aws:PrincipalType", "AssumedRole");
        let ctx = EvalContext {
            action: action.to_owned(),
            resource: resource.to_owned(),
            principal_arn: principal.clone(),
            keys,
        };
        let named: Vec<NamedPolicy<'_>> = policies
            .iter()
            .map(|(n, d)| NamedPolicy {
                name: n,
                document: d,
            })
            .collect();
        let explicit = match evaluate(&named, &ctx) {
            Decision::Allow(_) => return Ok(()),
            Decision::ExplicitDeny(_) => true,
            Decision::ImplicitDeny => false,
        };
        Err(format!(
            "AccessDeniedException: {}",
            crate::iam::authz::denial_message(&principal, action, resource, explicit)
        ))
    }
}

impl TaskSecretSource for ExecutionRoleSecrets {
    fn resolve(&self, reader: &SecretReader<'_>, value_from: &str) -> Result<String, String> {
        let access = self
            .vault
            .access_of(value_from)
            .map_err(|e| format!("execution resource retrieval failed: {e}"))?;
        self.authorize_read(reader, &access)?;
        self.vault
            .resolve_value_from(value_from)
            .map_err(|e| failure(&access, &e))
    }

    fn authorize(
        &self,
        reader: &SecretReader<'_>,
        action: &str,
        resource: &str,
    ) -> Result<(), String> {
        self.check(reader, action, resource)
    }
}

/// A role's name from `taskRoleArn`/`executionRoleArn`: an ARN (`…:role/path/name`) or the
/// name itself, as ECS takes either.
pub fn role_name(role: &str) -> &str {
    if role.starts_with("arn:") {
        role.rsplit('/').next().unwrap_or(role)
    } else {
        role
    }
}

fn role_arn_of(iam: &IamStore, name: &str) -> String {
    iam.role(name)
        .map(|r| r.arn.clone())
        .unwrap_or_else(|| format!("arn:aws:iam::{}:role/{name}", iam.account_id()))
}

/// ECS's reason around the store's answer (after "unable to pull secrets or registry
/// auth: ").
fn wording(access: &Access, detail: &str) -> String {
    if access.secret {
        format!(
            "execution resource retrieval failed: unable to retrieve secret from asm: service \
             call has been retried 1 time(s): failed to fetch secret {} from secrets manager: \
             {detail}",
            access.resource
        )
    } else {
        format!(
            "execution resource retrieval failed: unable to retrieve secrets from ssm: service \
             call has been retried 1 time(s): {detail}"
        )
    }
}

fn failure(access: &Access, e: &ResolveError) -> String {
    let detail = match e {
        ResolveError::ParameterNotFound { value_from } => {
            format!("invalid ssm parameters: {value_from}")
        }
        ResolveError::SecretNotFound { .. } => {
            "ResourceNotFoundException: Secrets Manager can't find the specified secret.".into()
        }
        ResolveError::Deleted { .. } => "InvalidRequestException: You can't perform this \
             operation on the secret because it was marked for deletion."
            .into(),
        ResolveError::MissingKey { key, .. } | ResolveError::NotJson { key, .. } => {
            format!("retrieved secret from Secrets Manager did not contain json key {key}")
        }
        ResolveError::VersionNotFound { reason, .. } if access.secret => {
            format!("ResourceNotFoundException: {reason}")
        }
        other => other.to_string(),
    };
    wording(access, &detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::store::{Holder, NewRole};
    use crate::secrets::test_support::call;
    use crate::secrets::{SecretsManagerService, SsmService};
    use crate::state::StateStore;
    use crate::state::memory::MemStore;
    use serde_json::json;

    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

    async fn fixture() -> (ExecutionRoleSecrets, Arc<IamStore>, String) {
        let store: Arc<dyn StateStore> = Arc::new(MemStore::default());
        let vault = Vault::new(
            store.clone(),
            Arc::new(crate::secrets::HostKey::ephemeral()),
            "us-east-1",
            "000000000000",
        );
        call(
            &SsmService::new(vault.clone()),
            "PutParameter",
            json!({"Name": "/app/pw", "Value": "pw-value", "Type": "SecureString"}),
        )
        .await
        .unwrap();
        let created = call(
            &SecretsManagerService::new(vault.clone()),
            "CreateSecret",
            json!({"Name": "db", "SecretString": "{\"key\":\"key-value\"}"}),
        )
        .await
        .unwrap();
        let iam = Arc::new(IamStore::new(store, "000000000000", "us-east-1").unwrap());
        iam.create_role(NewRole {
            name: "exec".into(),
            trust_policy: TRUST.into(),
            ..NewRole::default()
        })
        .unwrap();
        let arn = created["ARN"].as_str().unwrap().to_owned();
        (
            ExecutionRoleSecrets::new(vault, Some(iam.clone())),
            iam,
            arn,
        )
    }

    fn allow(iam: &IamStore, statements: serde_json::Value) {
        let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
        iam.put_inline_policy(Holder::Role, "exec", "p", &doc)
            .unwrap();
    }

    const READER: SecretReader<'static> = SecretReader {
        task_id: "t1",
        execution_role_arn: Some("arn:aws:iam::000000000000:role/exec"),
    };

    #[tokio::test]
    async fn the_execution_roles_policy_decides_what_is_read() {
        let (reader, iam, arn) = fixture().await;
        let partial = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db:key::";
        // No policy: both refused, in ECS's words, naming the resource and the session.
        let e = reader.resolve(&READER, "/app/pw").unwrap_err();
        assert!(
            e.starts_with("execution resource retrieval failed: unable to retrieve secrets from ssm")
                && e.contains("AccessDeniedException: User: arn:aws:sts::000000000000:assumed-role/exec/t1 is not authorized to perform: ssm:GetParameters on resource: arn:aws:ssm:us-east-1:000000000000:parameter/app/pw"),
            "{e}"
        );
        let e = reader.resolve(&READER, partial).unwrap_err();
        assert!(
            e.contains(&format!(
                "failed to fetch secret {arn} from secrets manager: AccessDeniedException"
            )) && e.contains("secretsmanager:GetSecretValue"),
            "{e}"
        );
        allow(
            &iam,
            json!([
                {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": "arn:aws:ssm:*:*:parameter/app/*"},
                {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:db-*"},
            ]),
        );
        assert_eq!(reader.resolve(&READER, "/app/pw").unwrap(), "pw-value");
        assert_eq!(reader.resolve(&READER, partial).unwrap(), "key-value");
        // An explicit deny wins.
        allow(
            &iam,
            json!([
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "ssm:*", "Resource": "*"},
            ]),
        );
        let e = reader.resolve(&READER, "/app/pw").unwrap_err();
        assert!(e.contains("with an explicit deny"), "{e}");
        // A role that does not exist, or none: the host reads as itself.
        let nobody = SecretReader {
            task_id: "t1",
            execution_role_arn: Some("arn:aws:iam::000000000000:role/nobody"),
        };
        assert_eq!(reader.resolve(&nobody, "/app/pw").unwrap(), "pw-value");
    }

    #[tokio::test]
    async fn missing_secrets_and_keys_are_told_as_ecs_does_without_values() {
        let (reader, iam, arn) = fixture().await;
        allow(
            &iam,
            json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
        );
        let missing = reader.resolve(&READER, "/app/missing").unwrap_err();
        assert!(
            missing.ends_with("invalid ssm parameters: /app/missing"),
            "{missing}"
        );
        let gone = reader
            .resolve(
                &READER,
                "arn:aws:secretsmanager:us-east-1:000000000000:secret:nope",
            )
            .unwrap_err();
        assert!(gone.contains("ResourceNotFoundException"), "{gone}");
        let no_key = reader
            .resolve(&READER, &format!("{arn}:other::"))
            .unwrap_err();
        assert!(
            no_key.contains("did not contain json key other"),
            "{no_key}"
        );
        for e in [missing, gone, no_key] {
            assert!(!e.contains("key-value") && !e.contains("pw-value"), "{e}");
        }
    }

    #[test]
    fn role_names_from_arns_and_names() {
        assert_eq!(role_name("arn:aws:iam::1:role/path/to/app"), "app");
        assert_eq!(role_name("arn:aws:iam::1:role/app"), "app");
        assert_eq!(role_name("app"), "app");
    }
}
