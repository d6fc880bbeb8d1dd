//! RunTask: check every member, resolve what it names, then start the tasks.

use super::EcsService;
use super::capacity;
use super::error::{ControlError, Result};
use super::input::{self, TagIn};
use super::live::{self, LiveTask};
use super::overrides::{OverridesIn, apply_overrides};
use super::shape::{NetworkConfig, PLATFORM_VERSION, TaskMeta};
use super::taskdefs::{self, ACTIVE};
use super::tokens::RunOutcome;
use crate::runtime::{StartError, StopCode, TaskIdentity, TaskSpec};
use crate::taskdef::{self, TaskDefError, TaskDefinition};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::sync::atomic::Ordering;

const MAX_COUNT: i32 = 10;
pub(super) const LAUNCH_TYPES: &[&str] = &["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RunRequest {
    task_definition: String,
    cluster: Option<String>,
    count: Option<i32>,
    launch_type: Option<String>,
    network_configuration: Option<NetworkIn>,
    overrides: Option<OverridesIn>,
    started_by: Option<String>,
    group: Option<String>,
    tags: Option<Vec<TagIn>>,
    propagate_tags: Option<String>,
    platform_version: Option<String>,
    enable_execute_command: Option<bool>,
    #[serde(rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: Option<bool>,
    client_token: Option<String>,
    capacity_provider_strategy: Option<Vec<capacity::ItemIn>>,
    placement_constraints: Option<Vec<Map<String, Value>>>,
    placement_strategy: Option<Vec<Map<String, Value>>>,
    volume_configurations: Option<Vec<Map<String, Value>>>,
}

/// ECS `NetworkConfiguration` (RunTask, CreateService, UpdateService); a service keeps
/// it serialized.
#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase", expecting = "an object")]
pub(super) struct NetworkIn {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awsvpc_configuration: Option<AwsVpcIn>,
}

#[derive(Deserialize, Serialize)]
#[serde(rename_all = "camelCase", expecting = "an object")]
pub(super) struct AwsVpcIn {
    pub subnets: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub security_groups: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assign_public_ip: Option<String>,
}

/// Everything RunTask decided before starting anything.
struct RunPlan {
    cluster: String,
    family: String,
    revision: u32,
    /// The definition with the request's overrides already applied.
    definition: TaskDefinition,
    overrides_json: Value,
    count: usize,
    started_by: Option<String>,
    group: String,
    tags: Vec<(String, String)>,
    network: Option<NetworkConfig>,
    /// `capacityProviderStrategy`, checked; None: the FARGATE launch type.
    capacity: Option<Vec<capacity::Item>>,
    /// The service whose scheduler starts the tasks ([`Starter::service`]).
    service: Option<String>,
}

/// Who asks for tasks beyond the request itself: RunTask's caller ([`Starter::default`])
/// or the service scheduler, which alone may say a task belongs to a service.
#[derive(Default, Clone)]
pub(super) struct Starter {
    /// Tags the tasks also get (propagated service tags, `aws:` managed tags, which a
    /// request may not carry); the request's own win for the same key.
    pub extra_tags: Vec<(String, String)>,
    /// The service starting the tasks. Never read from the request: a RunTask `group` of
    /// `service:X` is a label, and the task's service identity (its metadata's
    /// `ServiceName`, `wasmgate:DestinationService`, network rules' `service`) must not
    /// be claimable by any caller.
    pub service: Option<String>,
}

/// ECS's managed tag naming a task's cluster (`enableECSManagedTags`).
pub(super) const MANAGED_CLUSTER_TAG: &str = "aws:ecs:clusterName";

impl EcsService {
    pub(super) async fn run_task(&self, body: Value) -> Result<Value> {
        self.run_task_as(body, Starter::default()).await
    }

