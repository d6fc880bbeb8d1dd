//! ECS services: CreateService, UpdateService, DeleteService, DescribeServices and
//! ListServices, over a [`ServiceState`] kept in the state store, and the scheduler
//! (`scheduler`) that keeps each service's tasks at its desired count and rolls out its
//! deployments. Load balancer calls go through `targets` only.

mod model;
mod scheduler;
mod targets;

#[cfg(test)]
mod tests;

pub(crate) use scheduler::{Services, run};

use super::EcsService;
use super::capacity;
use super::error::{ControlError, Result};
use super::input::{self, TagIn};
use super::page::{self, Order};
use super::run::NetworkIn;
use super::taskdefs::{ACTIVE, with_token};
use crate::state::ServiceRecord;
use crate::taskdef::TaskDefinition;
use crate::util::time::now_ms;
use model::{
    Breaker, DeployConfig, Deployment, LoadBalancer, PropagateTags, ServiceState, ServiceStatus,
    deployment_id,
};
use serde::Deserialize;
use serde_json::{Value, json};

/// The statuses of a stored service record (its [`ServiceStatus`] as text).
pub(crate) const DRAINING: &str = "DRAINING";
pub(crate) const INACTIVE: &str = "INACTIVE";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRequest {
    service_name: String,
    cluster: Option<String>,
    task_definition: Option<String>,
    desired_count: Option<i32>,
    launch_type: Option<String>,
    capacity_provider_strategy: Option<Vec<capacity::ItemIn>>,
    scheduling_strategy: Option<String>,
    network_configuration: Option<NetworkIn>,
    deployment_configuration: Option<DeployConfigIn>,
    load_balancers: Option<Vec<LoadBalancerIn>>,
    health_check_grace_period_seconds: Option<i32>,
    tags: Option<Vec<TagIn>>,
    propagate_tags: Option<String>,
    #[serde(rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: Option<bool>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UpdateRequest {
    service: String,
    cluster: Option<String>,
    task_definition: Option<String>,
    desired_count: Option<i32>,
    force_new_deployment: Option<bool>,
    network_configuration: Option<NetworkIn>,
    deployment_configuration: Option<DeployConfigIn>,
    load_balancers: Option<Vec<LoadBalancerIn>>,
    health_check_grace_period_seconds: Option<i32>,
    propagate_tags: Option<String>,
    #[serde(rename = "enableECSManagedTags")]
    enable_ecs_managed_tags: Option<bool>,
}

/// ECS `LoadBalancer` as requests carry it; classic load balancers (`loadBalancerName`)
/// are refused for want of `targetGroupArn`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an object")]
struct LoadBalancerIn {
    target_group_arn: Option<String>,
    container_name: Option<String>,
    container_port: Option<i32>,
}

fn to_model(given: Vec<LoadBalancerIn>) -> Vec<LoadBalancer> {
    given
        .into_iter()
        .map(|lb| LoadBalancer {
            target_group_arn: lb.target_group_arn,
            container_name: lb.container_name,
            container_port: lb.container_port.map(i64::from),
        })
        .collect()
}

/// `propagateTags` checked; None when not given (CreateService and UpdateService).
fn propagate(given: Option<&str>) -> Result<Option<PropagateTags>> {
    given
        .map(|p| {
            Ok(
                match input::one_of("propagateTags", p, &["TASK_DEFINITION", "SERVICE", "NONE"])? {
                    "TASK_DEFINITION" => PropagateTags::TaskDefinition,
                    "SERVICE" => PropagateTags::Service,
                    _ => PropagateTags::None,
                },
            )
        })
        .transpose()
}

#[derive(Deserialize)]
struct DeleteRequest {
    service: String,
    cluster: Option<String>,
    force: Option<bool>,
}

