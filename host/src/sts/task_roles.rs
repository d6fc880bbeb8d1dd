//! Task-role credentials (issue 13 item 1): the runtime's [`TaskCredentialsProvider`] over
//! STS sessions. A task whose definition names a `taskRoleArn` gets a session of that role
//! named after the task (`arn:aws:sts::<account>:assumed-role/<role>/<task-id>`) when it
//! starts, a fresh one once the current one is past half its life (the old one stays valid
//! until it expires, as AWS's rotation has it), and every session it was given is revoked
//! when it stops: the API refuses them from the next request on.
//!
//! [`TaskRoleCredentials::check_role`] is ECS's rule at RunTask/CreateService: the role
//! exists and its trust policy lets `ecs-tasks.amazonaws.com` assume it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;

use super::sessions::{Grant, Session, Sessions};
use crate::iam::policy::{ConditionKeys, EvalContext, evaluate_trust};
use crate::iam::store::IamStore;
use crate::runtime::{ContainerCredentials, TaskCredentialsProvider, TaskRole};
use crate::util::sync::lock;

/// The service principal tasks assume their roles as.
pub const ECS_TASKS: &str = "ecs-tasks.amazonaws.com";

/// How long a task's session lasts (ECS hands out six-hour credentials).
pub const LIFETIME: Duration = Duration::from_secs(6 * 3600);

/// What a task's sessions record as their source: sessions of this source left by a
/// host that stopped belong to tasks that are gone, and are revoked at start.
const SOURCE: &str = "ecs-tasks.amazonaws.com";

/// One task's sessions: the one handed out now and every one it was given.
struct TaskSessions {
    role_arn: String,
    current: Session,
    issued: Vec<String>,
}

pub struct TaskRoleCredentials {
    iam: Arc<IamStore>,
    sessions: Arc<Sessions>,
    lifetime: Duration,
    tasks: Mutex<HashMap<String, TaskSessions>>,
}

impl TaskRoleCredentials {
    /// Revokes the task sessions a previous host left behind (its tasks did not survive it).
    pub fn new(iam: Arc<IamStore>, sessions: Arc<Sessions>) -> Self {
        match sessions.revoke_where(|s| s.source_arn == SOURCE) {
            Ok(0) => {}
            Ok(n) => tracing::info!("sts: revoked {n} task-role sessions of tasks that are gone"),
            Err(e) => tracing::warn!("sts: cannot revoke old task-role sessions: {e}"),
        }
        Self {
            iam,
            sessions,
            lifetime: LIFETIME,
            tasks: Mutex::new(HashMap::new()),
        }
    }

    /// For `wasmgate run`, which may share the data directory with a running `serve`:
    /// other hosts' task sessions are left alone.
    pub fn for_run(iam: Arc<IamStore>, sessions: Arc<Sessions>) -> Self {
        Self {
            iam,
            sessions,
            lifetime: LIFETIME,
            tasks: Mutex::new(HashMap::new()),
        }
    }

    /// Sessions of another length (tests of rotation).
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// A new session of `role_arn`'s role for `task_id`; `None` (logged) if the role is
    /// gone or the store fails.
    fn issue(&self, task_id: &str, role_arn: &str) -> Option<Session> {
        let name = crate::secrets::execution::role_name(role_arn);
        let Some(role) = self.iam.role(name) else {
            tracing::warn!(
                task = task_id,
                "sts: the task role {role_arn} does not exist"
            );
            return None;
        };
        let now = OffsetDateTime::now_utc();
        let lifetime = time::Duration::try_from(self.lifetime).unwrap_or(time::Duration::HOUR);
        let grant = Grant {
            account: self.iam.account_id().to_owned(),
            role_name: role.name.clone(),
            role_id: role.id.clone(),
            session_name: task_id.to_owned(),
            tags: Vec::new(),
            source_arn: SOURCE.to_owned(),
            source_identity: None,
            expires_at: now + lifetime,
        };
        match self.sessions.issue(grant, now) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(
                    task = task_id,
                    "sts: cannot issue task-role credentials: {e}"
                );
                None
            }
        }
    }

    /// Whether `s` is past half its life, when a new session is handed out.
    fn due(&self, s: &Session) -> bool {
        let half = time::Duration::try_from(self.lifetime / 2).unwrap_or(time::Duration::ZERO);
        OffsetDateTime::now_utc() >= s.expires_at - half
    }
}

