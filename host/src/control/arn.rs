//! ECS ARNs (`arn:aws:ecs:{region}:{account}:{type}/{…}`) and the references requests
//! carry: a short name or id, or a full ARN.

use super::error::{ControlError, Result};
use super::input::is_valid_name;

/// Builds and reads ARNs for this host's region and account.
#[derive(Debug, Clone)]
pub struct Arns {
    region: String,
    account: String,
}

/// What an ARN of this host names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    Cluster(String),
    TaskDefinition {
        family: String,
        revision: Option<u32>,
    },
    /// `task/{cluster}/{id}`, or the legacy `task/{id}` without the cluster.
    Task {
        cluster: Option<String>,
        id: String,
    },
    /// `service/{cluster}/{name}`, or the legacy `service/{name}` without the cluster.
    Service {
        cluster: Option<String>,
        name: String,
    },
    /// A well-formed ARN of a kind this host does not hold (yet): container instances,
    /// capacity providers, task sets.
    Other(String),
}

/// The outcome of reading an ARN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Ours(Resource),
    /// Well-formed, but of another region or account: nothing here has it.
    Foreign,
}

const OTHER_KINDS: &[&str] = &[
    "container-instance",
    "capacity-provider",
    "task-set",
    "container",
];

impl Arns {
    pub fn new(region: &str, account: &str) -> Self {
        Self {
            region: region.to_owned(),
            account: account.to_owned(),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    fn prefix(&self) -> String {
        format!("arn:aws:ecs:{}:{}", self.region, self.account)
    }

    pub fn cluster(&self, name: &str) -> String {
        format!("{}:cluster/{name}", self.prefix())
    }

    pub fn task_definition(&self, family: &str, revision: u32) -> String {
        format!("{}:task-definition/{family}:{revision}", self.prefix())
    }

    pub fn task(&self, cluster: &str, id: &str) -> String {
        format!("{}:task/{cluster}/{id}", self.prefix())
    }

    pub fn service(&self, cluster: &str, name: &str) -> String {
        format!("{}:service/{cluster}/{name}", self.prefix())
    }

    pub fn container(&self, cluster: &str, task_id: &str, container_id: &str) -> String {
        format!(
            "{}:container/{cluster}/{task_id}/{container_id}",
            self.prefix()
        )
    }

    /// Reads an ARN; `Err` carries why it is not a well-formed ECS ARN.
    pub fn parse(&self, arn: &str) -> std::result::Result<Parsed, String> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(service), Some(region), Some(account), Some(rest)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err("is not an ARN (arn:aws:ecs:<region>:<account>:<resource>)".into());
        };
        if partition.is_empty() || region.is_empty() || account.is_empty() {
            return Err("is not a complete ARN".into());
        }
        if service != "ecs" {
            return Err("is not an Amazon ECS ARN".into());
        }
        let resource = resource(rest)?;
        if partition != "aws" || region != self.region || account != self.account {
            return Ok(Parsed::Foreign);
        }
        Ok(Parsed::Ours(resource))
    }

    /// A cluster reference (`cluster` members): name or ARN. `Ok(None)`: it names no
    /// cluster this host could have.
    pub fn cluster_ref(&self, member: &str, input: &str) -> Result<Option<String>> {
        if input.starts_with("arn:") {
            return match self.parse(input) {
                Ok(Parsed::Ours(Resource::Cluster(name))) => Ok(Some(name)),
                Ok(Parsed::Foreign) => Ok(None),
                Ok(Parsed::Ours(_)) => Err(ControlError::invalid(format!(
                    "{member}: {input:?} is not a cluster ARN"
                ))),
                Err(why) => Err(ControlError::invalid(format!("{member}: {input:?} {why}"))),
            };
        }
        Ok(is_valid_name(input).then(|| input.to_owned()))
    }

