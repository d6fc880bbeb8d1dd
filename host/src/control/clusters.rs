//! CreateCluster, DeleteCluster, ListClusters, DescribeClusters, UpdateClusterSettings.

use super::error::{ControlError, Result};
use super::input::{self, NAME_RULE, TagIn};
use super::page::{self, Order};
use super::{DEFAULT_CLUSTER, EcsService};
use crate::state::{ClusterRecord, StateStore, TaskRecord};
use crate::util::time::now_ms;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

const ACTIVE: &str = "ACTIVE";
const INACTIVE: &str = "INACTIVE";
const INCLUDE: &[&str] = &[
    "ATTACHMENTS",
    "CONFIGURATIONS",
    "SETTINGS",
    "STATISTICS",
    "TAGS",
];
const CAPACITY_PROVIDERS: &[&str] = &["FARGATE", "FARGATE_SPOT"];
/// Task statuses ECS counts as pending in `pendingTasksCount`.
const PENDING_STATUSES: &[&str] = &["PROVISIONING", "PENDING", "ACTIVATING"];

/// `settings` of CreateCluster and UpdateClusterSettings, checked (ECS knows one:
/// `containerInsights`); a name given twice keeps its last value.
fn checked_settings(given: Vec<SettingIn>) -> Result<Vec<Value>> {
    let mut settings: Vec<Value> = Vec::new();
    for (i, s) in given.iter().enumerate() {
        let name = s.name.as_deref().unwrap_or_default();
        input::one_of(&format!("settings[{i}].name"), name, &["containerInsights"])?;
        let value = s.value.as_deref().unwrap_or_default();
        input::one_of(
            &format!("settings[{i}].value"),
            value,
            &["enabled", "disabled", "enhanced"],
        )?;
        settings.retain(|v| v.get("name").and_then(Value::as_str) != Some(name));
        settings.push(json!({ "name": name, "value": value }));
    }
    Ok(settings)
}

/// A cluster's `settings` as ECS shows them: `containerInsights` is always there
/// (`disabled` unless CreateCluster set it).
fn settings(record: &ClusterRecord) -> Value {
    let mut settings = match record.extra.get("settings") {
        Some(Value::Array(a)) => a.clone(),
        _ => Vec::new(),
    };
    if !settings
        .iter()
        .any(|s| s.get("name").and_then(Value::as_str) == Some("containerInsights"))
    {
        settings.push(json!({ "name": "containerInsights", "value": "disabled" }));
    }
    Value::Array(settings)
}