    /// RunTask on behalf of `starter` (the service scheduler's tasks).
    pub(super) async fn run_task_as(&self, body: Value, starter: Starter) -> Result<Value> {
        // The request without its token, to tell a retry from a reuse of the token.
        let fingerprint = match &body {
            Value::Object(o) => {
                let mut o = o.clone();
                o.remove("clientToken");
                Value::Object(o).to_string()
            }
            other => other.to_string(),
        };
        let r: RunRequest = input::parse(body)?;
        if self.shutting_down.load(Ordering::SeqCst) {
            return Err(ControlError::client(
                "This host is shutting down and starts no new tasks.",
            ));
        }
        let token = r.client_token.clone();
        if let Some(t) = &token
            && (t.is_empty() || t.len() > 64 || !t.bytes().all(|b| (33..=126).contains(&b)))
        {
            return Err(ControlError::invalid(
                "clientToken: must be 1 to 64 characters in the ASCII range 33-126",
            ));
        }
        let plan = self.plan_run(r, starter).await?;
        let outcome = match &token {
            Some(t) => {
                self.tokens
                    .once(t, fingerprint, || self.start_tasks(&plan))
                    .await?
            }
            None => self.start_tasks(&plan).await?,
        };
        let tasks = self.current_tasks(&outcome.task_ids, true).await?;
        Ok(json!({ "tasks": tasks, "failures": outcome.failures }))
    }