    /// A task reference (`task`, `tasks[]`): id or ARN. `Ok(None)`: no such task can exist.
    pub fn task_ref(&self, member: &str, input: &str) -> Result<Option<TaskRef>> {
        if input.starts_with("arn:") {
            return match self.parse(input) {
                Ok(Parsed::Ours(Resource::Task { cluster, id })) => {
                    Ok(Some(TaskRef { cluster, id }))
                }
                Ok(Parsed::Foreign) => Ok(None),
                Ok(Parsed::Ours(_)) => Err(ControlError::invalid(format!(
                    "{member}: {input:?} is not a task ARN"
                ))),
                Err(why) => Err(ControlError::invalid(format!("{member}: {input:?} {why}"))),
            };
        }
        Ok(is_task_id(input).then(|| TaskRef {
            cluster: None,
            id: input.to_owned(),
        }))
    }

    /// A task definition reference: `family`, `family:revision` or the ARN.
    pub fn task_definition_ref(&self, member: &str, input: &str) -> Result<Option<TaskDefRef>> {
        if input.starts_with("arn:") {
            return match self.parse(input) {
                Ok(Parsed::Ours(Resource::TaskDefinition { family, revision })) => {
                    Ok(Some(TaskDefRef { family, revision }))
                }
                Ok(Parsed::Foreign) => Ok(None),
                Ok(Parsed::Ours(_)) => Err(ControlError::invalid(format!(
                    "{member}: {input:?} is not a task definition ARN"
                ))),
                Err(why) => Err(ControlError::invalid(format!("{member}: {input:?} {why}"))),
            };
        }
        match family_revision(input) {
            Ok((family, revision)) => Ok(Some(TaskDefRef { family, revision })),
            Err(why) => Err(ControlError::invalid(format!("{member}: {input:?} {why}"))),
        }
    }
}

/// A task named by a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRef {
    /// Set when the reference was a long task ARN.
    pub cluster: Option<String>,
    pub id: String,
}

/// A task definition named by a request; no revision means the latest ACTIVE one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDefRef {
    pub family: String,
    pub revision: Option<u32>,
}

/// Task ids: 32 lowercase hex digits here; legacy ECS ids are UUIDs with dashes.
pub fn is_task_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn resource(rest: &str) -> std::result::Result<Resource, String> {
    let Some((kind, path)) = rest.split_once('/') else {
        return Err("does not name a resource type (e.g. cluster/<name>)".into());
    };
    match kind {
        "cluster" if is_valid_name(path) => Ok(Resource::Cluster(path.to_owned())),
        "cluster" => Err("does not hold a valid cluster name".into()),
        "task-definition" => {
            let (family, revision) = family_revision(path)?;
            Ok(Resource::TaskDefinition { family, revision })
        }
        "task" => match path.split_once('/') {
            Some((cluster, id)) if is_valid_name(cluster) && is_task_id(id) => Ok(Resource::Task {
                cluster: Some(cluster.to_owned()),
                id: id.to_owned(),
            }),
            None if is_task_id(path) => Ok(Resource::Task {
                cluster: None,
                id: path.to_owned(),
            }),
            _ => Err("does not hold a valid task id".into()),
        },
        "service" => match path.split_once('/') {
            Some((cluster, name)) if is_valid_name(cluster) && is_valid_name(name) => {
                Ok(Resource::Service {
                    cluster: Some(cluster.to_owned()),
                    name: name.to_owned(),
                })
            }
            None if is_valid_name(path) => Ok(Resource::Service {
                cluster: None,
                name: path.to_owned(),
            }),
            _ => Err("does not hold a valid service name".into()),
        },
        k if OTHER_KINDS.contains(&k) && !path.is_empty() => Ok(Resource::Other(k.to_owned())),
        _ => Err(format!("names an unknown resource type {kind:?}")),
    }
}