/// Creates `default` when the store has never had it (a deleted one stays deleted).
pub fn ensure_default(state: &dyn StateStore) -> Result<()> {
    if state.get_cluster(DEFAULT_CLUSTER)?.is_none() {
        state.put_cluster(&ClusterRecord {
            name: DEFAULT_CLUSTER.to_owned(),
            status: ACTIVE.to_owned(),
            created_at_ms: now_ms(),
            extra: json!({}),
        })?;
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateRequest {
    cluster_name: Option<String>,
    tags: Option<Vec<TagIn>>,
    settings: Option<Vec<SettingIn>>,
    configuration: Option<Map<String, Value>>,
    capacity_providers: Option<Vec<String>>,
    default_capacity_provider_strategy: Option<Vec<Map<String, Value>>>,
}

#[derive(Deserialize)]
#[serde(expecting = "an object")]
struct SettingIn {
    name: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
struct DeleteRequest {
    cluster: String,
}

#[derive(Deserialize)]
struct UpdateSettingsRequest {
    cluster: String,
    settings: Vec<SettingIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListRequest {
    max_results: Option<i32>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
struct DescribeRequest {
    clusters: Option<Vec<String>>,
    include: Option<Vec<String>>,
}

/// Task counts of one cluster.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    running: usize,
    pending: usize,
    /// ACTIVE services (`activeServicesCount`).
    services: usize,
}

impl EcsService {
    pub(super) async fn create_cluster(&self, body: Value) -> Result<Value> {
        let r: CreateRequest = input::parse(body)?;
        let name = r.cluster_name.unwrap_or_else(|| DEFAULT_CLUSTER.to_owned());
        if !input::is_valid_name(&name) {
            return Err(ControlError::invalid(format!("clusterName: {NAME_RULE}")));
        }
        let tags = input::tags("tags", r.tags.as_deref().unwrap_or_default())?;
        let settings = checked_settings(r.settings.unwrap_or_default())?;
        let providers = r.capacity_providers.unwrap_or_default();
        for (i, p) in providers.iter().enumerate() {
            input::one_of(&format!("capacityProviders[{i}]"), p, CAPACITY_PROVIDERS)?;
        }
        let mut extra = Map::new();
        extra.insert("settings".into(), Value::Array(settings));
        extra.insert("capacityProviders".into(), json!(providers));
        extra.insert(
            "defaultCapacityProviderStrategy".into(),
            json!(r.default_capacity_provider_strategy.unwrap_or_default()),
        );
        if let Some(c) = r.configuration {
            extra.insert("configuration".into(), Value::Object(c));
        }

        let arn = self.core.arns.cluster(&name);
        let (record, tags) = self
            .core
            .db(move |s| {
                let existing = s.get_cluster(&name)?;
                let record = match existing {
                    // Idempotent: an ACTIVE cluster is returned as it is, with the tags merged.
                    Some(c) if c.status == ACTIVE => {
                        let mut merged = s.tags(&arn)?;
                        for (k, v) in &tags {
                            match merged.iter_mut().find(|(mk, _)| mk == k) {
                                Some(slot) => slot.1.clone_from(v),
                                None => merged.push((k.clone(), v.clone())),
                            }
                        }
                        if merged.len() > input::MAX_TAGS {
                            return Ok(Err(ControlError::invalid(format!(
                                "tags: the cluster would have {} tags; at most {} are allowed",
                                merged.len(),
                                input::MAX_TAGS
                            ))));
                        }
                        if !tags.is_empty() {
                            s.tag(&arn, &tags)?;
                        }
                        c
                    }
                    // A new cluster, or a deleted one made again: it starts afresh.
                    _ => {
                        let old: Vec<String> = s.tags(&arn)?.into_iter().map(|(k, _)| k).collect();
                        let record = ClusterRecord {
                            name: name.clone(),
                            status: ACTIVE.to_owned(),
                            created_at_ms: now_ms(),
                            extra: Value::Object(extra),
                        };
                        s.put_cluster(&record)?;
                        if !old.is_empty() {
                            s.untag(&arn, &old)?;
                        }
                        if !tags.is_empty() {
                            s.tag(&arn, &tags)?;
                        }
                        record
                    }
                };
                let tags = s.tags(&arn)?;
                Ok(Ok((record, tags)))
            })
            .await??;
        let counts = self.counts().await?;
        let c = counts.get(&record.name).copied().unwrap_or_default();
        Ok(json!({ "cluster": self.cluster_json(&record, c, INCLUDE, Some(&tags)) }))
    }

    pub(super) async fn delete_cluster(&self, body: Value) -> Result<Value> {
        let r: DeleteRequest = input::parse(body)?;
        let mut record = self.active_cluster("cluster", Some(&r.cluster)).await?;
        let name = record.name.clone();
        let busy_live = self.core.live().values().any(|t| t.meta.cluster == name);
        let busy_stored = self
            .core
            .db(move |s| Ok(s.unfinished_tasks()?.iter().any(|t| t.cluster == name)))
            .await?;
        let cluster_name = record.name.clone();
        let has_services = self
            .core
            .db(move |s| {
                Ok(s.list_services(None)?
                    .iter()
                    .any(|svc| svc.cluster == cluster_name && svc.status != "INACTIVE"))
            })
            .await?;
        if has_services {
            return Err(ControlError::ClusterContainsServices);
        }
        if busy_live || busy_stored {
            return Err(ControlError::ClusterContainsTasks);
        }
        record.status = INACTIVE.to_owned();
        let tags = self.save_cluster(&record).await?;
        Ok(
            json!({ "cluster": self.cluster_json(&record, Counts::default(), INCLUDE, Some(&tags)) }),
        )
    }

    /// Stores a changed cluster; its tags, for the answer.
    async fn save_cluster(&self, record: &ClusterRecord) -> Result<Vec<(String, String)>> {
        let stored = record.clone();
        let arn = self.core.arns.cluster(&record.name);
        self.core
            .db(move |s| {
                s.put_cluster(&stored)?;
                s.tags(&arn)
            })
            .await
    }

    /// UpdateClusterSettings: the given settings replace those of the same name.
    pub(super) async fn update_cluster_settings(&self, body: Value) -> Result<Value> {
        let r: UpdateSettingsRequest = input::parse(body)?;
        if r.settings.is_empty() {
            return Err(ControlError::invalid(
                "settings: at least one setting is required",
            ));
        }
        let given = checked_settings(r.settings)?;
        let mut record = self.active_cluster("cluster", Some(&r.cluster)).await?;
        let mut settings = match record.extra.get("settings") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        for g in given {
            settings.retain(|v| v.get("name") != g.get("name"));
            settings.push(g);
        }
        if !record.extra.is_object() {
            record.extra = json!({});
        }
        if let Some(o) = record.extra.as_object_mut() {
            o.insert("settings".into(), Value::Array(settings));
        }
        let tags = self.save_cluster(&record).await?;
        let counts = self.counts().await?;
        let c = counts.get(&record.name).copied().unwrap_or_default();
        Ok(json!({ "cluster": self.cluster_json(&record, c, INCLUDE, Some(&tags)) }))
    }

    pub(super) async fn list_clusters(&self, body: Value) -> Result<Value> {
        let r: ListRequest = input::parse(body)?;
        let max = input::max_results(r.max_results)?;
        let mut names: Vec<String> = self
            .core
            .db(|s| s.list_clusters())
            .await?
            .into_iter()
            .filter(|c| c.status == ACTIVE)
            .map(|c| c.name)
            .collect();
        names.sort();
        let (names, next) = page::page(
            names,
            Clone::clone,
            Order::Asc,
            "clusters",
            r.next_token.as_deref(),
            max,
        )?;
        let arns: Vec<String> = names.iter().map(|n| self.core.arns.cluster(n)).collect();
        let mut out = json!({ "clusterArns": arns });
        if let (Some(next), Some(o)) = (next, out.as_object_mut()) {
            o.insert("nextToken".into(), json!(next));
        }
        Ok(out)
    }

    pub(super) async fn describe_clusters(&self, body: Value) -> Result<Value> {
        let r: DescribeRequest = input::parse(body)?;
        let refs = r
            .clusters
            .unwrap_or_else(|| vec![DEFAULT_CLUSTER.to_owned()]);
        if refs.len() > 100 {
            return Err(ControlError::invalid(format!(
                "clusters: at most 100 clusters can be described at once, got {}",
                refs.len()
            )));
        }
        let include = r.include.unwrap_or_default();
        for (i, item) in include.iter().enumerate() {
            input::one_of(&format!("include[{i}]"), item, INCLUDE)?;
        }
        let include: Vec<&str> = include.iter().map(String::as_str).collect();

        // Resolve every reference first: a malformed ARN is a failure, not an error.
        let mut wanted: Vec<(String, Option<String>)> = Vec::new();
        for input in refs {
            if wanted.iter().any(|(i, _)| *i == input) {
                continue;
            }
            let name = self
                .core
                .arns
                .cluster_ref("clusters", &input)
                .ok()
                .flatten();
            wanted.push((input, name));
        }
        let names: Vec<String> = wanted.iter().filter_map(|(_, n)| n.clone()).collect();
        let arns = self.core.arns.clone();
        let want_tags = include.contains(&"TAGS");
        let found = self
            .core
            .db(move |s| {
                let mut found = HashMap::new();
                for name in names {
                    if let Some(c) = s.get_cluster(&name)? {
                        let tags = if want_tags {
                            Some(s.tags(&arns.cluster(&name))?)
                        } else {
                            None
                        };
                        found.insert(name, (c, tags));
                    }
                }
                Ok(found)
            })
            .await?;
        let counts = self.counts().await?;
        let mut clusters = Vec::new();
        let mut failures = Vec::new();
        for (input, name) in &wanted {
            match name.as_ref().and_then(|n| found.get(n)) {
                Some((record, tags)) => {
                    let c = counts.get(&record.name).copied().unwrap_or_default();
                    clusters.push(self.cluster_json(record, c, &include, tags.as_deref()));
                }
                None => {
                    let arn = match name {
                        Some(n) if !input.starts_with("arn:") => self.core.arns.cluster(n),
                        _ => input.clone(),
                    };
                    failures.push(json!({ "arn": arn, "reason": "MISSING" }));
                }
            }
        }
        Ok(json!({ "clusters": clusters, "failures": failures }))
    }

    /// The ACTIVE cluster a request names (`None`: `default`); anything else is
    /// ClusterNotFoundException.
    pub(super) async fn active_cluster(
        &self,
        member: &str,
        reference: Option<&str>,
    ) -> Result<ClusterRecord> {
        let record = self.any_cluster(member, reference).await?;
        if record.status != ACTIVE {
            return Err(ControlError::ClusterNotFound);
        }
        Ok(record)
    }

    /// The cluster a request names, ACTIVE or INACTIVE (reads of what it held).
    pub(super) async fn any_cluster(
        &self,
        member: &str,
        reference: Option<&str>,
    ) -> Result<ClusterRecord> {
        let reference = reference.unwrap_or(DEFAULT_CLUSTER);
        let Some(name) = self.core.arns.cluster_ref(member, reference)? else {
            return Err(ControlError::ClusterNotFound);
        };
        self.core
            .db(move |s| s.get_cluster(&name))
            .await?
            .ok_or(ControlError::ClusterNotFound)
    }

    /// Running, pending (starting: PROVISIONING, PENDING, ACTIVATING) task counts and
    /// active services per cluster.
    async fn counts(&self) -> Result<HashMap<String, Counts>> {
        let (unfinished, services): (Vec<TaskRecord>, Vec<String>) = self
            .core
            .db(|s| {
                let services = s
                    .list_services(None)?
                    .into_iter()
                    .filter(|svc| svc.status == ACTIVE)
                    .map(|svc| svc.cluster)
                    .collect();
                Ok((s.unfinished_tasks()?, services))
            })
            .await?;
        let mut counts: HashMap<String, Counts> = HashMap::new();
        for cluster in services {
            counts.entry(cluster).or_default().services += 1;
        }
        for t in unfinished {
            let c = counts.entry(t.cluster.clone()).or_default();
            if t.last_status == "RUNNING" {
                c.running += 1;
            } else if PENDING_STATUSES.contains(&t.last_status.as_str()) {
                c.pending += 1;
            }
        }
        Ok(counts)
    }

    fn cluster_json(
        &self,
        record: &ClusterRecord,
        counts: Counts,
        include: &[&str],
        tags: Option<&[(String, String)]>,
    ) -> Value {
        let extra = |key: &str| record.extra.get(key).cloned().unwrap_or_else(|| json!([]));
        let mut o = Map::new();
        o.insert(
            "clusterArn".into(),
            json!(self.core.arns.cluster(&record.name)),
        );
        o.insert("clusterName".into(), json!(record.name));
        o.insert("status".into(), json!(record.status));
        o.insert("registeredContainerInstancesCount".into(), json!(0));
        o.insert("runningTasksCount".into(), json!(counts.running));
        o.insert("pendingTasksCount".into(), json!(counts.pending));
        o.insert("activeServicesCount".into(), json!(counts.services));
        o.insert("capacityProviders".into(), extra("capacityProviders"));
        o.insert(
            "defaultCapacityProviderStrategy".into(),
            extra("defaultCapacityProviderStrategy"),
        );
        if include.contains(&"SETTINGS") {
            o.insert("settings".into(), settings(record));
        }
        if include.contains(&"CONFIGURATIONS")
            && let Some(c) = record.extra.get("configuration")
        {
            o.insert("configuration".into(), c.clone());
        }
        if include.contains(&"STATISTICS") {
            o.insert("statistics".into(), super::statistics::of(&self.runtime));
        }
        if include.contains(&"ATTACHMENTS") {
            o.insert("attachments".into(), json!([]));
        }
        if include.contains(&"TAGS") {
            o.insert("tags".into(), input::tags_json(tags.unwrap_or_default()));
        }
        Value::Object(o)
    }
}
