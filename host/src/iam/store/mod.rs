//! IAM's state: users, groups, roles, customer managed policies and access keys, each a
//! state-store document (`iam.user/<name>`, …, `iam.access-key/<id>`), mirrored in memory.
//!
//! The mirror answers every read (SigV4's key lookup and the authoriser's policy lookup run
//! on every request, so they must not touch the disk); a write goes to the state store
//! first, with a compare-and-swap on the document's revision, and reaches the mirror only
//! once it is durable. Writers are serialised by one lock, so invariants that span
//! documents (a policy may not be deleted while attached, a user not while it has keys)
//! are checked and kept without transactions: every operation writes one document.
//!
//! Names compare case-insensitively, as IAM's do (`Alice` and `alice` are one user); the
//! document key is the lower-cased name, the document keeps the name as created.
//!
//! Store calls block on the state store; the API runs them on the blocking pool.

mod documents;
mod error;
mod groups;
pub mod ids;
mod inline;
mod keys;
pub mod model;
mod policies;
mod principal;
mod roles;
mod source;
mod users;
pub mod validate;

pub use documents::TRUST_POLICY_MAX_CHARS;
pub use error::{IamError, IamResult};
pub use model::{
    AccessKey, Group, Holder, KeyStatus, ManagedPolicy, PolicyVersion, Role, Tag, User,
};
pub use policies::{ListPoliciesQuery, NewPolicy, PolicyScope};
pub use principal::{HeldPolicy, PolicyOrigin};
pub use roles::NewRole;

use crate::iam::policy::{PolicyDocument, PolicyError};
use crate::state::{Expect, StateStore};
use crate::util::sync;
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};

/// A stored entity and the revision of its document.
#[derive(Debug)]
struct Entry<T> {
    value: Arc<T>,
    revision: u64,
}

impl<T> Clone for Entry<T> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            revision: self.revision,
        }
    }
}

type Table<T> = BTreeMap<String, Entry<T>>;

/// The in-memory mirror of every IAM document.
#[derive(Debug, Default)]
struct Index {
    users: Table<User>,
    groups: Table<Group>,
    roles: Table<Role>,
    /// By lower-cased policy name (names are unique in an account, whatever the path).
    policies: Table<ManagedPolicy>,
    /// By access key id.
    keys: Table<AccessKey>,
}

/// IAM's default account quotas (`UsersPerAccount`, …): every entity is state this host
/// keeps and mirrors in memory, so no caller may create them without end.
pub const MAX_USERS: usize = 5000;
pub const MAX_GROUPS: usize = 300;
pub const MAX_ROLES: usize = 1000;
pub const MAX_POLICIES: usize = 1500;
/// Groups one user may be in (`GroupsPerUser`).
pub const MAX_GROUPS_PER_USER: usize = 10;

/// An entity kind: its document kind, key and table.
trait Stored: Serialize + DeserializeOwned + Send + Sync + 'static {
    const KIND: &'static str;
    /// The account quota's name and value (access keys have a per-user one instead).
    const QUOTA: Option<(&'static str, usize)>;
    fn key(&self) -> String;
    fn table(index: &Index) -> &Table<Self>;
    fn table_mut(index: &mut Index) -> &mut Table<Self>;
}