impl TaskCredentialsProvider for TaskRoleCredentials {
    fn credentials(&self, task_id: &str) -> Option<ContainerCredentials> {
        let mut tasks = lock(&self.tasks);
        let entry = tasks.get_mut(task_id)?;
        if self.due(&entry.current)
            && let Some(fresh) = self.issue(task_id, &entry.role_arn)
        {
            entry.issued.push(fresh.access_key_id.clone());
            entry.current = fresh;
        }
        // A session revoked from elsewhere (its role deleted) is not handed out.
        let s = self.sessions.get(&entry.current.access_key_id)?;
        // A role deleted (or deleted and made again) since: its sessions grant nothing.
        let role_arn = self
            .iam
            .role(&s.role_name)
            .filter(|r| r.id == s.role_id)?
            .arn
            .clone();
        Some(ContainerCredentials {
            access_key_id: s.access_key_id.clone(),
            secret_access_key: s.secret_access_key.clone(),
            token: s.session_token.clone(),
            expiration: SystemTime::UNIX_EPOCH
                + Duration::from_secs(u64::try_from(s.expires_at.unix_timestamp()).unwrap_or(0)),
            role_arn,
        })
    }

    fn check_role(&self, role_arn: &str) -> Result<(), String> {
        let refused = || {
            format!(
                "ECS was unable to assume the role '{role_arn}' that was provided for this \
                 task. Please verify that the role being passed has the proper trust \
                 relationship and permissions and that your IAM user has permissions to pass \
                 this role."
            )
        };
        let name = crate::secrets::execution::role_name(role_arn);
        let role = self.iam.role(name).ok_or_else(refused)?;
        if role_arn.starts_with("arn:") && role.arn != role_arn {
            return Err(refused());
        }
        let trust = self
            .iam
            .parsed_trust(&role.trust_policy)
            .map_err(|_| refused())?;
        let ctx = EvalContext {
            action: "sts:AssumeRole".into(),
            resource: role.arn.clone(),
            principal_arn: ECS_TASKS.into(),
            keys: ConditionKeys::new(),
        };
        if evaluate_trust(&trust, &ctx).is_allowed() {
            Ok(())
        } else {
            Err(refused())
        }
    }

    fn task_started(&self, task: &TaskRole) {
        let Some(s) = self.issue(&task.task_id, &task.role_arn) else {
            return;
        };
        let entry = TaskSessions {
            role_arn: task.role_arn.clone(),
            issued: vec![s.access_key_id.clone()],
            current: s,
        };
        lock(&self.tasks).insert(task.task_id.clone(), entry);
    }

