use super::*;
use crate::state::memory::MemStore;

const ALLOW: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ecs:RunTask","Resource":"*"}]}"#;
const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"sts:AssumeRole"}]}"#;

fn store() -> (Arc<MemStore>, IamStore) {
    let mem = Arc::new(MemStore::default());
    let s = IamStore::new(mem.clone(), "000000000000", "us-east-1").unwrap();
    (mem, s)
}

#[test]
fn a_reloaded_store_sees_what_was_written() {
    let (mem, s) = store();
    s.create_user("alice", None, vec![]).unwrap();
    let key = s.create_access_key("alice").unwrap();
    let p = s
        .create_policy(NewPolicy {
            name: "P".into(),
            document: ALLOW.into(),
            ..Default::default()
        })
        .unwrap();
    s.attach_policy(Holder::User, "alice", &p.arn).unwrap();
    let again = IamStore::new(mem, "000000000000", "us-east-1").unwrap();
    let (k, u) = again.access_key(&key.id).unwrap();
    assert_eq!(
        (k.secret.as_str(), u.name.as_str()),
        (key.secret.as_str(), "alice")
    );
    assert_eq!(again.attachment_count(&p.arn), 1);
    assert_eq!(again.user_policies("ALICE").unwrap().len(), 1);
}

#[test]
fn refused_writes_change_nothing() {
    let (mem, s) = store();
    s.create_user("alice", None, vec![]).unwrap();
    let before = mem.dump();
    assert!(matches!(
        s.create_user("Alice", None, vec![]),
        Err(IamError::EntityAlreadyExists(_))
    ));
    assert!(matches!(
        s.put_inline_policy(Holder::User, "alice", "p", "{"),
        Err(IamError::MalformedPolicyDocument(_))
    ));
    s.create_access_key("alice").unwrap();
    s.create_access_key("alice").unwrap();
    let with_keys = mem.dump();
    assert!(matches!(
        s.create_access_key("alice"),
        Err(IamError::LimitExceeded(_))
    ));
    assert!(matches!(
        s.delete_user("alice"),
        Err(IamError::DeleteConflict(_))
    ));
    assert_eq!(mem.dump(), with_keys);
    assert_ne!(before, with_keys);
}

#[test]
fn policies_of_a_user_include_its_groups_and_of_a_role_its_own() {
    let (_, s) = store();
    s.create_user("alice", None, vec![]).unwrap();
    s.create_group("devs", None).unwrap();
    s.add_user_to_group("devs", "alice").unwrap();
    s.put_inline_policy(Holder::Group, "devs", "g", ALLOW)
        .unwrap();
    s.put_inline_policy(Holder::User, "alice", "u", ALLOW)
        .unwrap();
    let held = s.user_policies("alice").unwrap();
    let names: Vec<String> = held.iter().map(HeldPolicy::display_name).collect();
    assert_eq!(
        names,
        ["user alice inline policy u", "group devs inline policy g"]
    );
    s.create_role(NewRole {
        name: "r".into(),
        trust_policy: TRUST.into(),
        ..Default::default()
    })
    .unwrap();
    assert!(s.role_policies("r").unwrap().is_empty());
    assert!(s.parsed_trust(&s.role("r").unwrap().trust_policy).is_ok());
    assert!(matches!(
        s.create_role(NewRole {
            name: "bad".into(),
            trust_policy: TRUST.into(),
            max_session_duration: Some(100),
            ..Default::default()
        }),
        Err(IamError::Validation(_))
    ));
}

#[test]
fn policy_versions_and_deletion_follow_iam() {
    let (_, s) = store();
    let p = s
        .create_policy(NewPolicy {
            name: "P".into(),
            document: ALLOW.into(),
            ..Default::default()
        })
        .unwrap();
    for _ in 0..4 {
        s.create_policy_version(&p.arn, ALLOW, true).unwrap();
    }
    assert!(matches!(
        s.create_policy_version(&p.arn, ALLOW, false),
        Err(IamError::LimitExceeded(_))
    ));
    assert!(matches!(
        s.delete_policy_version(&p.arn, "v5"),
        Err(IamError::DeleteConflict(_))
    ));
    assert!(matches!(
        s.delete_policy(&p.arn),
        Err(IamError::DeleteConflict(_))
    ));
    for v in ["v1", "v2", "v3", "v4"] {
        s.delete_policy_version(&p.arn, v).unwrap();
    }
    s.delete_policy(&p.arn).unwrap();
    assert!(s.policy(&p.arn).is_none());
}