macro_rules! stored {
    ($t:ty, $kind:expr, $quota:expr, $field:ident, |$v:ident| $key:expr) => {
        impl Stored for $t {
            const KIND: &'static str = $kind;
            const QUOTA: Option<(&'static str, usize)> = $quota;
            fn key(&self) -> String {
                let $v = self;
                $key
            }
            fn table(index: &Index) -> &Table<Self> {
                &index.$field
            }
            fn table_mut(index: &mut Index) -> &mut Table<Self> {
                &mut index.$field
            }
        }
    };
}

stored!(
    User,
    model::USER,
    Some(("UsersPerAccount", MAX_USERS)),
    users,
    |u| key(&u.name)
);
stored!(
    Group,
    model::GROUP,
    Some(("GroupsPerAccount", MAX_GROUPS)),
    groups,
    |g| key(&g.name)
);
stored!(
    Role,
    model::ROLE,
    Some(("RolesPerAccount", MAX_ROLES)),
    roles,
    |r| key(&r.name)
);
stored!(
    ManagedPolicy,
    model::POLICY,
    Some(("CustomerManagedPoliciesPerAccount", MAX_POLICIES)),
    policies,
    |p| key(&p.name)
);
stored!(AccessKey, model::ACCESS_KEY, None, keys, |k| k.id.clone());

/// The document key of a name: IAM names compare case-insensitively.
fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// IAM's state for one account.
pub struct IamStore {
    state: Arc<dyn StateStore>,
    account_id: String,
    region: String,
    index: RwLock<Index>,
    parsed: documents::Parsed,
    /// Held by every write from its checks to its mirror update.
    writer: Mutex<()>,
    /// Moves on every write, once the mirror shows it: what was derived from the mirror
    /// before (a task's cached network decisions) is stale once it moved.
    generation: AtomicU64,
}

impl std::fmt::Debug for IamStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IamStore")
            .field("account_id", &self.account_id)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl IamStore {
    /// Loads every IAM document of `state` into the mirror.
    pub fn new(
        state: Arc<dyn StateStore>,
        account_id: impl Into<String>,
        region: impl Into<String>,
    ) -> IamResult<Self> {
        let mut index = Index::default();
        load::<User>(&*state, &mut index)?;
        load::<Group>(&*state, &mut index)?;
        load::<Role>(&*state, &mut index)?;
        load::<ManagedPolicy>(&*state, &mut index)?;
        load::<AccessKey>(&*state, &mut index)?;
        Ok(Self {
            state,
            account_id: account_id.into(),
            region: region.into(),
            index: RwLock::new(index),
            parsed: documents::Parsed::default(),
            writer: Mutex::new(()),
            generation: AtomicU64::new(0),
        })
    }

    /// How many writes the mirror has seen (see the field).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// A stored identity policy's text, parsed (once per text).
    pub fn parsed_identity(&self, text: &str) -> Result<Arc<PolicyDocument>, PolicyError> {
        self.parsed.identity(text)
    }

    /// A role's trust policy, parsed (once per text): what AssumeRole evaluates.
    pub fn parsed_trust(&self, text: &str) -> Result<Arc<PolicyDocument>, PolicyError> {
        self.parsed.trust(text)
    }

    // Lookups: from the mirror, never blocking on the state store.

    pub fn user(&self, name: &str) -> Option<Arc<User>> {
        self.get::<User>(&key(name))
    }

    pub fn group(&self, name: &str) -> Option<Arc<Group>> {
        self.get::<Group>(&key(name))
    }

    pub fn role(&self, name: &str) -> Option<Arc<Role>> {
        self.get::<Role>(&key(name))
    }

    /// The user, or `NoSuchEntity`.
    pub fn require_user(&self, name: &str) -> IamResult<Arc<User>> {
        self.user(name)
            .ok_or_else(|| IamError::no_such("user", name))
    }

    pub fn require_group(&self, name: &str) -> IamResult<Arc<Group>> {
        self.group(name)
            .ok_or_else(|| IamError::no_such("group", name))
    }

    pub fn require_role(&self, name: &str) -> IamResult<Arc<Role>> {
        self.role(name)
            .ok_or_else(|| IamError::no_such("role", name))
    }

    /// A customer managed policy by ARN (`arn:aws:iam::<account>:policy/<path><name>`).
    pub fn policy(&self, arn: &str) -> Option<Arc<ManagedPolicy>> {
        let name = arn.rsplit('/').next()?;
        self.get::<ManagedPolicy>(&key(name))
            .filter(|p| p.arn == arn)
    }

    /// An access key and its user, for SigV4: whatever its status (the caller refuses an
    /// inactive one).
    pub fn access_key(&self, id: &str) -> Option<(Arc<AccessKey>, Arc<User>)> {
        let index = self.read();
        let k = index.keys.get(id)?.value.clone();
        let u = index.users.get(&key(&k.user_name))?.value.clone();
        Some((k, u))
    }

    /// Every user, by name.
    pub fn users(&self) -> Vec<Arc<User>> {
        self.all::<User>()
    }

    pub fn groups(&self) -> Vec<Arc<Group>> {
        self.all::<Group>()
    }

    pub fn roles(&self) -> Vec<Arc<Role>> {
        self.all::<Role>()
    }

    /// A user's access keys, oldest first.
    pub fn keys_of(&self, user_name: &str) -> Vec<Arc<AccessKey>> {
        let k = key(user_name);
        let mut keys: Vec<Arc<AccessKey>> = self
            .read()
            .keys
            .values()
            .filter(|e| key(&e.value.user_name) == k)
            .map(|e| e.value.clone())
            .collect();
        keys.sort_by(|a, b| a.created.total_cmp(&b.created));
        keys
    }

    /// The users in a group, by name.
    pub fn members_of(&self, group_name: &str) -> Vec<Arc<User>> {
        let k = key(group_name);
        self.read()
            .users
            .values()
            .filter(|e| e.value.groups.iter().any(|g| key(g) == k))
            .map(|e| e.value.clone())
            .collect()
    }

    /// How many users, groups and roles have `arn` attached.
    pub fn attachment_count(&self, arn: &str) -> usize {
        attachment_count(&self.read(), arn)
    }

    pub(crate) fn user_arn(&self, path: &str, name: &str) -> String {
        format!("arn:aws:iam::{}:user{path}{name}", self.account_id)
    }

    // The mirror and the documents.

    fn read(&self) -> RwLockReadGuard<'_, Index> {
        sync::read(&self.index)
    }

    fn lock_writer(&self) -> MutexGuard<'_, ()> {
        sync::lock(&self.writer)
    }

    fn get<T: Stored>(&self, k: &str) -> Option<Arc<T>> {
        T::table(&self.read()).get(k).map(|e| e.value.clone())
    }

    fn entry<T: Stored>(&self, k: &str) -> Option<Entry<T>> {
        T::table(&self.read()).get(k).cloned()
    }

    fn all<T: Stored>(&self) -> Vec<Arc<T>> {
        T::table(&self.read())
            .values()
            .map(|e| e.value.clone())
            .collect()
    }

    /// Writes a new document (the key must be free) and mirrors it, within the account's
    /// quota for its kind. Hold the writer lock.
    fn insert<T: Stored>(&self, value: T) -> IamResult<Arc<T>> {
        if let Some((name, max)) = T::QUOTA
            && T::table(&self.read()).len() >= max
        {
            return Err(IamError::LimitExceeded(format!(
                "Cannot exceed quota for {name}: {max}"
            )));
        }
        self.write(value, Expect::Absent)
    }

    /// Replaces the document `old` was read from and mirrors it. Hold the writer lock.
    fn replace<T: Stored>(&self, old: &Entry<T>, value: T) -> IamResult<Arc<T>> {
        self.write(value, Expect::Revision(old.revision))
    }

    fn write<T: Stored>(&self, value: T, expect: Expect) -> IamResult<Arc<T>> {
        let k = value.key();
        let json = serde_json::to_value(&value).map_err(|e| IamError::Corrupt(e.to_string()))?;
        let revision = self
            .state
            .put_document(T::KIND, &k, &json, expect)?
            .ok_or_else(|| changed(T::KIND, &k))?;
        let value = Arc::new(value);
        let mut index = sync::write(&self.index);
        T::table_mut(&mut index).insert(
            k,
            Entry {
                value: value.clone(),
                revision,
            },
        );
        self.generation.fetch_add(1, Ordering::Release);
        Ok(value)
    }

    /// Deletes the document `old` was read from and its mirror entry. Hold the writer lock.
    fn remove<T: Stored>(&self, old: &Entry<T>) -> IamResult<()> {
        let k = old.value.key();
        if !self
            .state
            .delete_document(T::KIND, &k, Expect::Revision(old.revision))?
        {
            return Err(changed(T::KIND, &k));
        }
        let mut index = sync::write(&self.index);
        T::table_mut(&mut index).remove(&k);
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }
}