    fn task_stopped(&self, task_id: &str) {
        let Some(entry) = lock(&self.tasks).remove(task_id) else {
            return;
        };
        for key in entry.issued {
            if let Err(e) = self.sessions.revoke_session(&key) {
                tracing::warn!(
                    task = task_id,
                    "sts: cannot revoke task-role session {key}: {e}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iam::store::{Holder, NewRole};
    use crate::protocol::CredentialSource;
    use crate::state::memory::MemStore;

    const TRUST_TASKS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    const TRUST_EC2: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;

    fn fixture() -> (Arc<IamStore>, Arc<Sessions>) {
        let store: Arc<dyn crate::state::StateStore> = Arc::new(MemStore::default());
        let iam = Arc::new(IamStore::new(store.clone(), "000000000000", "us-east-1").unwrap());
        for (name, trust) in [("app", TRUST_TASKS), ("ec2", TRUST_EC2)] {
            iam.create_role(NewRole {
                name: name.into(),
                trust_policy: trust.into(),
                ..NewRole::default()
            })
            .unwrap();
        }
        iam.put_inline_policy(
            Holder::Role,
            "app",
            "p",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:ListClusters","Resource":"*"}]}"#,
        )
        .unwrap();
        let sessions = Arc::new(Sessions::open(store, OffsetDateTime::now_utc()).unwrap());
        (iam, sessions)
    }

    fn task(id: &str) -> TaskRole {
        TaskRole {
            task_id: id.into(),
            task_arn: format!("arn:aws:ecs:us-east-1:000000000000:task/default/{id}"),
            role_arn: "arn:aws:iam::000000000000:role/app".into(),
        }
    }

    #[test]
    fn only_existing_roles_that_trust_ecs_tasks_are_accepted() {
        let (iam, sessions) = fixture();
        let p = TaskRoleCredentials::new(iam, sessions);
        assert!(p.check_role("arn:aws:iam::000000000000:role/app").is_ok());
        assert!(p.check_role("app").is_ok());
        for bad in [
            "arn:aws:iam::000000000000:role/ec2",
            "arn:aws:iam::000000000000:role/nobody",
            "arn:aws:iam::111111111111:role/app",
        ] {
            let e = p.check_role(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("unable to assume"), "{e}");
        }
    }

    #[test]
    fn a_task_gets_a_session_named_after_it_revoked_when_it_stops() {
        let (iam, sessions) = fixture();
        let p = TaskRoleCredentials::new(iam, sessions.clone());
        assert!(p.credentials("t1").is_none(), "nothing before the start");
        p.task_started(&task("t1"));
        let c = p.credentials("t1").unwrap();
        assert_eq!(c.role_arn, "arn:aws:iam::000000000000:role/app");
        let source = sessions.credential(&c.access_key_id).unwrap();
        assert_eq!(
            source.principal.arn,
            "arn:aws:sts::000000000000:assumed-role/app/t1"
        );
        assert_eq!(source.session_token.as_deref(), Some(c.token.as_str()));
        let left = c.expiration.duration_since(SystemTime::now()).unwrap();
        assert!(left > Duration::from_secs(5 * 3600), "{left:?}");
        // The same credentials until rotation is due.
        assert_eq!(p.credentials("t1").unwrap(), c);
        p.task_stopped("t1");
        assert!(sessions.credential(&c.access_key_id).is_none());
        assert!(p.credentials("t1").is_none());
    }

    #[test]
    fn credentials_rotate_past_half_their_life_and_every_one_ends_at_stop() {
        let (iam, sessions) = fixture();
        // Two seconds of life: past half of it after one.
        let p =
            TaskRoleCredentials::new(iam, sessions.clone()).with_lifetime(Duration::from_secs(2));
        p.task_started(&task("t2"));
        let first = p.credentials("t2").unwrap();
        std::thread::sleep(Duration::from_millis(1100));
        let second = p.credentials("t2").unwrap();
        assert_ne!(first.access_key_id, second.access_key_id);
        // The old session stays valid until it expires, as AWS's rotation has it.
        assert!(sessions.credential(&first.access_key_id).is_some());
        p.task_stopped("t2");
        assert!(sessions.credential(&first.access_key_id).is_none());
        assert!(sessions.credential(&second.access_key_id).is_none());
    }

    #[test]
    fn a_deleted_role_hands_out_nothing_and_a_restart_revokes_old_task_sessions() {
        let (iam, sessions) = fixture();
        let p = TaskRoleCredentials::new(iam.clone(), sessions.clone());
        p.task_started(&task("t3"));
        let c = p.credentials("t3").unwrap();
        iam.delete_inline_policy(Holder::Role, "app", "p").unwrap();
        iam.delete_role("app").unwrap();
        assert!(p.credentials("t3").is_none());
        // A new host over the same sessions: the gone task's session is revoked.
        let _again = TaskRoleCredentials::new(iam, sessions.clone());
        assert!(sessions.credential(&c.access_key_id).is_none());
    }
}