/// `family` or `family:revision`.
fn family_revision(text: &str) -> std::result::Result<(String, Option<u32>), String> {
    let (family, revision) = match text.split_once(':') {
        Some((family, revision)) => {
            let revision = revision
                .parse::<u32>()
                .ok()
                .filter(|r| *r >= 1 && revision.bytes().all(|b| b.is_ascii_digit()))
                .ok_or("has an invalid revision: a revision is a number of 1 or more")?;
            (family, Some(revision))
        }
        None => (text, None),
    };
    if !is_valid_name(family) {
        return Err("does not hold a valid family name".into());
    }
    Ok((family.to_owned(), revision))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arns() -> Arns {
        Arns::new("us-east-1", "123456789012")
    }

    #[test]
    fn builds_ecs_formats() {
        let a = arns();
        assert_eq!(
            a.cluster("default"),
            "arn:aws:ecs:us-east-1:123456789012:cluster/default"
        );
        assert_eq!(
            a.task_definition("web", 3),
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3"
        );
        assert_eq!(
            a.task("default", "0123abcd"),
            "arn:aws:ecs:us-east-1:123456789012:task/default/0123abcd"
        );
    }

    #[test]
    fn reads_what_it_builds() {
        let a = arns();
        let ours = |arn: String| a.parse(&arn);
        assert_eq!(
            ours(a.cluster("c1")),
            Ok(Parsed::Ours(Resource::Cluster("c1".into())))
        );
        assert_eq!(
            ours(a.task_definition("web", 12)),
            Ok(Parsed::Ours(Resource::TaskDefinition {
                family: "web".into(),
                revision: Some(12)
            }))
        );
        assert_eq!(
            ours(a.task("c1", "abc")),
            Ok(Parsed::Ours(Resource::Task {
                cluster: Some("c1".into()),
                id: "abc".into()
            }))
        );
        assert_eq!(
            a.parse("arn:aws:ecs:us-east-1:123456789012:task/abc"),
            Ok(Parsed::Ours(Resource::Task {
                cluster: None,
                id: "abc".into()
            }))
        );
        assert_eq!(
            a.parse("arn:aws:ecs:eu-west-1:123456789012:cluster/c1"),
            Ok(Parsed::Foreign)
        );
        assert_eq!(
            ours(a.service("c1", "s1")),
            Ok(Parsed::Ours(Resource::Service {
                cluster: Some("c1".into()),
                name: "s1".into()
            }))
        );
        assert_eq!(
            a.parse("arn:aws:ecs:us-east-1:123456789012:service/s1"),
            Ok(Parsed::Ours(Resource::Service {
                cluster: None,
                name: "s1".into()
            }))
        );
        assert_eq!(
            a.parse("arn:aws:ecs:us-east-1:123456789012:container-instance/c1/x"),
            Ok(Parsed::Ours(Resource::Other("container-instance".into())))
        );
    }

    #[test]
    fn refuses_malformed_arns() {
        let a = arns();
        for bad in [
            "arn:aws:ecs:us-east-1:123456789012",
            "arn:aws:s3:us-east-1:123456789012:cluster/x",
            "arn:aws:ecs:us-east-1:123456789012:cluster/bad name",
            "arn:aws:ecs:us-east-1:123456789012:widget/x",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:0",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:x",
            "arn:aws:ecs:us-east-1:123456789012:task-definition/web:+1",
            "arn:aws:ecs:us-east-1:123456789012:task/c1/",
            "arn:aws:ecs:us-east-1:123456789012:service/c1/bad name",
            "arn:aws:ecs::123456789012:cluster/x",
            "arn:aws:ecs:us-east-1:123456789012:cluster",
            "not-an-arn",
        ] {
            assert!(a.parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references() {
        let a = arns();
        assert_eq!(a.cluster_ref("cluster", "c1").ok(), Some(Some("c1".into())));
        assert_eq!(a.cluster_ref("cluster", "bad name").ok(), Some(None));
        assert!(a.cluster_ref("cluster", &a.task("c", "t")).is_err());
        assert_eq!(
            a.task_definition_ref("taskDefinition", "web:2").ok(),
            Some(Some(TaskDefRef {
                family: "web".into(),
                revision: Some(2)
            }))
        );
        assert!(a.task_definition_ref("taskDefinition", "web:two").is_err());
        assert!(a.task_definition_ref("taskDefinition", "").is_err());
        assert_eq!(a.task_ref("task", "x/y").ok(), Some(None));
    }
}
