//! An in-memory [`StateStore`] for unit tests of the modules above the store: the trait's
//! contract without a file.

use crate::state::{
    ClusterRecord, Document, Expect, Result, ServiceRecord, StateStore, TaskDefQuery,
    TaskDefRecord, TaskQuery, TaskRecord,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Mutex;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Data {
    pub clusters: BTreeMap<String, ClusterRecord>,
    /// (family, revision) → record.
    pub taskdefs: BTreeMap<(String, u32), TaskDefRecord>,
    /// Highest revision ever given per family.
    pub revisions: BTreeMap<String, u32>,
    pub tasks: BTreeMap<String, TaskRecord>,
    pub tags: BTreeMap<String, Vec<(String, String)>>,
    /// (cluster, name) → record.
    pub services: BTreeMap<(String, String), ServiceRecord>,
    /// (kind, key) → (value, revision).
    pub documents: BTreeMap<(String, String), (Value, u64)>,
}

#[derive(Default)]
pub struct MemStore {
    data: Mutex<Data>,
}

impl MemStore {
    pub fn dump(&self) -> Data {
        self.data().clone()
    }

    fn data(&self) -> std::sync::MutexGuard<'_, Data> {
        crate::util::sync::lock(&self.data)
    }
}

impl StateStore for MemStore {
    fn put_cluster(&self, cluster: &ClusterRecord) -> Result<()> {
        self.data()
            .clusters
            .insert(cluster.name.clone(), cluster.clone());
        Ok(())
    }

    fn get_cluster(&self, name: &str) -> Result<Option<ClusterRecord>> {
        Ok(self.data().clusters.get(name).cloned())
    }

    fn list_clusters(&self) -> Result<Vec<ClusterRecord>> {
        Ok(self.data().clusters.values().cloned().collect())
    }

    fn register_task_definition(
        &self,
        family: &str,
        definition: &Value,
        registered_at_ms: i64,
    ) -> Result<TaskDefRecord> {
        let mut d = self.data();
        let revision = d.revisions.get(family).copied().unwrap_or(0) + 1;
        d.revisions.insert(family.to_owned(), revision);
        let record = TaskDefRecord {
            family: family.to_owned(),
            revision,
            status: "ACTIVE".into(),
            registered_at_ms,
            deregistered_at_ms: None,
            definition: definition.clone(),
        };
        d.taskdefs
            .insert((family.to_owned(), revision), record.clone());
        Ok(record)
    }

    fn get_task_definition(
        &self,
        family: &str,
        revision: Option<u32>,
    ) -> Result<Option<TaskDefRecord>> {
        let d = self.data();
        Ok(match revision {
            Some(r) => d.taskdefs.get(&(family.to_owned(), r)).cloned(),
            None => d
                .taskdefs
                .values()
                .filter(|t| t.family == family && t.status == "ACTIVE")
                .max_by_key(|t| t.revision)
                .cloned(),
        })
    }

    fn set_task_definition_status(
        &self,
        family: &str,
        revision: u32,
        status: &str,
        at_ms: i64,
    ) -> Result<Option<TaskDefRecord>> {
        let mut d = self.data();
        Ok(d.taskdefs.get_mut(&(family.to_owned(), revision)).map(|t| {
            t.status = status.to_owned();
            t.deregistered_at_ms = Some(at_ms);
            t.clone()
        }))
    }

    fn list_task_definitions(&self, q: &TaskDefQuery) -> Result<Vec<TaskDefRecord>> {
        let d = self.data();
        let mut out: Vec<TaskDefRecord> = d
            .taskdefs
            .values()
            .filter(|t| {
                q.family_prefix
                    .as_ref()
                    .is_none_or(|p| t.family.starts_with(p.as_str()))
                    && q.status.as_ref().is_none_or(|s| t.status == *s)
            })
            .cloned()
            .collect();
        if q.descending {
            out.reverse();
        }
        Ok(out)
    }

    fn list_families(&self, prefix: Option<&str>, status: Option<&str>) -> Result<Vec<String>> {
        let d = self.data();
        let mut families: Vec<String> = d
            .taskdefs
            .values()
            .map(|t| t.family.clone())
            .filter(|f| prefix.is_none_or(|p| f.starts_with(p)))
            .collect();
        families.dedup();
        Ok(families
            .into_iter()
            .filter(|f| {
                let active = d
                    .taskdefs
                    .values()
                    .any(|t| t.family == *f && t.status == "ACTIVE");
                match status {
                    Some("ACTIVE") => active,
                    Some("INACTIVE") => !active,
                    _ => true,
                }
            })
            .collect())
    }

    fn put_task(&self, task: &TaskRecord) -> Result<()> {
        self.data().tasks.insert(task.task_id.clone(), task.clone());
        Ok(())
    }

