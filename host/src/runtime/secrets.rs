//! A container's `secrets` → environment variables, read before any container runs.
//!
//! The runtime knows no secret store: a [`TaskSecretSource`] (the host's SSM parameters and
//! Secrets Manager secrets, read as the task's execution role) answers each `valueFrom`.
//! A failure stops the task with ECS's `ResourceInitializationError` wording; values are
//! never put in an event, a notice or a log line.

use super::task::Driver;

/// ECS's prefix for a task that could not read its secrets or registry credentials.
pub const INIT_ERROR: &str = "ResourceInitializationError: unable to pull secrets or registry auth";

/// Who reads a task's secrets: the task (its id, for the acting session's name) and the
/// role named by its `executionRoleArn`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretReader<'a> {
    pub task_id: &'a str,
    pub execution_role_arn: Option<&'a str>,
}

/// Where container secrets come from. Called on tokio's blocking pool.
pub trait TaskSecretSource: Send + Sync {
    /// The value `value_from` names, as `reader` may read it. The error is ECS's reason
    /// after [`INIT_ERROR`] (`execution resource retrieval failed: …`), naming the
    /// secret, never a value.
    fn resolve(&self, reader: &SecretReader<'_>, value_from: &str) -> Result<String, String>;
}

impl Driver {
    /// Every container's secret variables, by the container's place; on failure the first
    /// container whose secret could not be read and the task's stop reason.
    pub(super) async fn resolve_secrets(
        &self,
    ) -> Result<Vec<Vec<(String, String)>>, (usize, String)> {
        let wanted: Vec<Vec<(String, String)>> = self
            .plans
            .iter()
            .map(|p| {
                p.def
                    .secrets
                    .iter()
                    .map(|s| (s.name.clone(), s.value_from.clone()))
                    .collect()
            })
            .collect();
        if wanted.iter().all(Vec::is_empty) {
            return Ok(vec![Vec::new(); wanted.len()]);
        }
        let source = self.shared.secret_source();
        let task_id = self.identity.task_id.clone();
        let role = self.definition.execution_role_arn.clone();
        let read = move || {
            let reader = SecretReader {
                task_id: &task_id,
                execution_role_arn: role.as_deref(),
            };
            let mut out = Vec::with_capacity(wanted.len());
            for (i, secrets) in wanted.into_iter().enumerate() {
                let mut env = Vec::with_capacity(secrets.len());
                for (name, value_from) in secrets {
                    let value = match &source {
                        Some(source) => source.resolve(&reader, &value_from),
                        None => Err(format!(
                            "execution resource retrieval failed: this host has no secret store \
                             to read {value_from} from"
                        )),
                    };
                    match value {
                        Ok(v) => env.push((name, v)),
                        Err(reason) => return Err((i, format!("{INIT_ERROR}: {reason}"))),
                    }
                }
                out.push(env);
            }
            Ok(out)
        };
        match tokio::task::spawn_blocking(read).await {
            Ok(result) => result,
            Err(e) => Err((0, format!("{INIT_ERROR}: the secret reader failed: {e}"))),
        }
    }
}
