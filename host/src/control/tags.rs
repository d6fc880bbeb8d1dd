//! TagResource, UntagResource, ListTagsForResource on clusters, task definitions, tasks
//! and services.

use super::EcsService;
use super::arn::{Parsed, Resource};
use super::error::{ControlError, Result};
use super::input::{self, TagIn};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TagRequest {
    resource_arn: String,
    tags: Vec<TagIn>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UntagRequest {
    resource_arn: String,
    tag_keys: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListRequest {
    resource_arn: String,
}

impl EcsService {
    pub(super) async fn tag_resource(&self, body: Value) -> Result<Value> {
        let r: TagRequest = input::parse(body)?;
        let tags = input::tags("tags", &r.tags)?;
        let arn = self.resource(&r.resource_arn).await?;
        self.core
            .db(move |s| {
                let existing = s.tags(&arn)?;
                let added = tags
                    .iter()
                    .filter(|(k, _)| !existing.iter().any(|(ek, _)| ek == k))
                    .count();
                if existing.len() + added > input::MAX_TAGS {
                    return Ok(Err(ControlError::invalid(format!(
                        "tags: the resource would have {} tags; at most {} are allowed",
                        existing.len() + added,
                        input::MAX_TAGS
                    ))));
                }
                if !tags.is_empty() {
                    s.tag(&arn, &tags)?;
                }
                Ok(Ok(()))
            })
            .await??;
        Ok(json!({}))
    }

    pub(super) async fn untag_resource(&self, body: Value) -> Result<Value> {
        let r: UntagRequest = input::parse(body)?;
        for (i, key) in r.tag_keys.iter().enumerate() {
            let n = key.chars().count();
            if n == 0 || n > 128 {
                return Err(ControlError::invalid(format!(
                    "tagKeys[{i}]: must be 1 to 128 characters"
                )));
            }
        }
        let arn = self.resource(&r.resource_arn).await?;
        let keys = r.tag_keys;
        if !keys.is_empty() {
            self.core.db(move |s| s.untag(&arn, &keys)).await?;
        }
        Ok(json!({}))
    }

    pub(super) async fn list_tags_for_resource(&self, body: Value) -> Result<Value> {
        let r: ListRequest = input::parse(body)?;
        let arn = self.resource(&r.resource_arn).await?;
        let tags = self.core.db(move |s| s.tags(&arn)).await?;
        Ok(json!({ "tags": input::tags_json(&tags) }))
    }

    /// The canonical ARN of an existing taggable resource.
    async fn resource(&self, input: &str) -> Result<String> {
        let not_found = || {
            ControlError::ResourceNotFound(format!(
                "The specified resource could not be found: {input}"
            ))
        };
        let resource = match self.core.arns.parse(input) {
            Err(why) => {
                return Err(ControlError::invalid(format!(
                    "resourceArn: {input:?} {why}"
                )));
            }
            Ok(Parsed::Foreign) => return Err(not_found()),
            Ok(Parsed::Ours(r)) => r,
        };
        let arns = self.core.arns.clone();
        let arn = match resource {
            Resource::Cluster(name) => {
                self.core
                    .db(move |s| {
                        Ok(s.get_cluster(&name)?
                            .filter(|c| c.status == "ACTIVE")
                            .map(|c| arns.cluster(&c.name)))
                    })
                    .await?
            }
            Resource::TaskDefinition { revision: None, .. } => {
                return Err(ControlError::invalid(format!(
                    "resourceArn: {input:?} has no revision; a task definition ARN ends in family:revision"
                )));
            }
            Resource::TaskDefinition {
                family,
                revision: Some(revision),
            } => {
                self.core
                    .db(move |s| {
                        Ok(s.get_task_definition(&family, Some(revision))?
                            .map(|d| arns.task_definition(&d.family, d.revision)))
                    })
                    .await?
            }
            Resource::Task { cluster, id } => {
                self.core
                    .db(move |s| {
                        Ok(s.get_task(&id)?
                            .filter(|t| cluster.as_ref().is_none_or(|c| *c == t.cluster))
                            .map(|t| arns.task(&t.cluster, &t.task_id)))
                    })
                    .await?
            }
            // A service until it is INACTIVE (deleted); the legacy ARN without a cluster
            // names one in `default`.
            Resource::Service { cluster, name } => {
                let cluster = cluster.unwrap_or_else(|| super::DEFAULT_CLUSTER.to_owned());
                self.core
                    .db(move |s| {
                        Ok(s.get_service(&cluster, &name)?
                            .filter(|svc| svc.status != super::services::INACTIVE)
                            .map(|svc| arns.service(&svc.cluster, &svc.name)))
                    })
                    .await?
            }
            // The rest are not held by this host.
            Resource::Other(_) => None,
        };
        arn.ok_or_else(not_found)
    }
}