fn changed(kind: &str, k: &str) -> IamError {
    IamError::ConcurrentModification(format!(
        "The {kind} {k} was changed by another writer; retry the request."
    ))
}

fn load<T: Stored>(state: &dyn StateStore, index: &mut Index) -> IamResult<()> {
    for doc in state.list_documents(T::KIND, "")? {
        let value: T = serde_json::from_value(doc.value)
            .map_err(|e| IamError::Corrupt(format!("{} {}: {e}", T::KIND, doc.key)))?;
        T::table_mut(index).insert(
            doc.key,
            Entry {
                value: Arc::new(value),
                revision: doc.revision,
            },
        );
    }
    Ok(())
}

fn attachment_count(index: &Index, arn: &str) -> usize {
    let held = |list: &[String]| list.iter().any(|a| a == arn);
    index
        .users
        .values()
        .filter(|e| held(&e.value.attached_policies))
        .count()
        + index
            .groups
            .values()
            .filter(|e| held(&e.value.attached_policies))
            .count()
        + index
            .roles
            .values()
            .filter(|e| held(&e.value.attached_policies))
            .count()
}

/// Seconds since the epoch, now.
fn now() -> f64 {
    crate::protocol::Timestamp::now().epoch_seconds()
}

#[cfg(test)]
mod tests;
