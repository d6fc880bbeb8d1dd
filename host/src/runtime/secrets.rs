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

    /// Whether `reader` may take `action` on `resource` (the awslogs driver's
    /// `logs:CreateLogStream` and `logs:PutLogEvents`); the error is the
    /// `AccessDeniedException: …` message.
    fn authorize(
        &self,
        _reader: &SecretReader<'_>,
        _action: &str,
        _resource: &str,
    ) -> Result<(), String> {
        Ok(())
    }
}

/// ECS's reason for an awslogs stream the execution role may not write.
const LOGGER_ERROR: &str = "ResourceInitializationError: failed to validate logger args: create \
     stream has been retried 1 times: failed to create Cloudwatch log stream";

/// What a task's secrets resolved to, by container place: its secret variables, and the
/// value of a `repositoryCredentials` secret named by ARN (the host's `[secrets]` names
/// are read by the image puller itself).
#[derive(Default)]
pub(super) struct Resolved {
    pub env: Vec<Vec<(String, String)>>,
    pub registry: Vec<Option<String>>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the values.
        f.debug_struct("Resolved").finish_non_exhaustive()
    }
}

/// A container's secret reads: `(variable name, valueFrom)` (no name: a log secret option),
/// and its registry credentials' ARN.
type Wanted = (Vec<(Option<String>, String)>, Option<String>);

/// A `repositoryCredentials.credentialsParameter` that is a Secrets Manager ARN.
pub(super) fn registry_secret(def: &crate::taskdef::ContainerDefinition) -> Option<&str> {
    def.repository_credentials
        .as_ref()
        .map(|c| c.credentials_parameter.as_str())
        .filter(|p| p.starts_with("arn:"))
}

impl Driver {
    /// Every container's secrets; on failure the first container whose secret could not
    /// be read and the task's stop reason.
    pub(super) async fn resolve_secrets(&self) -> Result<Resolved, (usize, String)> {
        let wanted: Vec<Wanted> = self
            .plans
            .iter()
            .map(|p| {
                // Log secret options are read like secrets (and fail the task alike);
                // `None` as their name keeps them out of the environment.
                let log_options = p
                    .def
                    .log_configuration
                    .iter()
                    .flat_map(|l| l.secret_options.iter())
                    .map(|s| (None, s.value_from.clone()));
                let env = p
                    .def
                    .secrets
                    .iter()
                    .map(|s| (Some(s.name.clone()), s.value_from.clone()))
                    .chain(log_options)
                    .collect();
                (env, registry_secret(&p.def).map(str::to_owned))
            })
            .collect();
        let role = self.definition.execution_role_arn.clone();
        let logs = if role.is_some() {
            self.log_streams()
        } else {
            Vec::new()
        };
        if logs.is_empty()
            && wanted
                .iter()
                .all(|(env, reg)| env.is_empty() && reg.is_none())
        {
            return Ok(Resolved {
                env: vec![Vec::new(); wanted.len()],
                registry: vec![None; wanted.len()],
            });
        }
        let source = self.shared.secret_source();
        let task_id = self.identity.task_id.clone();
        let read = move || {
            let reader = SecretReader {
                task_id: &task_id,
                execution_role_arn: role.as_deref(),
            };
            let one = |value_from: &str| match &source {
                Some(source) => source.resolve(&reader, value_from),
                None => Err(format!(
                    "execution resource retrieval failed: this host has no secret store to \
                     read {value_from} from"
                )),
            };
            // The awslogs driver writes as the execution role too.
            if let Some(source) = &source {
                for (i, stream) in logs {
                    for action in ["logs:CreateLogStream", "logs:PutLogEvents"] {
                        source
                            .authorize(&reader, action, &stream)
                            .map_err(|denied| (i, format!("{LOGGER_ERROR}: {denied}")))?;
                    }
                }
            }
            let mut out = Resolved::default();
            for (i, (secrets, registry)) in wanted.into_iter().enumerate() {
                let fail = |reason: String| (i, format!("{INIT_ERROR}: {reason}"));
                let mut env = Vec::with_capacity(secrets.len());
                for (name, value_from) in secrets {
                    let value = one(&value_from).map_err(fail)?;
                    if let Some(name) = name {
                        env.push((name, value));
                    }
                }
                out.env.push(env);
                out.registry
                    .push(registry.map(|arn| one(&arn)).transpose().map_err(fail)?);
            }
            Ok(out)
        };
        match tokio::task::spawn_blocking(read).await {
            Ok(result) => result,
            Err(e) => Err((0, format!("{INIT_ERROR}: the secret reader failed: {e}"))),
        }
    }
}

impl Driver {
    /// The ARN of each awslogs container's log stream, by container place.
    fn log_streams(&self) -> Vec<(usize, String)> {
        let api = &self.shared.config.api;
        self.plans
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let cfg = p.def.log_configuration.as_ref()?;
                let dest = crate::logs::LogDestination::awslogs(
                    &cfg.options,
                    &p.def.name,
                    &self.identity.task_id,
                )
                .ok()?;
                let region = cfg.options.get("awslogs-region").unwrap_or(&api.region);
                Some((
                    i,
                    format!(
                        "arn:aws:logs:{region}:{}:log-group:{}:log-stream:{}",
                        api.account_id, dest.group, dest.stream
                    ),
                ))
            })
            .collect()
    }
}
