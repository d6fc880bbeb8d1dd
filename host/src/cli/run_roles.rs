//! `wasmgate run`'s roles and secrets (issue 13 item 8): a definition with a `taskRoleArn`
//! or container `secrets` (or `repositoryCredentials` naming a Secrets Manager ARN) is served from the data directory's state, the same that `serve`
//! keeps: its IAM roles (the task role must exist and trust `ecs-tasks.amazonaws.com`; the
//! execution role's policies are enforced), its STS sessions, its SSM parameters and
//! Secrets Manager secrets (sealed with the data directory's key).

use anyhow::Context;
use std::sync::Arc;
use wasmgate::config::HostConfig;
use wasmgate::iam::store::IamStore;
use wasmgate::runtime::Runtime;
use wasmgate::secrets::{ExecutionRoleSecrets, HostKey, Vault};
use wasmgate::state::StateStore;
use wasmgate::state::sqlite::SqliteStateStore;
use wasmgate::sts::{Sessions, TaskRoleCredentials};
use wasmgate::taskdef::TaskDefinition;

/// Opens the data directory's state and gives `runtime` what `definition` needs; nothing
/// is opened for a definition without a role or secrets. The error is the refusal to run
/// (the role cannot be assumed, the state cannot be read).
pub fn wire(
    config: &HostConfig,
    runtime: &Runtime,
    definition: &TaskDefinition,
    role_from_iam: bool,
) -> anyhow::Result<()> {
    let has_secrets = definition.container_definitions.iter().any(|c| {
        !c.secrets.is_empty()
            || c.repository_credentials
                .as_ref()
                .is_some_and(|r| r.credentials_parameter.starts_with("arn:"))
    });
    let task_role = definition.task_role_arn.as_ref().filter(|_| role_from_iam);
    if task_role.is_none() && !has_secrets {
        return Ok(());
    }
    let data_dir = config.data_dir();
    let path = data_dir.join("state.db");
    let state: Arc<dyn StateStore> = Arc::new(
        SqliteStateStore::open(&path)
            .with_context(|| format!("cannot open the state store {}", path.display()))?,
    );
    let (region, account) = (&config.api.region, &config.api.account_id);
    let iam = Arc::new(
        IamStore::new(state.clone(), account, region).context("cannot load the IAM state")?,
    );
    if has_secrets {
        let key = HostKey::load_or_create(&data_dir).context("cannot open the secrets key")?;
        let vault = Vault::new(state.clone(), Arc::new(key), region, account);
        runtime.set_secret_source(Arc::new(ExecutionRoleSecrets::new(
            vault,
            Some(iam.clone()),
        )));
    }
    if let Some(role) = task_role {
        let sessions = Arc::new(
            Sessions::open(state, time::OffsetDateTime::now_utc())
                .context("cannot load the STS sessions")?,
        );
        runtime.set_credentials_provider(Arc::new(TaskRoleCredentials::for_run(iam, sessions)));
        runtime
            .check_task_role(role)
            .map_err(|why| anyhow::anyhow!("taskRoleArn: {why}"))?;
    }
    Ok(())
}
