//! The global condition keys of a request (`aws:username`, `aws:PrincipalTag/…`,
//! `aws:CurrentTime`, `aws:SourceIp`, …), from who calls and how.

use std::net::IpAddr;

use super::PrincipalPolicies;
use crate::iam::policy::ConditionKeys;
use crate::protocol::{Principal, PrincipalKind};

/// The keys that describe the principal: `aws:username` (users only), `aws:userid`,
/// `aws:PrincipalArn` (for a session, its role's ARN, as AWS), `aws:PrincipalAccount`,
/// `aws:PrincipalType`, `aws:PrincipalTag/<k>`. SimulatePrincipalPolicy starts from these
/// too.
pub fn principal_keys(principal: &Principal, of: &PrincipalPolicies) -> ConditionKeys {
    let mut keys = ConditionKeys::new();
    let account = account_of(&principal.arn);
    match &principal.kind {
        PrincipalKind::User { name, .. } => {
            keys.insert("aws:username", name.clone());
            keys.insert("aws:PrincipalArn", principal.arn.clone());
            keys.insert("aws:PrincipalType", "User");
        }
        PrincipalKind::AssumedRole { role_name, .. } => {
            keys.insert(
                "aws:PrincipalArn",
                format!("arn:aws:iam::{account}:role/{role_name}"),
            );
            keys.insert("aws:PrincipalType", "AssumedRole");
        }
        PrincipalKind::Root => {
            keys.insert("aws:PrincipalArn", principal.arn.clone());
            keys.insert("aws:PrincipalType", "Account");
        }
    }
    if !of.user_id.is_empty() {
        keys.insert("aws:userid", of.user_id.clone());
    }
    if !account.is_empty() {
        keys.insert("aws:PrincipalAccount", account.to_owned());
    }
    for (k, v) in &of.tags {
        keys.insert(&format!("aws:PrincipalTag/{k}"), v.clone());
    }
    keys
}

/// The keys that describe the call: `aws:RequestedRegion`, `aws:CurrentTime`,
/// `aws:EpochTime`, `aws:SecureTransport`, `aws:SourceIp` (when known).
pub fn request_keys(
    keys: &mut ConditionKeys,
    region: &str,
    now: time::OffsetDateTime,
    source_ip: Option<IpAddr>,
    secure_transport: bool,
) {
    keys.insert("aws:RequestedRegion", region.to_owned());
    let current = now
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    keys.insert("aws:CurrentTime", current);
    keys.insert("aws:EpochTime", now.unix_timestamp().to_string());
    keys.insert("aws:SecureTransport", secure_transport.to_string());
    if let Some(ip) = source_ip {
        keys.insert("aws:SourceIp", ip.to_string());
    }
}

/// A resource's tags as `aws:ResourceTag/<k>` and `<service>:ResourceTag/<k>`.
pub fn resource_tag_keys(keys: &mut ConditionKeys, service: &str, tags: &[(String, String)]) {
    for (k, v) in tags {
        keys.insert(&format!("aws:ResourceTag/{k}"), v.clone());
        keys.insert(&format!("{service}:ResourceTag/{k}"), v.clone());
    }
}

fn account_of(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principal_and_request_keys() {
        let p = Principal {
            access_key_id: "ASIAX".into(),
            arn: "arn:aws:sts::000000000000:assumed-role/deploy/ci".into(),
            kind: PrincipalKind::AssumedRole {
                role_name: "deploy".into(),
                role_id: "AROADEPLOY".into(),
                session_name: "ci".into(),
            },
        };
        let of = PrincipalPolicies {
            policies: Vec::new(),
            tags: vec![("team".into(), "web".into())],
            user_id: "AROADEPLOY:ci".into(),
        };
        let mut keys = principal_keys(&p, &of);
        assert!(keys.get("aws:username").is_none());
        assert_eq!(
            keys.get("aws:principalarn"),
            Some(&["arn:aws:iam::000000000000:role/deploy".to_owned()][..])
        );
        assert_eq!(
            keys.get("aws:userid"),
            Some(&["AROADEPLOY:ci".to_owned()][..])
        );
        assert_eq!(
            keys.get("aws:PrincipalTag/team"),
            Some(&["web".to_owned()][..])
        );
        let now = time::macros::datetime!(2024-06-01 12:00:00.5 UTC);
        request_keys(
            &mut keys,
            "us-east-1",
            now,
            Some("10.1.2.3".parse().unwrap()),
            false,
        );
        assert_eq!(
            keys.get("aws:CurrentTime"),
            Some(&["2024-06-01T12:00:00Z".to_owned()][..])
        );
        assert_eq!(
            keys.get("aws:EpochTime"),
            Some(&["1717243200".to_owned()][..])
        );
        assert_eq!(keys.get("aws:SourceIp"), Some(&["10.1.2.3".to_owned()][..]));
        assert_eq!(
            keys.get("aws:SecureTransport"),
            Some(&["false".to_owned()][..])
        );
    }
}