/// A caller with IAM rights still cannot grow the host's IAM state without end: IAM's
/// account quotas hold, each refusal naming its quota and writing nothing.
#[test]
fn account_quotas_bound_users_groups_roles_and_policies() {
    let (mem, s) = store();
    let quota = |r: IamResult<()>| match r {
        Err(IamError::LimitExceeded(m)) => m,
        other => panic!("expected LimitExceeded, got {other:?}"),
    };
    for i in 0..MAX_USERS {
        s.create_user(&format!("u{i}"), None, vec![]).unwrap();
    }
    for i in 0..MAX_GROUPS {
        s.create_group(&format!("g{i}"), None).unwrap();
    }
    for i in 0..MAX_ROLES {
        s.create_role(NewRole {
            name: format!("r{i}"),
            trust_policy: TRUST.into(),
            ..Default::default()
        })
        .unwrap();
    }
    for i in 0..MAX_POLICIES {
        s.create_policy(NewPolicy {
            name: format!("p{i}"),
            document: ALLOW.into(),
            ..Default::default()
        })
        .unwrap();
    }
    let full = mem.dump();
    assert_eq!(
        quota(s.create_user("one-more", None, vec![]).map(drop)),
        "Cannot exceed quota for UsersPerAccount: 5000"
    );
    assert_eq!(
        quota(s.create_group("one-more", None).map(drop)),
        "Cannot exceed quota for GroupsPerAccount: 300"
    );
    let role = NewRole {
        name: "one-more".into(),
        trust_policy: TRUST.into(),
        ..Default::default()
    };
    assert_eq!(
        quota(s.create_role(role).map(drop)),
        "Cannot exceed quota for RolesPerAccount: 1000"
    );
    let policy = NewPolicy {
        name: "one-more".into(),
        document: ALLOW.into(),
        ..Default::default()
    };
    assert_eq!(
        quota(s.create_policy(policy).map(drop)),
        "Cannot exceed quota for CustomerManagedPoliciesPerAccount: 1500"
    );
    assert_eq!(mem.dump(), full);
    // A deleted user makes room again.
    s.delete_user("u0").unwrap();
    s.create_user("one-more", None, vec![]).unwrap();
}

#[test]
fn a_user_is_in_at_most_ten_groups() {
    let (mem, s) = store();
    s.create_user("alice", None, vec![]).unwrap();
    for i in 0..=MAX_GROUPS_PER_USER {
        s.create_group(&format!("g{i}"), None).unwrap();
    }
    for i in 0..MAX_GROUPS_PER_USER {
        s.add_user_to_group(&format!("g{i}"), "alice").unwrap();
    }
    let before = mem.dump();
    let last = format!("g{MAX_GROUPS_PER_USER}");
    assert!(matches!(
        s.add_user_to_group(&last, "alice"),
        Err(IamError::LimitExceeded(m)) if m == "Cannot exceed quota for GroupsPerUser: 10"
    ));
    // Adding to a group it is already in stays a no-op.
    s.add_user_to_group("g0", "alice").unwrap();
    assert_eq!(mem.dump(), before);
}

/// IAM counts a holder's inline policies together: many small ones cannot add up past
/// the holder's quota (2,048 characters for a user), and replacing one counts only the
/// new text.
#[test]
fn inline_policies_count_together_against_the_holders_quota() {
    let (mem, s) = store();
    s.create_user("alice", None, vec![]).unwrap();
    let size = crate::iam::policy::policy_size(ALLOW);
    let fits = crate::iam::policy::USER_INLINE_MAX_CHARS / size;
    for i in 0..fits {
        s.put_inline_policy(Holder::User, "alice", &format!("p{i}"), ALLOW)
            .unwrap();
    }
    let before = mem.dump();
    assert!(matches!(
        s.put_inline_policy(Holder::User, "alice", "one-more", ALLOW),
        Err(IamError::LimitExceeded(m))
            if m == "Maximum policy size of 2048 bytes exceeded for user alice"
    ));
    assert_eq!(mem.dump(), before);
    s.put_inline_policy(Holder::User, "alice", "P0", ALLOW)
        .unwrap();
    assert_eq!(
        s.inline_policy_names(Holder::User, "alice").unwrap().len(),
        fits
    );
}