    fn get_task(&self, task_id: &str) -> Result<Option<TaskRecord>> {
        Ok(self.data().tasks.get(task_id).cloned())
    }

    fn list_tasks(&self, q: &TaskQuery) -> Result<Vec<TaskRecord>> {
        let d = self.data();
        let mut out: Vec<TaskRecord> = d
            .tasks
            .values()
            .filter(|t| {
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
                        .is_none_or(|s| t.desired_status == *s)
            })
            .cloned()
            .collect();
        out.sort_by_key(|t| t.created_at_ms);
        Ok(out)
    }

    fn unfinished_tasks(&self) -> Result<Vec<TaskRecord>> {
        Ok(self
            .data()
            .tasks
            .values()
            .filter(|t| t.last_status != "STOPPED")
            .cloned()
            .collect())
    }

    fn prune_stopped_tasks(&self, before_ms: i64) -> Result<usize> {
        let mut d = self.data();
        let before = d.tasks.len();
        d.tasks.retain(|_, t| {
            !(t.last_status == "STOPPED" && t.stopped_at_ms.is_some_and(|at| at < before_ms))
        });
        Ok(before - d.tasks.len())
    }

    fn put_service(&self, service: &ServiceRecord) -> Result<()> {
        self.data().services.insert(
            (service.cluster.clone(), service.name.clone()),
            service.clone(),
        );
        Ok(())
    }

    fn get_service(&self, cluster: &str, name: &str) -> Result<Option<ServiceRecord>> {
        Ok(self
            .data()
            .services
            .get(&(cluster.to_owned(), name.to_owned()))
            .cloned())
    }

    fn list_services(&self, status: Option<&str>) -> Result<Vec<ServiceRecord>> {
        let mut all: Vec<ServiceRecord> = self
            .data()
            .services
            .values()
            .filter(|s| status.is_none_or(|st| s.status == st))
            .cloned()
            .collect();
        all.sort_by_key(|s| s.created_at_ms);
        Ok(all)
    }

    fn tags(&self, arn: &str) -> Result<Vec<(String, String)>> {
        Ok(self.data().tags.get(arn).cloned().unwrap_or_default())
    }

    fn tag(&self, arn: &str, tags: &[(String, String)]) -> Result<()> {
        let mut d = self.data();
        let entry = d.tags.entry(arn.to_owned()).or_default();
        for (k, v) in tags {
            match entry.iter_mut().find(|(ek, _)| ek == k) {
                Some(slot) => slot.1.clone_from(v),
                None => entry.push((k.clone(), v.clone())),
            }
        }
        Ok(())
    }

    fn untag(&self, arn: &str, keys: &[String]) -> Result<()> {
        let mut d = self.data();
        if let Some(entry) = d.tags.get_mut(arn) {
            entry.retain(|(k, _)| !keys.contains(k));
            if entry.is_empty() {
                d.tags.remove(arn);
            }
        }
        Ok(())
    }

    fn put_document(
        &self,
        kind: &str,
        key: &str,
        value: &Value,
        expect: Expect,
    ) -> Result<Option<u64>> {
        let mut data = self.data();
        let id = (kind.to_owned(), key.to_owned());
        let current = data.documents.get(&id).map(|(_, r)| *r);
        let holds = match expect {
            Expect::Any => true,
            Expect::Absent => current.is_none(),
            Expect::Revision(r) => current == Some(r),
        };
        if !holds {
            return Ok(None);
        }
        let next = current.unwrap_or(0) + 1;
        data.documents.insert(id, (value.clone(), next));
        Ok(Some(next))
    }

    fn get_document(&self, kind: &str, key: &str) -> Result<Option<Document>> {
        let data = self.data();
        Ok(data
            .documents
            .get(&(kind.to_owned(), key.to_owned()))
            .map(|(value, revision)| Document {
                kind: kind.to_owned(),
                key: key.to_owned(),
                value: value.clone(),
                revision: *revision,
            }))
    }

    fn list_documents(&self, kind: &str, prefix: &str) -> Result<Vec<Document>> {
        let data = self.data();
        Ok(data
            .documents
            .iter()
            .filter(|((k, key), _)| k == kind && key.starts_with(prefix))
            .map(|((k, key), (value, revision))| Document {
                kind: k.clone(),
                key: key.clone(),
                value: value.clone(),
                revision: *revision,
            })
            .collect())
    }

    fn delete_document(&self, kind: &str, key: &str, expect: Expect) -> Result<bool> {
        let mut data = self.data();
        let id = (kind.to_owned(), key.to_owned());
        let current = data.documents.get(&id).map(|(_, r)| *r);
        let holds = match expect {
            Expect::Any => current.is_some(),
            Expect::Absent => false,
            Expect::Revision(r) => current == Some(r),
        };
        if holds {
            data.documents.remove(&id);
        }
        Ok(holds)
    }
}
