//! A container's `secrets[].valueFrom` → its value, as the runtime will put it in the
//! environment (issue 13 item 5): an SSM parameter name or ARN (SecureString decrypted),
//! or a Secrets Manager secret ARN, full or partial, optionally followed by
//! `:<json-key>:<version-stage>:<version-id>` (each part may be empty).
//!
//! Errors name the `valueFrom` (and the JSON key), never a value.

use super::Vault;
use super::secretsmanager::names::{SecretRef, check_name as check_secret_name};
use super::secretsmanager::store::{self as secrets, SecretValue};
use super::ssm::names::{Reference, parse_reference};
use super::ssm::store as parameters;
use crate::protocol::ApiError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("secret {value_from}: {reason}")]
    Invalid { value_from: String, reason: String },
    #[error("secret {value_from}: the parameter does not exist")]
    ParameterNotFound { value_from: String },
    #[error("secret {value_from}: the secret does not exist")]
    SecretNotFound { value_from: String },
    #[error("secret {value_from}: {reason}")]
    VersionNotFound { value_from: String, reason: String },
    #[error("secret {value_from}: the secret is scheduled for deletion")]
    Deleted { value_from: String },
    #[error("secret {value_from}: the value is not a JSON object, so it has no key {key:?}")]
    NotJson { value_from: String, key: String },
    #[error("secret {value_from}: the secret's JSON has no key {key:?}")]
    MissingKey { value_from: String, key: String },
    #[error("secret {value_from}: a binary secret cannot be put in the environment")]
    Binary { value_from: String },
    #[error("secret {value_from}: the secrets store failed: {reason}")]
    Store { value_from: String, reason: String },
}

/// A `valueFrom`, read (no store access): what registration can check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueFrom {
    /// A parameter name (`/app/db`, `name`, `name:3`) or parameter ARN.
    Parameter(String),
    Secret {
        /// The ARN without the trailing `:<json-key>:…` parts.
        arn: String,
        json_key: Option<String>,
        version_stage: Option<String>,
        version_id: Option<String>,
    },
}

impl ValueFrom {
    /// Reads `text`; the error says why it is neither a parameter nor a secret reference.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("valueFrom is empty".into());
        }
        let Some(rest) = text.strip_prefix("arn:") else {
            // A parameter name; its syntax is checked when it is looked up.
            return Ok(ValueFrom::Parameter(text.to_owned()));
        };
        let parts: Vec<&str> = rest.splitn(6, ':').collect();
        match parts[..] {
            [_, "ssm", _, _, resource] | [_, "ssm", _, _, resource, _]
                if resource.starts_with("parameter/") =>
            {
                Ok(ValueFrom::Parameter(text.to_owned()))
            }
            [partition, "secretsmanager", region, account, "secret", resource] => {
                let mut fields = resource.split(':');
                let name = fields.next().unwrap_or_default();
                check_secret_name("valueFrom", name).map_err(|e| e.message)?;
                let mut next = || fields.next().filter(|f| !f.is_empty()).map(str::to_owned);
                let (json_key, version_stage, version_id) = (next(), next(), next());
                if fields.next().is_some() {
                    return Err(
                        "a secret ARN takes at most :<json-key>:<version-stage>:<version-id> \
                         after the name"
                            .into(),
                    );
                }
                if version_stage.is_some() && version_id.is_some() {
                    return Err("give a version stage or a version id, not both".into());
                }
                Ok(ValueFrom::Secret {
                    arn: format!("arn:{partition}:secretsmanager:{region}:{account}:secret:{name}"),
                    json_key,
                    version_stage,
                    version_id,
                })
            }
            _ => Err(
                "not an SSM parameter name or ARN (arn:aws:ssm:<region>:<account>:parameter/<name>) \
                 nor a Secrets Manager secret ARN \
                 (arn:aws:secretsmanager:<region>:<account>:secret:<name>)"
                    .into(),
            ),
        }
    }
}

/// What reading a `valueFrom` asks of IAM: the action and the resource ARN it is checked
/// against (a secret's full ARN, with its suffix, when it exists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub action: &'static str,
    pub resource: String,
    /// Whether the value is a Secrets Manager secret (else an SSM parameter).
    pub secret: bool,
}

