//! RegisterTaskDefinition, DeregisterTaskDefinition, DescribeTaskDefinition,
//! ListTaskDefinitions, ListTaskDefinitionFamilies.
//!
//! A definition goes through `taskdef::parse`, the one model and validator that
//! `wasmgate run` uses too, so both accept and refuse the same JSON with the same words.

use super::EcsService;
use super::arn::TaskDefRef;
use super::error::{ControlError, Result, TASK_DEFINITION_NOT_DESCRIBABLE};
use super::input;
use super::page::{self, Order};
use super::shape::secs_json;
use crate::protocol::Principal;
use crate::runtime::runtime_rules;
use crate::state::{TaskDefQuery, TaskDefRecord};
use crate::taskdef::{self, AWSVPC, FieldError, TaskDefError, TaskDefinition, fargate, units};
use crate::util::time::now_ms;
use serde::Deserialize;
use serde_json::{Map, Value, json};

pub const ACTIVE: &str = "ACTIVE";
pub const INACTIVE: &str = "INACTIVE";
/// wasmgate tasks run where ECS would run EC2 and Fargate tasks alike.
const COMPATIBILITIES: &[&str] = &["EC2", "FARGATE"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeregisterRequest {
    task_definition: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeRequest {
    task_definition: String,
    include: Option<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListRequest {
    family_prefix: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    max_results: Option<i32>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FamiliesRequest {
    family_prefix: Option<String>,
    status: Option<String>,
    max_results: Option<i32>,
    next_token: Option<String>,
}

impl EcsService {
    pub(super) async fn register_task_definition(
        &self,
        principal: &Principal,
        body: Value,
    ) -> Result<Value> {
        if !body.is_object() {
            return Err(ControlError::invalid(
                "the request body must be a JSON object",
            ));
        }
        let parsed = taskdef::parse(&body.to_string(), &self.runtime.validation_options())
            .map_err(|e| definition_error(&body, &e))?;
        for warning in &parsed.warnings {
            tracing::info!("RegisterTaskDefinition: {warning}");
        }
        // The rules `wasmgate run` applies beyond the ECS validator, so that a definition
        // this host cannot run is refused now rather than at RunTask.
        let rules = runtime_rules(&parsed.definition);
        if !rules.is_empty() {
            return Err(rules_error(
                &rules,
                Some(u64::from(parsed.definition.cpu)),
                parsed.definition.memory,
            ));
        }
        check_roles_and_secrets(&parsed.definition)?;
        let mut definition = parsed.definition;
        let tags: Vec<(String, String)> = std::mem::take(&mut definition.tags)
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect();
        input::check_tag_pairs("tags", &tags)?;
        let mut deduped: Vec<(String, String)> = Vec::new();
        for (k, v) in tags {
            match deduped.iter_mut().find(|(dk, _)| *dk == k) {
                Some(slot) => slot.1 = v,
                None => deduped.push((k, v)),
            }
        }
        definition
            .network_mode
            .get_or_insert_with(|| AWSVPC.to_owned());

        let mut stored = serde_json::to_value(&definition)
            .map_err(|e| ControlError::Internal(format!("cannot store the definition: {e}")))?;
        if let Some(o) = stored.as_object_mut() {
            o.insert("registeredBy".into(), json!(principal.arn));
        }
        let family = definition.family.clone();
        let arns = self.core.arns.clone();
        let tags = deduped.clone();
        let record = self
            .core
            .db(move |s| {
                let record = s.register_task_definition(&family, &stored, now_ms())?;
                if !tags.is_empty() {
                    s.tag(
                        &arns.task_definition(&record.family, record.revision),
                        &tags,
                    )?;
                }
                Ok(record)
            })
            .await?;
        Ok(json!({
            "taskDefinition": self.task_definition_json(&record),
            "tags": input::tags_json(&deduped),
        }))
    }

    pub(super) async fn deregister_task_definition(&self, body: Value) -> Result<Value> {
        let r: DeregisterRequest = input::parse(body)?;
        let not_found = || ControlError::client("The specified task definition does not exist.");
        let Some(TaskDefRef { family, revision }) = self
            .core
            .arns
            .task_definition_ref("taskDefinition", &r.task_definition)?
        else {
            return Err(not_found());
        };
        let Some(revision) = revision else {
            return Err(ControlError::invalid(format!(
                "taskDefinition: {:?} has no revision; give family:revision or the task definition ARN",
                r.task_definition
            )));
        };
        let record = self
            .core
            .db(
                move |s| match s.get_task_definition(&family, Some(revision))? {
                    Some(r) if r.status == ACTIVE => {
                        s.set_task_definition_status(&family, revision, INACTIVE, now_ms())
                    }
                    other => Ok(other),
                },
            )
            .await?
            .ok_or_else(not_found)?;
        Ok(json!({ "taskDefinition": self.task_definition_json(&record) }))
    }

    pub(super) async fn describe_task_definition(&self, body: Value) -> Result<Value> {
        let r: DescribeRequest = input::parse(body)?;
        let include = r.include.unwrap_or_default();
        for (i, item) in include.iter().enumerate() {
            input::one_of(&format!("include[{i}]"), item, &["TAGS"])?;
        }
        let record = self
            .find_task_definition("taskDefinition", &r.task_definition)
            .await?
            .ok_or_else(|| ControlError::client(TASK_DEFINITION_NOT_DESCRIBABLE))?;
        let mut out = Map::new();
        out.insert("taskDefinition".into(), self.task_definition_json(&record));
        if !include.is_empty() {
            let arn = self
                .core
                .arns
                .task_definition(&record.family, record.revision);
            let tags = self.core.db(move |s| s.tags(&arn)).await?;
            out.insert("tags".into(), input::tags_json(&tags));
        }
        Ok(Value::Object(out))
    }

    pub(super) async fn list_task_definitions(&self, body: Value) -> Result<Value> {
        let r: ListRequest = input::parse(body)?;
        let max = input::max_results(r.max_results)?;
        let status = input::one_of(
            "status",
            r.status.as_deref().unwrap_or(ACTIVE),
            &[ACTIVE, INACTIVE, "DELETE_IN_PROGRESS"],
        )?
        .to_owned();
        let order =
            match input::one_of("sort", r.sort.as_deref().unwrap_or("ASC"), &["ASC", "DESC"])? {
                "DESC" => Order::Desc,
                _ => Order::Asc,
            };
        // ECS: `familyPrefix` is the full family name here (a prefix only for families).
        let family = r.family_prefix;
        let q = TaskDefQuery {
            family_prefix: family.clone(),
            status: Some(status.clone()),
            descending: order == Order::Desc,
        };
        let mut records: Vec<TaskDefRecord> = self
            .core
            .db(move |s| s.list_task_definitions(&q))
            .await?
            .into_iter()
            .filter(|d| d.status == status && family.as_ref().is_none_or(|f| d.family == *f))
            .collect();
        records.sort_by(|a, b| (&a.family, a.revision).cmp(&(&b.family, b.revision)));
        if order == Order::Desc {
            records.reverse();
        }
        let (records, next) = page::page(
            records,
            |d| page::pair_key(&d.family, u64::from(d.revision)),
            order,
            "task-definitions",
            r.next_token.as_deref(),
            max,
        )?;
        let arns: Vec<String> = records
            .iter()
            .map(|d| self.core.arns.task_definition(&d.family, d.revision))
            .collect();
        Ok(with_token(json!({ "taskDefinitionArns": arns }), next))
    }

    pub(super) async fn list_task_definition_families(&self, body: Value) -> Result<Value> {
        let r: FamiliesRequest = input::parse(body)?;
        let max = input::max_results(r.max_results)?;
        let status = match input::one_of(
            "status",
            r.status.as_deref().unwrap_or("ALL"),
            &[ACTIVE, INACTIVE, "ALL"],
        )? {
            "ALL" => None,
            s => Some(s.to_owned()),
        };
        let prefix = r.family_prefix;
        let mut families: Vec<String> = self
            .core
            .db(move |s| s.list_families(prefix.as_deref(), status.as_deref()))
            .await?;
        families.sort();
        families.dedup();
        let (families, next) = page::page(
            families,
            Clone::clone,
            Order::Asc,
            "families",
            r.next_token.as_deref(),
            max,
        )?;
        Ok(with_token(json!({ "families": families }), next))
    }

    /// The definition a reference names (`family` = its latest ACTIVE revision); `None`
    /// when there is none.
    pub(super) async fn find_task_definition(
        &self,
        member: &str,
        reference: &str,
    ) -> Result<Option<TaskDefRecord>> {
        let Some(TaskDefRef { family, revision }) =
            self.core.arns.task_definition_ref(member, reference)?
        else {
            return Ok(None);
        };
        self.core
            .db(move |s| s.get_task_definition(&family, revision))
            .await
    }

    /// The `TaskDefinition` shape of a stored revision.
    pub(super) fn task_definition_json(&self, record: &TaskDefRecord) -> Value {
        let mut o = match &record.definition {
            Value::Object(o) => o.clone(),
            _ => Map::new(),
        };
        o.remove("tags");
        o.insert(
            "taskDefinitionArn".into(),
            json!(
                self.core
                    .arns
                    .task_definition(&record.family, record.revision)
            ),
        );
        o.insert("family".into(), json!(record.family));
        o.insert("revision".into(), json!(record.revision));
        o.insert("status".into(), json!(record.status));
        o.insert("compatibilities".into(), json!(COMPATIBILITIES));
        o.entry("requiresCompatibilities")
            .or_insert_with(|| json!([]));
        o.entry("volumes").or_insert_with(|| json!([]));
        o.entry("placementConstraints").or_insert_with(|| json!([]));
        // ECS shows `cpu: 0` for a container definition that reserves no CPU units.
        if let Some(Value::Array(containers)) = o.get_mut("containerDefinitions") {
            for c in containers.iter_mut().filter_map(Value::as_object_mut) {
                if c.get("cpu").is_none_or(Value::is_null) {
                    c.insert("cpu".into(), json!(0));
                }
            }
        }
        o.insert("registeredAt".into(), secs_json(record.registered_at_ms));
        if let Some(at) = record.deregistered_at_ms {
            o.insert("deregisteredAt".into(), secs_json(at));
        }
        Value::Object(o)
    }
}

/// The runnable model of a stored revision.
pub fn model(record: &TaskDefRecord) -> Result<TaskDefinition> {
    serde_json::from_value(record.definition.clone()).map_err(|e| {
        ControlError::Internal(format!(
            "stored task definition {}:{} cannot be read: {e}",
            record.family, record.revision
        ))
    })
}

pub fn with_token(mut out: Value, next: Option<String>) -> Value {
    if let (Some(next), Some(o)) = (next, out.as_object_mut()) {
        o.insert("nextToken".into(), json!(next));
    }
    out
}

/// A refused definition as ECS reports it: type errors are InvalidParameterException; broken
/// rules are ClientException with every `path: rule` joined by "; ", behind ECS's own
/// sentence when the task size is not a Fargate size.
pub fn definition_error(body: &Value, err: &TaskDefError) -> ControlError {
    match err {
        TaskDefError::Json(message) => ControlError::invalid(message.clone()),
        TaskDefError::Invalid(errors) => {
            let def = body.get("taskDefinition").unwrap_or(body);
            let cpu_given = def.get("cpu").is_some_and(|v| !v.is_null());
            let cpu = size(def.get("cpu"), |t| units::parse_cpu(t).map(u64::from));
            let memory = size(def.get("memory"), units::parse_memory);
            rules_error(
                errors,
                cpu_given.then_some(cpu.unwrap_or(0)),
                memory.unwrap_or(0),
            )
        }
    }
}

/// ECS's registration rules on secrets: each `valueFrom` is a parameter name or an ARN of
/// a parameter or secret, and a definition reading secrets or registry credentials names
/// the execution role the host reads them as.
fn check_roles_and_secrets(def: &TaskDefinition) -> Result<()> {
    let mut needs_role = None;
    for (i, c) in def.container_definitions.iter().enumerate() {
        for (j, secret) in c.secrets.iter().enumerate() {
            if let Err(why) = crate::secrets::ValueFrom::parse(&secret.value_from) {
                return Err(ControlError::client(format!(
                    "containerDefinitions[{i}].secrets[{j}].valueFrom: {why}"
                )));
            }
            needs_role.get_or_insert(format!("containerDefinitions[{i}].secrets"));
        }
        let secret_options = c
            .log_configuration
            .iter()
            .flat_map(|l| l.secret_options.iter());
        for (j, secret) in secret_options.enumerate() {
            if let Err(why) = crate::secrets::ValueFrom::parse(&secret.value_from) {
                return Err(ControlError::client(format!(
                    "containerDefinitions[{i}].logConfiguration.secretOptions[{j}].valueFrom: {why}"
                )));
            }
            needs_role.get_or_insert(format!(
                "containerDefinitions[{i}].logConfiguration.secretOptions"
            ));
        }
        if c.repository_credentials.is_some() {
            needs_role.get_or_insert(format!("containerDefinitions[{i}].repositoryCredentials"));
        }
    }
    match needs_role {
        Some(field) if def.execution_role_arn.as_deref().is_none_or(str::is_empty) => {
            Err(ControlError::client(format!(
                "When you are specifying container secrets or repository credentials, you \
                 must also specify a value for 'executionRoleArn' ({field} is set)."
            )))
        }
        _ => Ok(()),
    }
}

/// ClientException listing broken rules (`path: rule`, joined by "; "); when the task size
/// is at fault, ECS's own sentence comes first. `cpu` is `None` when none was given.
pub fn rules_error(errors: &[FieldError], cpu: Option<u64>, memory: u64) -> ControlError {
    let joined = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    let about_size = errors.iter().any(|e| e.path == "cpu" || e.path == "memory");
    match ecs_size_sentence(cpu, memory) {
        Some(sentence) if about_size => ControlError::client(format!("{sentence} {joined}")),
        _ => ControlError::client(joined),
    }
}

/// ECS's message for a task size Fargate does not offer, or for a missing cpu.
fn ecs_size_sentence(cpu: Option<u64>, memory: u64) -> Option<String> {
    match cpu {
        None => Some("Fargate requires that 'cpu' be defined at the task level.".to_owned()),
        Some(cpu)
            if cpu > 0
                && memory > 0
                && !u32::try_from(cpu).is_ok_and(|c| fargate::is_valid_size(c, memory)) =>
        {
            Some(format!(
                "No Fargate configuration exists for given values: {cpu} CPU, {memory} memory. See the Amazon ECS documentation for the valid values."
            ))
        }
        _ => None,
    }
}

fn size(value: Option<&Value>, parse: impl Fn(&str) -> Result<u64, String>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => parse(s).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_sentences() {
        assert_eq!(
            ecs_size_sentence(Some(1024), 1024).as_deref(),
            Some(
                "No Fargate configuration exists for given values: 1024 CPU, 1024 memory. See the Amazon ECS documentation for the valid values."
            )
        );
        assert_eq!(ecs_size_sentence(Some(256), 512), None);
        assert_eq!(
            ecs_size_sentence(None, 512).as_deref(),
            Some("Fargate requires that 'cpu' be defined at the task level.")
        );
        // An unreadable cpu is reported by the rules alone.
        assert_eq!(ecs_size_sentence(Some(0), 512), None);
        let e = rules_error(
            &[FieldError::new("memory", "1024 MiB is not valid")],
            Some(1024),
            1024,
        );
        assert!(
            e.to_string().starts_with("No Fargate configuration exists"),
            "{e}"
        );
        let e = rules_error(
            &[FieldError::new("family", "is required")],
            Some(1024),
            1024,
        );
        assert_eq!(e.to_string(), "family: is required");
    }
}
