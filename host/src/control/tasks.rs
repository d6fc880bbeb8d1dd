//! StopTask, DescribeTasks, ListTasks (RunTask is in `run`).

use super::EcsService;
use super::arn::TaskRef;
use super::error::{ControlError, Result, TASK_NOT_FOUND};
use super::input;
use super::live;
use super::page::{self, Order};
use super::run::LAUNCH_TYPES;
use super::taskdefs::with_token;
use crate::runtime::StopCode;
use crate::state::{TaskQuery, TaskRecord};
use serde::Deserialize;
use serde_json::{Value, json};

const DESIRED_STATUSES: &[&str] = &["RUNNING", "PENDING", "STOPPED"];
/// `stoppedReason` of a StopTask without a reason.
const DEFAULT_STOP_REASON: &str = "Task stopped by user";

#[derive(Deserialize)]
struct StopRequest {
    task: String,
    cluster: Option<String>,
    reason: Option<String>,
}

#[derive(Deserialize)]
struct DescribeRequest {
    tasks: Vec<String>,
    cluster: Option<String>,
    include: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListRequest {
    cluster: Option<String>,
    container_instance: Option<String>,
    family: Option<String>,
    started_by: Option<String>,
    service_name: Option<String>,
    desired_status: Option<String>,
    launch_type: Option<String>,
    daemon_name: Option<String>,
    max_results: Option<i32>,
    next_token: Option<String>,
}

impl EcsService {
    pub(super) async fn stop_task(&self, body: Value) -> Result<Value> {
        let r: StopRequest = input::parse(body)?;
        let reason = r.reason.unwrap_or_else(|| DEFAULT_STOP_REASON.to_owned());
        if reason.chars().count() > 255 {
            return Err(ControlError::invalid(
                "reason: must be at most 255 characters",
            ));
        }
        let cluster = self.any_cluster("cluster", r.cluster.as_deref()).await?;
        let Some(task_ref) = self.core.arns.task_ref("task", &r.task)? else {
            return Err(ControlError::invalid(TASK_NOT_FOUND));
        };
        if task_ref
            .cluster
            .as_ref()
            .is_some_and(|c| *c != cluster.name)
        {
            return Err(ControlError::invalid(TASK_NOT_FOUND));
        }
        let live = self.core.live().get(&task_ref.id).cloned();
        if let Some(task) = live.filter(|t| t.meta.cluster == cluster.name) {
            task.request_stop(StopCode::UserInitiated, reason);
            let shape = live::persist(&self.core, &task, live::Durability::Acknowledged).await?;
            return Ok(json!({ "task": shape }));
        }
        let id = task_ref.id.clone();
        match self.core.db(move |s| s.get_task(&id)).await? {
            // Already STOPPED (or lost to a restart and recorded so): answered as it is.
            Some(t) if t.cluster == cluster.name => Ok(json!({ "task": t.task })),
            _ => Err(ControlError::invalid(TASK_NOT_FOUND)),
        }
    }

    pub(super) async fn describe_tasks(&self, body: Value) -> Result<Value> {
        let r: DescribeRequest = input::parse(body)?;
        if r.tasks.is_empty() {
            return Err(ControlError::invalid("tasks: must name at least one task"));
        }
        if r.tasks.len() > 100 {
            return Err(ControlError::invalid(format!(
                "tasks: at most 100 tasks can be described at once, got {}",
                r.tasks.len()
            )));
        }
        let include = r.include.unwrap_or_default();
        for (i, item) in include.iter().enumerate() {
            input::one_of(&format!("include[{i}]"), item, &["TAGS"])?;
        }
        let cluster = self.any_cluster("cluster", r.cluster.as_deref()).await?;
        let mut wanted: Vec<(String, Option<TaskRef>)> = Vec::new();
        for (i, input) in r.tasks.into_iter().enumerate() {
            if wanted.iter().any(|(w, _)| *w == input) {
                continue;
            }
            let task_ref = self
                .core
                .arns
                .task_ref(&format!("tasks[{i}]"), &input)
                .ok()
                .flatten()
                .filter(|t| t.cluster.as_ref().is_none_or(|c| *c == cluster.name));
            wanted.push((input, task_ref));
        }
        let ids: Vec<String> = wanted
            .iter()
            .filter_map(|(_, t)| t.as_ref().map(|t| t.id.clone()))
            .collect();
        let with_tags = !include.is_empty();
        let records = self.load_tasks(ids, with_tags).await?;
        let mut tasks = Vec::new();
        let mut failures = Vec::new();
        for (input, task_ref) in &wanted {
            let found = task_ref.as_ref().and_then(|t| {
                records
                    .iter()
                    .find(|(r, _)| r.task_id == t.id && r.cluster == cluster.name)
            });
            match found {
                Some((record, tags)) => {
                    tasks.push(with_tags_json(record.task.clone(), tags.as_deref()))
                }
                None => {
                    let arn = match task_ref {
                        Some(t) if !input.starts_with("arn:") => {
                            self.core.arns.task(&cluster.name, &t.id)
                        }
                        _ => input.clone(),
                    };
                    failures.push(json!({ "arn": arn, "reason": "MISSING" }));
                }
            }
        }
        Ok(json!({ "tasks": tasks, "failures": failures }))
    }

