//! What users, groups and roles share: inline policies (name → document) and attached
//! managed policies (ARNs, at most 10).

use super::model::{Group, Holder, Role, User};
use super::{Entry, IamError, IamResult, IamStore, Stored, documents, key, validate};
use std::collections::BTreeMap;

/// Managed policies attached to one user, group or role (IAM's default quota).
pub const MAX_ATTACHED: usize = 10;

/// A user, group or role as a holder of policies.
pub(super) trait PolicyHolder: Stored + Clone {
    const HOLDER: Holder;
    fn inline(&self) -> &BTreeMap<String, String>;
    fn inline_mut(&mut self) -> &mut BTreeMap<String, String>;
    fn attached(&self) -> &[String];
    fn attached_mut(&mut self) -> &mut Vec<String>;
}

macro_rules! holder {
    ($t:ty, $h:expr) => {
        impl PolicyHolder for $t {
            const HOLDER: Holder = $h;
            fn inline(&self) -> &BTreeMap<String, String> {
                &self.inline_policies
            }
            fn inline_mut(&mut self) -> &mut BTreeMap<String, String> {
                &mut self.inline_policies
            }
            fn attached(&self) -> &[String] {
                &self.attached_policies
            }
            fn attached_mut(&mut self) -> &mut Vec<String> {
                &mut self.attached_policies
            }
        }
    };
}

holder!(User, Holder::User);
holder!(Group, Holder::Group);
holder!(Role, Holder::Role);

/// Runs `$body` with `$T` the holder type of `$holder`.
macro_rules! with_holder {
    ($holder:expr, $T:ident => $body:expr) => {
        match $holder {
            Holder::User => {
                type $T = User;
                $body
            }
            Holder::Group => {
                type $T = Group;
                $body
            }
            Holder::Role => {
                type $T = Role;
                $body
            }
        }
    };
}

impl IamStore {
    /// Creates or replaces an inline policy.
    pub fn put_inline_policy(
        &self,
        holder: Holder,
        holder_name: &str,
        policy_name: &str,
        document: &str,
    ) -> IamResult<()> {
        validate::name("policyName", policy_name, validate::MAX_POLICY_NAME)?;
        documents::check_inline(holder, holder_name, document)?;
        with_holder!(holder, T => self.update_holder::<T>(holder_name, |h| {
            // A policy put again under another case of its name replaces it.
            let existing = h.inline().keys().find(|k| key(k) == key(policy_name)).cloned();
            if let Some(old) = existing {
                h.inline_mut().remove(&old);
            }
            h.inline_mut().insert(policy_name.to_owned(), document.to_owned());
            documents::check_inline_total(holder, holder_name, h.inline().values())
        }))
    }

    /// The inline policy's name (as stored) and document.
    pub fn inline_policy(
        &self,
        holder: Holder,
        holder_name: &str,
        policy_name: &str,
    ) -> IamResult<(String, String)> {
        with_holder!(holder, T => {
            let h = self.holder_entry::<T>(holder_name)?.value;
            h.inline()
                .iter()
                .find(|(k, _)| key(k) == key(policy_name))
                .map(|(k, v)| (k.clone(), v.clone()))
                .ok_or_else(|| no_such_inline(holder, policy_name))
        })
    }

    /// The names of the holder's inline policies, sorted.
    pub fn inline_policy_names(&self, holder: Holder, holder_name: &str) -> IamResult<Vec<String>> {
        with_holder!(holder, T => {
            let h = self.holder_entry::<T>(holder_name)?.value;
            Ok(h.inline().keys().cloned().collect())
        })
    }

    pub fn delete_inline_policy(
        &self,
        holder: Holder,
        holder_name: &str,
        policy_name: &str,
    ) -> IamResult<()> {
        with_holder!(holder, T => self.update_holder::<T>(holder_name, |h| {
            let existing = h.inline().keys().find(|k| key(k) == key(policy_name)).cloned();
            match existing {
                Some(k) => {
                    h.inline_mut().remove(&k);
                    Ok(())
                }
                None => Err(no_such_inline(holder, policy_name)),
            }
        }))
    }

    /// Attaches a customer managed policy; attaching it again changes nothing.
    pub fn attach_policy(&self, holder: Holder, holder_name: &str, arn: &str) -> IamResult<()> {
        with_holder!(holder, T => self.update_holder::<T>(holder_name, |h| {
            // Under the writer lock: a policy being deleted cannot be attached meanwhile.
            self.policy_by_arn(arn)?;
            if h.attached().iter().any(|a| a == arn) {
                return Ok(());
            }
            if h.attached().len() >= MAX_ATTACHED {
                return Err(IamError::LimitExceeded(format!(
                    "Cannot exceed quota for PoliciesPer{}: {MAX_ATTACHED}",
                    holder.quota_noun()
                )));
            }
            h.attached_mut().push(arn.to_owned());
            Ok(())
        }))
    }

    pub fn detach_policy(&self, holder: Holder, holder_name: &str, arn: &str) -> IamResult<()> {
        with_holder!(holder, T => self.update_holder::<T>(holder_name, |h| {
            self.policy_by_arn(arn)?;
            if !h.attached().iter().any(|a| a == arn) {
                return Err(IamError::NoSuchEntity(format!(
                    "Policy {arn} was not found."
                )));
            }
            h.attached_mut().retain(|a| a != arn);
            Ok(())
        }))
    }

    /// The ARNs of the managed policies attached to the holder, in attachment order.
    pub fn attached_policies(&self, holder: Holder, holder_name: &str) -> IamResult<Vec<String>> {
        with_holder!(holder, T => {
            let h = self.holder_entry::<T>(holder_name)?.value;
            Ok(h.attached().to_vec())
        })
    }

    fn holder_entry<T: PolicyHolder>(&self, name: &str) -> IamResult<Entry<T>> {
        self.entry::<T>(&key(name))
            .ok_or_else(|| IamError::no_such(T::HOLDER.noun(), name))
    }

    /// Read, change and write back one holder's document under the writer lock; an error
    /// from `change` writes nothing.
    fn update_holder<T: PolicyHolder>(
        &self,
        name: &str,
        change: impl FnOnce(&mut T) -> IamResult<()>,
    ) -> IamResult<()> {
        let _w = self.lock_writer();
        let old = self.holder_entry::<T>(name)?;
        let mut h = (*old.value).clone();
        change(&mut h)?;
        if h.inline() == old.value.inline() && h.attached() == old.value.attached() {
            return Ok(());
        }
        self.replace(&old, h).map(drop)
    }
}

fn no_such_inline(holder: Holder, policy_name: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "The {} policy with name {policy_name} cannot be found.",
        holder.noun()
    ))
}