#[derive(Deserialize)]
struct DescribeRequest {
    services: Vec<String>,
    cluster: Option<String>,
    include: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListRequest {
    cluster: Option<String>,
    launch_type: Option<String>,
    scheduling_strategy: Option<String>,
    max_results: Option<i32>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an object")]
struct DeployConfigIn {
    maximum_percent: Option<i32>,
    minimum_healthy_percent: Option<i32>,
    deployment_circuit_breaker: Option<Breaker>,
}

fn desired_count(n: i32) -> Result<u32> {
    u32::try_from(n)
        .ok()
        .filter(|n| *n <= 10_000)
        .ok_or_else(|| ControlError::invalid("desiredCount: must be between 0 and 10000"))
}

fn deploy_config(base: DeployConfig, given: Option<DeployConfigIn>) -> Result<DeployConfig> {
    let Some(given) = given else {
        return Ok(base);
    };
    let mut out = base;
    if let Some(max) = given.maximum_percent {
        out.maximum_percent = u32::try_from(max)
            .ok()
            .filter(|m| (100..=200).contains(m))
            .ok_or_else(|| {
                ControlError::invalid(
                    "deploymentConfiguration.maximumPercent: must be between 100 and 200",
                )
            })?;
    }
    if let Some(min) = given.minimum_healthy_percent {
        out.minimum_healthy_percent =
            u32::try_from(min)
                .ok()
                .filter(|m| *m <= 100)
                .ok_or_else(|| {
                    ControlError::invalid(
                        "deploymentConfiguration.minimumHealthyPercent: must be between 0 and 100",
                    )
                })?;
    }
    if let Some(b) = given.deployment_circuit_breaker {
        out.deployment_circuit_breaker = b;
    }
    Ok(out)
}

/// The service's `networkConfiguration`, checked by the rules RunTask applies to the
/// tasks the service will start, and kept as the JSON those tasks are started with.
fn network(given: Option<NetworkIn>) -> Result<Option<Value>> {
    let Some(n) = given else { return Ok(None) };
    let v = serde_json::to_value(&n)
        .map_err(|e| ControlError::Internal(format!("cannot keep the network: {e}")))?;
    super::run::network(n)?;
    Ok(Some(v))
}

impl EcsService {
    /// The task definition a service names, as `family:revision` of an ACTIVE revision,
    /// and its model.
    async fn service_task_definition(&self, reference: &str) -> Result<(String, TaskDefinition)> {
        let record = self
            .find_task_definition("taskDefinition", reference)
            .await?
            .ok_or_else(|| ControlError::client("TaskDefinition not found."))?;
        if record.status != ACTIVE {
            return Err(ControlError::client("TaskDefinition is inactive"));
        }
        let model = super::taskdefs::model(&record)?;
        if let Some(role) = &model.task_role_arn {
            self.runtime
                .check_task_role(role)
                .map_err(ControlError::client)?;
        }
        Ok((format!("{}:{}", record.family, record.revision), model))
    }

    /// The model of the `family:revision` a service runs (any status: it was ACTIVE
    /// when the service took it).
    async fn current_task_definition(&self, td: &str) -> Result<TaskDefinition> {
        let record = self
            .find_task_definition("taskDefinition", td)
            .await?
            .ok_or_else(|| {
                ControlError::Internal(format!("the service's task definition {td} is gone"))
            })?;
        super::taskdefs::model(&record)
    }

    fn check_load_balancers(&self, lbs: &[LoadBalancerIn]) -> Result<()> {
        for (i, lb) in lbs.iter().enumerate() {
            let Some(tg) = &lb.target_group_arn else {
                return Err(ControlError::invalid(format!(
                    "loadBalancers[{i}].targetGroupArn: is required (classic load balancers are not supported)"
                )));
            };
            if lb.container_name.as_deref().is_none_or(str::is_empty) {
                return Err(ControlError::invalid(format!(
                    "loadBalancers[{i}].containerName: is required"
                )));
            }
            if lb.container_port.is_none_or(|p| !(1..=65535).contains(&p)) {
                return Err(ControlError::invalid(format!(
                    "loadBalancers[{i}].containerPort: must be between 1 and 65535"
                )));
            }
            self.services.targets.check(tg).map_err(|why| {
                ControlError::invalid(format!("loadBalancers[{i}].targetGroupArn: {why}"))
            })?;
        }
        Ok(())
    }

    /// As ECS: each `loadBalancers[]` entry must name a container of the task definition
    /// and one of that container's `portMappings`; otherwise every task would be
    /// registered at a port nothing listens on, fail its health checks and be replaced,
    /// forever.
    fn check_load_balancer_targets(
        lbs: &[LoadBalancer],
        td: &str,
        def: &TaskDefinition,
    ) -> Result<()> {
        for (i, lb) in lbs.iter().enumerate() {
            let name = lb.container_name.as_deref().unwrap_or_default();
            let Some(container) = def.container(name) else {
                return Err(ControlError::invalid(format!(
                    "loadBalancers[{i}].containerName: The container {name} does not exist in the task definition {td}."
                )));
            };
            let port = lb.container_port.unwrap_or_default();
            if !container
                .port_mappings
                .iter()
                .any(|m| i64::from(m.container_port) == port)
            {
                let mapped: Vec<String> = container
                    .port_mappings
                    .iter()
                    .map(|m| m.container_port.to_string())
                    .collect();
                let mapped = if mapped.is_empty() {
                    "it has no portMappings".to_owned()
                } else {
                    format!("its portMappings: {}", mapped.join(", "))
                };
                return Err(ControlError::invalid(format!(
                    "loadBalancers[{i}].containerPort: The container {name} did not have a container port {port} defined ({mapped})."
                )));
            }
        }
        Ok(())
    }

    /// The service a `service`/`services[]` member names in `cluster`: its name, or None
    /// when the reference cannot name a service there.
    fn service_name(&self, cluster: &str, reference: &str) -> Option<String> {
        if let Some(rest) = reference.strip_prefix("arn:") {
            let (_, resource) = rest.split_once(":service/")?;
            let name = match resource.split_once('/') {
                Some((c, n)) if c == cluster => n,
                Some(_) => return None,
                None => resource,
            };
            return (self.core.arns.service(cluster, name) == reference
                || reference.ends_with(&format!(":service/{name}")))
            .then(|| name.to_owned())
            .filter(|n| input::is_valid_name(n));
        }
        input::is_valid_name(reference).then(|| reference.to_owned())
    }

    async fn load_service(&self, cluster: &str, reference: &str) -> Result<ServiceState> {
        let name = self
            .service_name(cluster, reference)
            .ok_or(ControlError::ServiceNotFound)?;
        let c = cluster.to_owned();
        let record = self
            .core
            .db(move |s| s.get_service(&c, &name))
            .await?
            .ok_or(ControlError::ServiceNotFound)?;
        ServiceState::from_record(&record)
    }

    /// Whether a service of that name exists in the cluster (any status).
    pub(super) async fn service_exists(&self, cluster: &str, name: &str) -> Result<bool> {
        let (c, n) = (cluster.to_owned(), name.to_owned());
        Ok(self
            .core
            .db(move |s| s.get_service(&c, &n))
            .await?
            .is_some())
    }

    pub(super) async fn save_service(&self, svc: &ServiceState) -> Result<()> {
        let record: ServiceRecord = svc.to_record()?;
        self.core.db(move |s| s.put_service(&record)).await
    }

    pub(super) async fn create_service(&self, body: Value) -> Result<Value> {
        let r: CreateRequest = input::parse(body)?;
        if !input::is_valid_name(&r.service_name) {
            return Err(ControlError::invalid(format!(
                "serviceName: {}",
                input::NAME_RULE
            )));
        }
        let capacity = capacity::strategy(r.launch_type.as_deref(), r.capacity_provider_strategy)?;
        if let Some(lt) = &r.launch_type
            && input::one_of("launchType", lt, super::run::LAUNCH_TYPES)? != "FARGATE"
        {
            return Err(ControlError::invalid(format!(
                "launchType: {lt} is not supported; wasmgate runs FARGATE tasks"
            )));
        }
        if let Some(s) = &r.scheduling_strategy
            && input::one_of("schedulingStrategy", s, &["REPLICA", "DAEMON"])? != "REPLICA"
        {
            return Err(ControlError::invalid(
                "schedulingStrategy: DAEMON is not supported for Fargate services",
            ));
        }
        let desired = desired_count(r.desired_count.ok_or_else(|| {
            ControlError::invalid("desiredCount: is required for REPLICA services")
        })?)?;
        let Some(td) = r.task_definition.as_deref() else {
            return Err(ControlError::invalid("taskDefinition: is required"));
        };
        let config = deploy_config(DeployConfig::default(), r.deployment_configuration)?;
        let network = network(r.network_configuration)?;
        let load_balancers = r.load_balancers.unwrap_or_default();
        self.check_load_balancers(&load_balancers)?;
        let load_balancers = to_model(load_balancers);
        let tags = input::tags("tags", r.tags.as_deref().unwrap_or_default())?;
        let propagate = propagate(r.propagate_tags.as_deref())?.unwrap_or_default();
        let managed_tags = r.enable_ecs_managed_tags.unwrap_or(false);
        let cluster = self.active_cluster("cluster", r.cluster.as_deref()).await?;
        let (task_definition, model) = self.service_task_definition(td).await?;
        Self::check_load_balancer_targets(&load_balancers, &task_definition, &model)?;

        let _guard = self.services.lock.lock().await;
        let (c, n) = (cluster.name.clone(), r.service_name.clone());
        let existing = self.core.db(move |s| s.get_service(&c, &n)).await?;
        if existing.as_ref().is_some_and(|e| e.status != INACTIVE) {
            return Err(ControlError::invalid(
                "Creation of service was not idempotent.",
            ));
        }
        let now = now_ms();
        let mut svc = ServiceState {
            service_name: r.service_name,
            cluster: cluster.name,
            status: ServiceStatus::Active,
            desired_count: desired,
            task_definition: task_definition.clone(),
            created_at_ms: now,
            deployment_configuration: config,
            network_configuration: network,
            load_balancers,
            health_check_grace_period_seconds: r.health_check_grace_period_seconds.map(i64::from),
            deployments: vec![Deployment::new(
                deployment_id(),
                &task_definition,
                desired,
                now,
            )],
            events: Vec::new(),
            last_good: None,
            steady: false,
            propagate_tags: propagate,
            enable_ecs_managed_tags: managed_tags,
            capacity_provider_strategy: capacity,
        };
        // A service made again under the name of an INACTIVE one starts without its tags.
        let arn = self.core.arns.service(&svc.cluster, &svc.service_name);
        let replaces = existing.is_some();
        let stored = tags.clone();
        self.core
            .db(move |s| {
                if replaces {
                    let old: Vec<String> = s.tags(&arn)?.into_iter().map(|(k, _)| k).collect();
                    if !old.is_empty() {
                        s.untag(&arn, &old)?;
                    }
                }
                if !stored.is_empty() {
                    s.tag(&arn, &stored)?;
                }
                Ok(())
            })
            .await?;
        svc.updated(now);
        self.save_service(&svc).await?;
        self.services.wake.notify_one();
        let mut shape = svc.to_json(&self.core.arns);
        if let (false, Some(o)) = (tags.is_empty(), shape.as_object_mut()) {
            o.insert("tags".into(), input::tags_json(&tags));
        }
        Ok(json!({ "service": shape }))
    }

    pub(super) async fn update_service(&self, body: Value) -> Result<Value> {
        let r: UpdateRequest = input::parse(body)?;
        let desired = r.desired_count.map(desired_count).transpose()?;
        let network = network(r.network_configuration)?;
        if let Some(lbs) = &r.load_balancers {
            self.check_load_balancers(lbs)?;
        }
        let new_lbs = r.load_balancers.map(to_model);
        let cluster = self.active_cluster("cluster", r.cluster.as_deref()).await?;
        let propagate = propagate(r.propagate_tags.as_deref())?;
        let task_definition = match r.task_definition.as_deref() {
            Some(td) => Some(self.service_task_definition(td).await?),
            None => None,
        };
        let mut sched = self.services.lock.lock().await;
        let mut svc = self.load_service(&cluster.name, &r.service).await?;
        if svc.status != ServiceStatus::Active {
            return Err(ControlError::ServiceNotActive);
        }
        // The load balancers the service will have, against the definition it will run.
        if new_lbs.is_some() || task_definition.is_some() {
            let lbs = new_lbs.as_ref().unwrap_or(&svc.load_balancers);
            match &task_definition {
                Some((td, model)) => Self::check_load_balancer_targets(lbs, td, model)?,
                None => {
                    let model = self.current_task_definition(&svc.task_definition).await?;
                    Self::check_load_balancer_targets(lbs, &svc.task_definition, &model)?;
                }
            }
        }
        let task_definition = task_definition.map(|(td, _)| td);
        if let Some(p) = propagate {
            svc.propagate_tags = p;
        }
        if let Some(m) = r.enable_ecs_managed_tags {
            svc.enable_ecs_managed_tags = m;
        }
        let now = now_ms();
        svc.deployment_configuration = deploy_config(
            svc.deployment_configuration.clone(),
            r.deployment_configuration,
        )?;
        if let Some(n) = network {
            svc.network_configuration = Some(n);
        }
        if let Some(lbs) = new_lbs {
            svc.load_balancers = lbs;
        }
        if let Some(g) = r.health_check_grace_period_seconds {
            svc.health_check_grace_period_seconds = Some(i64::from(g));
        }
        if let Some(d) = desired {
            svc.desired_count = d;
            if let Some(primary) = svc.deployments.first_mut() {
                primary.desired_count = d;
                primary.updated_at_ms = now;
            }
        }
        let new_td = task_definition.filter(|td| *td != svc.task_definition);
        if new_td.is_some() || r.force_new_deployment == Some(true) {
            let td = new_td.unwrap_or_else(|| svc.task_definition.clone());
            svc.start_deployment(&td, now);
            sched.new_deployment(&svc);
        }
        svc.updated(now);
        self.save_service(&svc).await?;
        self.services.wake.notify_one();
        Ok(json!({ "service": svc.to_json(&self.core.arns) }))
    }

    pub(super) async fn delete_service(&self, body: Value) -> Result<Value> {
        let r: DeleteRequest = input::parse(body)?;
        let cluster = self.any_cluster("cluster", r.cluster.as_deref()).await?;
        let _guard = self.services.lock.lock().await;
        let mut svc = self.load_service(&cluster.name, &r.service).await?;
        if svc.status == ServiceStatus::Inactive {
            return Err(ControlError::ServiceNotActive);
        }
        if svc.status == ServiceStatus::Active {
            if svc.desired_count > 0 && r.force != Some(true) {
                return Err(ControlError::invalid(
                    "The service cannot be stopped while it is scaled above 0.",
                ));
            }
            let now = now_ms();
            svc.status = ServiceStatus::Draining;
            svc.desired_count = 0;
            for d in &mut svc.deployments {
                d.desired_count = 0;
                d.updated_at_ms = now;
            }
            svc.updated(now);
            self.save_service(&svc).await?;
            self.services.wake.notify_one();
        }
        Ok(json!({ "service": svc.to_json(&self.core.arns) }))
    }

    pub(super) async fn describe_services(&self, body: Value) -> Result<Value> {
        let r: DescribeRequest = input::parse(body)?;
        if r.services.is_empty() || r.services.len() > 10 {
            return Err(ControlError::invalid(
                "services: must name 1 to 10 services",
            ));
        }
        let include = r.include.unwrap_or_default();
        for (i, item) in include.iter().enumerate() {
            input::one_of(&format!("include[{i}]"), item, &["TAGS"])?;
        }
        let cluster = self.any_cluster("cluster", r.cluster.as_deref()).await?;
        let mut services = Vec::new();
        let mut failures = Vec::new();
        for reference in &r.services {
            match self.load_service(&cluster.name, reference).await {
                Ok(svc) => {
                    let mut shape = svc.to_json(&self.core.arns);
                    if !include.is_empty() {
                        let arn = self.core.arns.service(&svc.cluster, &svc.service_name);
                        let tags = self.core.db(move |s| s.tags(&arn)).await?;
                        if let Some(o) = shape.as_object_mut() {
                            o.insert("tags".into(), input::tags_json(&tags));
                        }
                    }
                    services.push(shape);
                }
                Err(ControlError::ServiceNotFound) => {
                    let arn = if reference.starts_with("arn:") {
                        reference.clone()
                    } else {
                        self.core.arns.service(&cluster.name, reference)
                    };
                    failures.push(json!({ "arn": arn, "reason": "MISSING" }));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(json!({ "services": services, "failures": failures }))
    }

    pub(super) async fn list_services(&self, body: Value) -> Result<Value> {
        let r: ListRequest = input::parse(body)?;
        let max = match r.max_results {
            None => 10,
            some => input::max_results(some)?,
        };
        let launch_type = match r.launch_type.as_deref() {
            Some(lt) => input::one_of("launchType", lt, super::run::LAUNCH_TYPES)?,
            None => "FARGATE",
        };
        let strategy = match r.scheduling_strategy.as_deref() {
            Some(s) => input::one_of("schedulingStrategy", s, &["REPLICA", "DAEMON"])?,
            None => "REPLICA",
        };
        let cluster = self.active_cluster("cluster", r.cluster.as_deref()).await?;
        let mut names: Vec<String> = if launch_type != "FARGATE" || strategy != "REPLICA" {
            Vec::new()
        } else {
            self.core
                .db(|s| s.list_services(Some(ACTIVE)))
                .await?
                .into_iter()
                .filter(|s| s.cluster == cluster.name)
                .map(|s| s.name)
                .collect()
        };
        names.sort();
        let (page, next) = page::page(
            names,
            Clone::clone,
            Order::Asc,
            "ListServices",
            r.next_token.as_deref(),
            max,
        )?;
        let arns: Vec<String> = page
            .iter()
            .map(|n| self.core.arns.service(&cluster.name, n))
            .collect();
        Ok(with_token(json!({ "serviceArns": arns }), next))
    }
}