    pub(super) async fn list_tasks(&self, body: Value) -> Result<Value> {
        let r: ListRequest = input::parse(body)?;
        let max = input::max_results(r.max_results)?;
        let desired = input::one_of(
            "desiredStatus",
            r.desired_status.as_deref().unwrap_or("RUNNING"),
            DESIRED_STATUSES,
        )?
        .to_owned();
        let launch_type = match r.launch_type.as_deref() {
            Some(lt) => input::one_of("launchType", lt, LAUNCH_TYPES)?,
            None => "FARGATE",
        };
        // A deleted cluster holds nothing to list (DescribeClusters still shows it INACTIVE).
        let cluster = self.active_cluster("cluster", r.cluster.as_deref()).await?;
        // The tasks its scheduler started (not every task whose group says `service:X`).
        let service = match r.service_name {
            Some(s) if !input::is_valid_name(&s) => {
                return Err(ControlError::invalid(format!(
                    "serviceName: {}",
                    input::NAME_RULE
                )));
            }
            Some(s) => {
                if !self.service_exists(&cluster.name, &s).await? {
                    return Err(ControlError::ServiceNotFound);
                }
                Some(s)
            }
            None => None,
        };
        // ECS never sets desiredStatus PENDING; tasks here have no container instance,
        // are not daemon tasks and are all FARGATE.
        let none_match = desired == "PENDING"
            || launch_type != "FARGATE"
            || r.container_instance.is_some()
            || r.daemon_name.is_some();
        let mut records: Vec<TaskRecord> = if none_match {
            Vec::new()
        } else {
            let q = TaskQuery {
                cluster: cluster.name.clone(),
                family: r.family,
                started_by: r.started_by,
                service,
                desired_status: Some(desired),
                ..Default::default()
            };
            let check = q.clone();
            self.core
                .db(move |s| s.list_tasks(&q))
                .await?
                .into_iter()
                .filter(|t| matches_query(t, &check))
                .collect()
        };
        records.sort_by(|a, b| (a.created_at_ms, &a.task_id).cmp(&(b.created_at_ms, &b.task_id)));
        let (records, next) = page::page(
            records,
            |t| format!("{:020}/{}", t.created_at_ms.max(0), t.task_id),
            Order::Asc,
            "tasks",
            r.next_token.as_deref(),
            max,
        )?;
        let arns: Vec<String> = records
            .iter()
            .map(|t| self.core.arns.task(&t.cluster, &t.task_id))
            .collect();
        Ok(with_token(json!({ "taskArns": arns }), next))
    }

    /// Tasks by id as stored, with their tags when asked for.
    async fn load_tasks(
        &self,
        ids: Vec<String>,
        with_tags: bool,
    ) -> Result<Vec<(TaskRecord, Option<Vec<(String, String)>>)>> {
        let arns = self.core.arns.clone();
        self.core
            .db(move |s| {
                let mut out = Vec::new();
                for id in ids {
                    if let Some(t) = s.get_task(&id)? {
                        let tags = if with_tags {
                            Some(s.tags(&arns.task(&t.cluster, &t.task_id))?)
                        } else {
                            None
                        };
                        out.push((t, tags));
                    }
                }
                Ok(out)
            })
            .await
    }

    /// The stored shapes of `ids`, in that order (RunTask's answer).
    pub(super) async fn current_tasks(
        &self,
        ids: &[String],
        with_tags: bool,
    ) -> Result<Vec<Value>> {
        let records = self.load_tasks(ids.to_vec(), with_tags).await?;
        Ok(ids
            .iter()
            .filter_map(|id| records.iter().find(|(r, _)| r.task_id == *id))
            .map(|(r, tags)| {
                let tags = tags.as_deref().filter(|t| !t.is_empty());
                with_tags_json(r.task.clone(), tags)
            })
            .collect())
    }
}

/// The store may filter loosely (it is another module's code): the query is checked again.
fn matches_query(t: &TaskRecord, q: &TaskQuery) -> bool {
    t.cluster == q.cluster
        && q.family.as_ref().is_none_or(|f| t.family == *f)
        && q.started_by
            .as_ref()
            .is_none_or(|s| t.started_by.as_ref() == Some(s))
        && q.group.as_ref().is_none_or(|g| t.group.as_ref() == Some(g))
        && q.service
            .as_ref()
            .is_none_or(|s| t.service.as_ref() == Some(s))
        && q.desired_status
            .as_ref()
            .is_none_or(|d| t.desired_status == *d)
}

fn with_tags_json(mut task: Value, tags: Option<&[(String, String)]>) -> Value {
    if let (Some(tags), Some(o)) = (tags, task.as_object_mut()) {
        o.insert("tags".into(), input::tags_json(tags));
    }
    task
}