    /// Checks every member of a RunTask and resolves what it names; nothing is changed.
    async fn plan_run(&self, r: RunRequest, starter: Starter) -> Result<RunPlan> {
        let count = r.count.unwrap_or(1);
        if !(1..=MAX_COUNT).contains(&count) {
            return Err(ControlError::invalid(format!(
                "count: {count} is out of range; must be between 1 and {MAX_COUNT}"
            )));
        }
        let capacity = capacity::strategy(r.launch_type.as_deref(), r.capacity_provider_strategy)?;
        if let Some(lt) = &r.launch_type
            && input::one_of("launchType", lt, LAUNCH_TYPES)? != "FARGATE"
        {
            return Err(ControlError::invalid(format!(
                "launchType: {lt} is not supported; wasmgate runs FARGATE tasks"
            )));
        }
        for (member, list) in [
            ("placementConstraints", &r.placement_constraints),
            ("placementStrategy", &r.placement_strategy),
            ("volumeConfigurations", &r.volume_configurations),
        ] {
            if list.as_ref().is_some_and(|l| !l.is_empty()) {
                return Err(ControlError::invalid(format!(
                    "{member}: is not supported for Fargate tasks on wasmgate"
                )));
            }
        }
        match r.platform_version.as_deref() {
            None | Some("LATEST" | PLATFORM_VERSION) => {}
            Some(v) => {
                return Err(ControlError::PlatformUnknown(format!(
                    "The specified platform version {v:?} doesn't exist; wasmgate offers LATEST ({PLATFORM_VERSION})."
                )));
            }
        }
        if r.enable_execute_command == Some(true) {
            return Err(ControlError::invalid(
                "enableExecuteCommand: ECS Exec is not supported by wasmgate",
            ));
        }
        if let Some(s) = &r.started_by
            && (s.is_empty()
                || s.len() > 128
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_/".contains(&b)))
        {
            return Err(ControlError::invalid(
                "startedBy: must be 1 to 128 letters, numbers, hyphens, forward slashes and underscores",
            ));
        }
        if let Some(g) = &r.group
            && (g.is_empty() || g.chars().count() > 255 || g.chars().any(char::is_control))
        {
            return Err(ControlError::invalid(
                "group: must be 1 to 255 characters, without control characters",
            ));
        }
        let network = match r.network_configuration {
            None => None,
            Some(n) => Some(network(n)?),
        };
        let mut tags = input::tags("tags", r.tags.as_deref().unwrap_or_default())?;
        let propagate = match r.propagate_tags.as_deref() {
            None => "NONE",
            Some(p) => input::one_of("propagateTags", p, &["TASK_DEFINITION", "SERVICE", "NONE"])?,
        };
        if propagate == "SERVICE" {
            return Err(ControlError::invalid(
                "propagateTags: SERVICE applies only to tasks a service starts",
            ));
        }

        let cluster = self.active_cluster("cluster", r.cluster.as_deref()).await?;
        let record = self
            .find_task_definition("taskDefinition", &r.task_definition)
            .await?
            .ok_or_else(|| ControlError::client("TaskDefinition not found."))?;
        if record.status != ACTIVE {
            return Err(ControlError::client("TaskDefinition is inactive"));
        }
        let mut definition = taskdefs::model(&record)?;
        let overrides_in = r.overrides.unwrap_or_default();
        apply_overrides(&mut definition, &overrides_in)?;
        // Checked here so that a bad override is refused before anything starts.
        if let Err(e) = taskdef::validate(&definition, &self.runtime.validation_options()) {
            return Err(taskdefs::rules_error(
                e.field_errors(),
                Some(u64::from(definition.cpu)),
                definition.memory,
            ));
        }
        if let Some(role) = &definition.task_role_arn {
            self.runtime
                .check_task_role(role)
                .map_err(ControlError::client)?;
        }
        let mut overrides_json = serde_json::to_value(&overrides_in)
            .map_err(|e| ControlError::Internal(format!("cannot echo the overrides: {e}")))?;
        if let Some(o) = overrides_json.as_object_mut() {
            for key in ["containerOverrides", "inferenceAcceleratorOverrides"] {
                if o.get(key).is_none_or(Value::is_null) {
                    o.insert(key.into(), json!([]));
                }
            }
        }

        if propagate == "TASK_DEFINITION" {
            let arn = self
                .core
                .arns
                .task_definition(&record.family, record.revision);
            let inherited = self.core.db(move |s| s.tags(&arn)).await?;
            for (k, v) in inherited {
                if !tags.iter().any(|(tk, _)| *tk == k) {
                    tags.push((k, v));
                }
            }
            input::check_tag_pairs("tags", &tags)?;
        }
        let mut extra = starter.extra_tags;
        if r.enable_ecs_managed_tags == Some(true) {
            extra.push((MANAGED_CLUSTER_TAG.to_owned(), cluster.name.clone()));
        }
        for (k, v) in extra {
            if !tags.iter().any(|(tk, _)| *tk == k) {
                tags.push((k, v));
            }
        }

        Ok(RunPlan {
            group: r
                .group
                .unwrap_or_else(|| format!("family:{}", record.family)),
            cluster: cluster.name,
            family: record.family,
            revision: record.revision,
            definition,
            overrides_json,
            count: usize::try_from(count).unwrap_or(1),
            started_by: r.started_by,
            tags,
            network,
            capacity,
            service: starter.service,
        })
    }

    /// Starts the planned tasks. The first start failing refuses the request (nothing
    /// started); a later one is reported in `failures`.
    async fn start_tasks(&self, plan: &RunPlan) -> Result<RunOutcome> {
        let mut outcome = RunOutcome {
            task_ids: Vec::new(),
            failures: Vec::new(),
        };
        for index in 0..plan.count {
            // The id, and the containers' ids, are chosen here so that the task's metadata
            // shows the ARNs DescribeTasks will.
            let task_id = uuid::Uuid::new_v4().simple().to_string();
            let container_ids: Vec<String> = plan
                .definition
                .container_definitions
                .iter()
                .map(|_| uuid::Uuid::new_v4().to_string())
                .collect();
            let spec = TaskSpec {
                definition: plan.definition.clone(),
                base_dir: self.base_dir.clone(),
                overrides: Vec::new(),
                stop_timeout: None,
                console: None,
                identity: Some(self.identity(plan, &task_id, &container_ids)),
            };
            let handle = match self.runtime.start_task(spec) {
                Ok(h) => h,
                // A full host is ECS's placement failure, not an error, however many started.
                Err(StartError::Capacity(short)) => {
                    outcome.failures.push(capacity_failure(
                        &self.core.arns.cluster(&plan.cluster),
                        &short,
                    ));
                    continue;
                }
                Err(e) if outcome.task_ids.is_empty() => return Err(start_error(e)),
                Err(e) => {
                    outcome.failures.push(json!({
                        "arn": self.core.arns.task_definition(&plan.family, plan.revision),
                        "reason": start_error(e).to_string(),
                    }));
                    continue;
                }
            };
            let task_id = handle.id().to_owned();
            let meta = TaskMeta {
                task_id: task_id.clone(),
                cluster: plan.cluster.clone(),
                family: plan.family.clone(),
                revision: plan.revision,
                started_by: plan.started_by.clone(),
                group: plan.group.clone(),
                service: plan.service.clone(),
                overrides: plan.overrides_json.clone(),
                container_ids,
                ephemeral_storage_gib: plan.definition.ephemeral_storage_gib(),
                network: plan.network.clone(),
                capacity_provider_name: plan.capacity.as_deref().map(|c| {
                    capacity::provider_for(c, u32::try_from(index).unwrap_or(0)).to_owned()
                }),
            };
            if !plan.tags.is_empty() {
                let arn = self.core.arns.task(&plan.cluster, &task_id);
                let tags = plan.tags.clone();
                if let Err(e) = self.core.db(move |s| s.tag(&arn, &tags)).await {
                    handle.stop(StopCode::TaskFailedToStart, format!("Host error: {e}"));
                    return Err(e);
                }
            }
            let task = Arc::new(LiveTask::new(meta, handle));
            self.core.live().insert(task_id.clone(), task.clone());
            live::spawn_watcher(self.core.clone(), task.clone());
            live::persist(&self.core, &task, live::Durability::Acknowledged).await?;
            outcome.task_ids.push(task_id);
        }
        Ok(outcome)
    }
}

impl EcsService {
    /// What a task of `plan` is in ECS terms, for its metadata endpoint.
    fn identity(&self, plan: &RunPlan, task_id: &str, container_ids: &[String]) -> TaskIdentity {
        let arns = &self.core.arns;
        TaskIdentity {
            task_id: task_id.to_owned(),
            cluster_arn: arns.cluster(&plan.cluster),
            task_arn: arns.task(&plan.cluster, task_id),
            revision: plan.revision.to_string(),
            service_name: plan.service.clone(),
            group: Some(plan.group.clone()),
            availability_zone: format!("{}a", arns.region()),
            tags: plan.tags.clone(),
            container_arns: container_ids
                .iter()
                .map(|id| arns.container(&plan.cluster, task_id, id))
                .collect(),
        }
    }
}

pub(super) fn network(n: NetworkIn) -> Result<NetworkConfig> {
    let Some(vpc) = n.awsvpc_configuration else {
        return Err(ControlError::invalid(
            "networkConfiguration.awsvpcConfiguration: is required",
        ));
    };
    const PATH: &str = "networkConfiguration.awsvpcConfiguration";
    if vpc.subnets.is_empty() || vpc.subnets.len() > 16 {
        return Err(ControlError::invalid(format!(
            "{PATH}.subnets: must hold 1 to 16 subnets"
        )));
    }
    if vpc.subnets.iter().any(String::is_empty) {
        return Err(ControlError::invalid(format!(
            "{PATH}.subnets: a subnet id must not be empty"
        )));
    }
    let security_groups = vpc.security_groups.unwrap_or_default();
    if security_groups.len() > 5 {
        return Err(ControlError::invalid(format!(
            "{PATH}.securityGroups: at most 5 security groups are allowed"
        )));
    }
    if let Some(p) = &vpc.assign_public_ip {
        input::one_of(
            &format!("{PATH}.assignPublicIp"),
            p,
            &["ENABLED", "DISABLED"],
        )?;
    }
    Ok(NetworkConfig {
        subnets: vpc.subnets,
        security_groups,
        assign_public_ip: vpc.assign_public_ip,
    })
}

fn start_error(e: StartError) -> ControlError {
    match e {
        // The size was checked before starting: no ECS sentence here.
        StartError::Invalid(errors) | StartError::Definition(TaskDefError::Invalid(errors)) => {
            taskdefs::rules_error(&errors, Some(0), 0)
        }
        StartError::Definition(err) => ControlError::client(err.to_string()),
        StartError::Capacity(short) => ControlError::client(format!("{short}: {}", short.detail())),
    }
}

/// ECS's `Failure` for a task the host has no room for: `RESOURCE:CPU` / `RESOURCE:MEMORY`,
/// on the cluster (this host is its one container instance), the limit in `detail`.
fn capacity_failure(cluster_arn: &str, short: &crate::runtime::capacity::Shortage) -> Value {
    json!({ "arn": cluster_arn, "reason": short.to_string(), "detail": short.detail() })
}