impl Vault {
    /// The action and resource reading `value_from` takes. Reads the state store (blocks).
    pub fn access_of(&self, value_from: &str) -> Result<Access, ResolveError> {
        let invalid = |reason: String| ResolveError::Invalid {
            value_from: value_from.to_owned(),
            reason,
        };
        match ValueFrom::parse(value_from).map_err(invalid)? {
            ValueFrom::Parameter(text) => {
                let reference =
                    parse_reference(self, "valueFrom", &text).map_err(|e| invalid(e.message))?;
                let found =
                    parameters::find(self, &reference).map_err(|e| store_failure(value_from, e))?;
                let name = match (&found, reference.candidates.first()) {
                    (Some(p), _) => p.name.clone(),
                    (None, Some(first)) => first.clone(),
                    (None, None) => text,
                };
                Ok(Access {
                    action: "ssm:GetParameters",
                    resource: super::ssm::names::arn(self, &name),
                    secret: false,
                })
            }
            ValueFrom::Secret { arn, .. } => {
                let id = super::secretsmanager::names::parse_id(self, "valueFrom", &arn)
                    .map_err(|e| invalid(e.message))?;
                let found = match id {
                    SecretRef::Elsewhere => None,
                    _ => secrets::find(self, &id).map_err(|e| store_failure(value_from, e))?,
                };
                Ok(Access {
                    action: "secretsmanager:GetSecretValue",
                    resource: found.map_or(arn, |(s, _)| s.arn),
                    secret: true,
                })
            }
        }
    }

    /// The value `value_from` names, from this host's parameters and secrets. Reads the
    /// state store (blocks): call it from blocking code.
    pub fn resolve_value_from(&self, value_from: &str) -> Result<String, ResolveError> {
        let invalid = |reason: String| ResolveError::Invalid {
            value_from: value_from.to_owned(),
            reason,
        };
        match ValueFrom::parse(value_from).map_err(invalid)? {
            ValueFrom::Parameter(text) => self.resolve_parameter(value_from, &text),
            ValueFrom::Secret {
                arn,
                json_key,
                version_stage,
                version_id,
            } => self.resolve_secret(
                value_from,
                &arn,
                json_key.as_deref(),
                version_stage.as_deref(),
                version_id.as_deref(),
            ),
        }
    }

    fn resolve_parameter(&self, value_from: &str, text: &str) -> Result<String, ResolveError> {
        let reference: Reference =
            parse_reference(self, "valueFrom", text).map_err(|e| ResolveError::Invalid {
                value_from: value_from.to_owned(),
                reason: e.message,
            })?;
        let failed = |e: ApiError| store_failure(value_from, e);
        let param = parameters::find(self, &reference)
            .map_err(failed)?
            .ok_or_else(|| ResolveError::ParameterNotFound {
                value_from: value_from.to_owned(),
            })?;
        let version = param.select(reference.selector.as_ref()).map_err(|e| {
            ResolveError::VersionNotFound {
                value_from: value_from.to_owned(),
                reason: e.message,
            }
        })?;
        version.clear_value(self, &param.name).map_err(failed)
    }

    fn resolve_secret(
        &self,
        value_from: &str,
        arn: &str,
        json_key: Option<&str>,
        version_stage: Option<&str>,
        version_id: Option<&str>,
    ) -> Result<String, ResolveError> {
        let failed = |e: ApiError| store_failure(value_from, e);
        let id = super::secretsmanager::names::parse_id(self, "valueFrom", arn).map_err(|e| {
            ResolveError::Invalid {
                value_from: value_from.to_owned(),
                reason: e.message,
            }
        })?;
        let not_found = || ResolveError::SecretNotFound {
            value_from: value_from.to_owned(),
        };
        if id == SecretRef::Elsewhere {
            return Err(not_found());
        }
        let (secret, _) = secrets::find(self, &id)
            .map_err(failed)?
            .ok_or_else(not_found)?;
        if secret.is_deleted() {
            return Err(ResolveError::Deleted {
                value_from: value_from.to_owned(),
            });
        }
        let version = secret.select(version_id, version_stage).map_err(|e| {
            ResolveError::VersionNotFound {
                value_from: value_from.to_owned(),
                reason: e.message,
            }
        })?;
        let text = match secret.open(self, version).map_err(failed)? {
            SecretValue::Text(t) => t,
            SecretValue::Binary(_) => {
                return Err(ResolveError::Binary {
                    value_from: value_from.to_owned(),
                });
            }
        };
        let Some(key) = json_key else {
            return Ok(text);
        };
        let not_json = || ResolveError::NotJson {
            value_from: value_from.to_owned(),
            key: key.to_owned(),
        };
        let doc: serde_json::Value = serde_json::from_str(&text).map_err(|_| not_json())?;
        let object = doc.as_object().ok_or_else(not_json)?;
        match object.get(key) {
            Some(serde_json::Value::String(s)) => Ok(s.clone()),
            Some(other) => Ok(other.to_string()),
            None => Err(ResolveError::MissingKey {
                value_from: value_from.to_owned(),
                key: key.to_owned(),
            }),
        }
    }
}

fn store_failure(value_from: &str, e: ApiError) -> ResolveError {
    ResolveError::Store {
        value_from: value_from.to_owned(),
        reason: e.message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::test_support::{call, vault};
    use crate::secrets::{SecretsManagerService, SsmService};
    use serde_json::json;

    #[tokio::test]
    async fn parameters_and_secrets_resolve_and_errors_never_hold_values() {
        let (v, _) = vault();
        let ssm = SsmService::new(v.clone());
        let sm = SecretsManagerService::new(v.clone());
        call(
            &ssm,
            "PutParameter",
            json!({"Name": "/app/pw", "Value": "param-pw", "Type": "SecureString"}),
        )
        .await
        .unwrap();
        call(
            &ssm,
            "PutParameter",
            json!({"Name": "/app/pw", "Value": "param-pw-2", "Overwrite": true}),
        )
        .await
        .unwrap();
        call(
            &ssm,
            "PutParameter",
            json!({"Name": "plain", "Value": "p", "Type": "String"}),
        )
        .await
        .unwrap();
        let created = call(
            &sm,
            "CreateSecret",
            json!({"Name": "db",
            "SecretString": "{\"user\":\"admin\",\"port\":5432,\"password\":\"sm-pw\"}"}),
        )
        .await
        .unwrap();
        let arn = created["ARN"].as_str().unwrap().to_owned();
        let v1 = created["VersionId"].as_str().unwrap().to_owned();
        call(
            &sm,
            "PutSecretValue",
            json!({"SecretId": "db", "SecretString": "not json"}),
        )
        .await
        .unwrap();
        let partial = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db";

        let r = |s: &str| v.resolve_value_from(s);
        assert_eq!(r("/app/pw").unwrap(), "param-pw-2");
        assert_eq!(r("/app/pw:1").unwrap(), "param-pw");
        assert_eq!(
            r("arn:aws:ssm:us-east-1:000000000000:parameter/app/pw").unwrap(),
            "param-pw-2"
        );
        assert_eq!(
            r("arn:aws:ssm:us-east-1:000000000000:parameter/plain").unwrap(),
            "p"
        );
        assert_eq!(r(&arn).unwrap(), "not json");
        assert_eq!(r(partial).unwrap(), "not json");
        assert_eq!(
            r(&format!("{partial}:password:AWSPREVIOUS:")).unwrap(),
            "sm-pw"
        );
        assert_eq!(r(&format!("{arn}:port::{v1}")).unwrap(), "5432");
        assert!(
            r(&format!("{arn}::AWSPREVIOUS"))
                .unwrap()
                .contains("\"sm-pw\"")
        );

        let errors = [
            ("/app/missing", "ParameterNotFound"),
            ("/app/pw:9", "VersionNotFound"),
            (
                "arn:aws:secretsmanager:us-east-1:000000000000:secret:nope",
                "SecretNotFound",
            ),
            (
                "arn:aws:secretsmanager:eu-west-1:000000000000:secret:db",
                "SecretNotFound",
            ),
            (&format!("{arn}:password"), "NotJson"),
            (&format!("{partial}:missing:AWSPREVIOUS"), "MissingKey"),
            (&format!("{partial}::NOSTAGE"), "VersionNotFound"),
            ("arn:aws:s3:::bucket/key", "Invalid"),
            ("bad name with spaces", "Invalid"),
            (&format!("{partial}:a:b:c:d"), "Invalid"),
        ];
        for (value_from, kind) in errors {
            let e = r(value_from).unwrap_err();
            assert!(format!("{e:?}").starts_with(kind), "{value_from}: {e:?}");
            let text = e.to_string();
            assert!(
                text.contains(
                    value_from
                        .split(':')
                        .take(7)
                        .collect::<Vec<_>>()
                        .join(":")
                        .as_str()
                ),
                "{text}"
            );
            for secret in ["param-pw", "sm-pw", "not json", "admin"] {
                assert!(!text.contains(secret), "{value_from}: {text}");
            }
        }

        call(&sm, "DeleteSecret", json!({"SecretId": "db"}))
            .await
            .unwrap();
        assert!(matches!(r(partial), Err(ResolveError::Deleted { .. })));
    }

    #[test]
    fn value_from_forms() {
        assert_eq!(
            ValueFrom::parse("/a/b").unwrap(),
            ValueFrom::Parameter("/a/b".into())
        );
        assert_eq!(
            ValueFrom::parse("arn:aws:secretsmanager:r:1:secret:n-AbCdEf:k:AWSCURRENT:").unwrap(),
            ValueFrom::Secret {
                arn: "arn:aws:secretsmanager:r:1:secret:n-AbCdEf".into(),
                json_key: Some("k".into()),
                version_stage: Some("AWSCURRENT".into()),
                version_id: None,
            }
        );
        assert!(ValueFrom::parse("").is_err());
        assert!(ValueFrom::parse("arn:aws:secretsmanager:r:1:secret:n::S:I").is_err());
        assert!(ValueFrom::parse("arn:aws:ssm:r:1:document/x").is_err());
    }
}
