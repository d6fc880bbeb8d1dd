//! Evaluation: which statements apply to a request, and the decision they make together.

use super::parse::{Effect, Statement};
use super::{Decision, EvalContext, Matched, NamedPolicy, PolicyDocument};

/// Evaluates identity policies: an explicit deny in any of them wins, then any allow;
/// otherwise the request is denied implicitly. Allocates only for the answer.
pub fn evaluate(policies: &[NamedPolicy<'_>], ctx: &EvalContext) -> Decision {
    let mut allow: Option<(usize, usize)> = None;
    for (p, policy) in policies.iter().enumerate() {
        for (s, st) in policy.document.statements.iter().enumerate() {
            if !applies(st, ctx, false) {
                continue;
            }
            match st.effect {
                Effect::Deny => return Decision::ExplicitDeny(matched(policy, s)),
                Effect::Allow => {
                    allow.get_or_insert((p, s));
                }
            }
        }
    }
    match allow {
        Some((p, s)) => Decision::Allow(matched(&policies[p], s)),
        None => Decision::ImplicitDeny,
    }
}

/// Evaluates a role's trust policy for the caller `ctx.principal_arn` (the action is
/// `sts:AssumeRole`; `ctx.resource` is not consulted).
pub fn evaluate_trust(trust: &PolicyDocument, ctx: &EvalContext) -> Decision {
    let named = NamedPolicy {
        name: "trust policy",
        document: trust,
    };
    let mut allow = None;
    for (s, st) in trust.statements.iter().enumerate() {
        if !applies(st, ctx, true) {
            continue;
        }
        match st.effect {
            Effect::Deny => return Decision::ExplicitDeny(matched(&named, s)),
            Effect::Allow => {
                allow.get_or_insert(s);
            }
        }
    }
    allow.map_or(Decision::ImplicitDeny, |s| {
        Decision::Allow(matched(&named, s))
    })
}

/// Whether the trust policy on its own grants `ctx` (AWS, same account): a statement that
/// applies allows it naming the caller's ARN (`ctx.principal_arn`; a role's ARN names its
/// sessions) and none denies it. Naming the account (`…:root`, the bare id) or `*` is not
/// enough: the caller's identity policies must allow the action too.
pub fn trust_names_caller(trust: &PolicyDocument, ctx: &EvalContext) -> bool {
    let mut named = false;
    for st in &trust.statements {
        if !applies(st, ctx, true) {
            continue;
        }
        match st.effect {
            Effect::Deny => return false,
            Effect::Allow => {
                named |= st
                    .principal
                    .as_ref()
                    .is_some_and(|p| !p.negated && p.items.names_arn(&ctx.principal_arn));
            }
        }
    }
    named
}

fn matched(policy: &NamedPolicy<'_>, index: usize) -> Matched {
    Matched {
        policy: policy.name.to_owned(),
        statement_index: index,
        sid: policy.document.sid(index).map(str::to_owned),
    }
}

fn applies(st: &Statement, ctx: &EvalContext, trust: bool) -> bool {
    let action = st
        .action
        .items
        .iter()
        .any(|p| p.matches(&ctx.action, &ctx.keys, true));
    if action == st.action.negated {
        return false;
    }
    if trust {
        if let Some(pr) = &st.principal
            && pr.items.contains(&ctx.principal_arn) == pr.negated
        {
            return false;
        }
    } else if let Some(res) = &st.resource {
        let hit = res
            .items
            .iter()
            .any(|p| p.is_any() || p.matches_arn(&ctx.resource, &ctx.keys));
        if hit == res.negated {
            return false;
        }
    }
    st.conditions.iter().all(|c| c.holds(&ctx.keys))
}

#[cfg(test)]
mod tests {
    use super::super::*;

    const ACCOUNT: &str = "000000000000";

    fn doc(text: &str) -> PolicyDocument {
        PolicyDocument::parse_identity(text).unwrap()
    }

    fn ctx(action: &str, resource: &str) -> EvalContext {
        let mut keys = ConditionKeys::new();
        keys.insert("aws:username", "alice");
        keys.insert("aws:userid", "AIDAALICE");
        EvalContext {
            action: action.into(),
            resource: resource.into(),
            principal_arn: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
            keys,
        }
    }

    fn decide(docs: &[&PolicyDocument], c: &EvalContext) -> Decision {
        let names: Vec<String> = (0..docs.len()).map(|i| format!("p{i}")).collect();
        let named: Vec<NamedPolicy<'_>> = docs
            .iter()
            .zip(&names)
            .map(|(d, n)| NamedPolicy {
                name: n,
                document: d,
            })
            .collect();
        evaluate(&named, c)
    }

    const TD: &str = "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3";

    #[test]
    fn no_policy_means_implicit_deny() {
        assert_eq!(decide(&[], &ctx("ecs:RunTask", TD)), Decision::ImplicitDeny);
    }

    #[test]
    fn explicit_deny_beats_allow() {
        let allow = doc(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"*"}}"#,
        );
        let deny = doc(
            r#"{"Version":"2012-10-17","Statement":{"Sid":"NoRun","Effect":"Deny","Action":"ecs:RunTask","Resource":"*"}}"#,
        );
        let c = ctx("ecs:RunTask", TD);
        assert_eq!(
            decide(&[&allow, &deny], &c),
            Decision::ExplicitDeny(Matched {
                policy: "p1".into(),
                statement_index: 0,
                sid: Some("NoRun".into())
            })
        );
        assert!(decide(&[&allow, &deny], &ctx("ecs:StopTask", TD)).is_allowed());
    }

    #[test]
    fn actions_match_case_insensitively_with_wildcards() {
        let p = doc(
            r#"{"Statement":{"Effect":"Allow","Action":["ECS:run*","ecs:Describe?asks"],"Resource":"*"}}"#,
        );
        assert!(decide(&[&p], &ctx("ecs:RunTask", TD)).is_allowed());
        assert!(decide(&[&p], &ctx("ecs:DescribeTasks", TD)).is_allowed());
        assert!(!decide(&[&p], &ctx("ecs:StopTask", TD)).is_allowed());
        assert!(!decide(&[&p], &ctx("logs:RunTask", TD)).is_allowed());
    }

    #[test]
    fn not_action_with_allow_allows_everything_else() {
        // The documentation's example: everything except IAM.
        let p = doc(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#,
        );
        assert!(decide(&[&p], &ctx("ecs:RunTask", TD)).is_allowed());
        assert!(!decide(&[&p], &ctx("iam:CreateUser", "*")).is_allowed());
    }

    #[test]
    fn resources_and_not_resources() {
        let p = doc(
            r#"{"Statement":{"Effect":"Allow","Action":"ecs:RunTask","Resource":"arn:aws:ecs:*:*:task-definition/web:*"}}"#,
        );
        assert!(decide(&[&p], &ctx("ecs:RunTask", TD)).is_allowed());
        assert!(
            !decide(
                &[&p],
                &ctx(
                    "ecs:RunTask",
                    "arn:aws:ecs:us-east-1:000000000000:task-definition/db:1"
                )
            )
            .is_allowed()
        );
        let p = doc(
            r#"{"Statement":{"Effect":"Deny","Action":"*","NotResource":"arn:aws:ecs:*:*:cluster/a"}}"#,
        );
        assert!(matches!(
            decide(
                &[&p],
                &ctx(
                    "ecs:DeleteCluster",
                    "arn:aws:ecs:us-east-1:000000000000:cluster/b"
                )
            ),
            Decision::ExplicitDeny(_)
        ));
        assert_eq!(
            decide(
                &[&p],
                &ctx(
                    "ecs:DeleteCluster",
                    "arn:aws:ecs:us-east-1:000000000000:cluster/a"
                )
            ),
            Decision::ImplicitDeny
        );
    }

    #[test]
    fn conditions_and_across_keys_or_across_values() {
        let p = doc(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:RunTask","Resource":"*",
              "Condition":{"ArnEquals":{"ecs:cluster":["arn:aws:ecs:us-east-1:000000000000:cluster/a",
                                                      "arn:aws:ecs:us-east-1:000000000000:cluster/b"]},
                           "Bool":{"aws:SecureTransport":"true"}}}}"#,
        );
        let mut c = ctx("ecs:RunTask", TD);
        c.keys.insert(
            "ecs:cluster",
            "arn:aws:ecs:us-east-1:000000000000:cluster/b",
        );
        assert!(!decide(&[&p], &c).is_allowed(), "SecureTransport missing");
        c.keys.insert("aws:SecureTransport", "true");
        assert!(decide(&[&p], &c).is_allowed());
        c.keys.insert(
            "ecs:cluster",
            "arn:aws:ecs:us-east-1:000000000000:cluster/c",
        );
        assert!(!decide(&[&p], &c).is_allowed());
    }

    #[test]
    fn variables_in_resources_and_conditions() {
        // The documentation's example: each user manages their own access keys.
        let p = doc(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*AccessKey*",
              "Resource":"arn:aws:iam::*:user/${aws:username}"}}"#,
        );
        assert!(
            decide(
                &[&p],
                &ctx(
                    "iam:CreateAccessKey",
                    "arn:aws:iam::000000000000:user/alice"
                )
            )
            .is_allowed()
        );
        assert!(
            !decide(
                &[&p],
                &ctx("iam:CreateAccessKey", "arn:aws:iam::000000000000:user/bob")
            )
            .is_allowed()
        );
        // Same policy in 2008-10-17: the variable is literal text.
        let old = doc(
            r#"{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"iam:*AccessKey*",
              "Resource":"arn:aws:iam::*:user/${aws:username}"}}"#,
        );
        assert!(
            !decide(
                &[&old],
                &ctx(
                    "iam:CreateAccessKey",
                    "arn:aws:iam::000000000000:user/alice"
                )
            )
            .is_allowed()
        );
        let p = doc(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"*",
              "Condition":{"StringEquals":{"ecs:ResourceTag/owner":"${aws:username}"}}}}"#,
        );
        let mut c = ctx(
            "ecs:StopTask",
            "arn:aws:ecs:us-east-1:000000000000:task/a/1",
        );
        c.keys.insert("ecs:ResourceTag/Owner", "alice");
        assert!(decide(&[&p], &c).is_allowed());
        c.keys.insert("ecs:ResourceTag/Owner", "bob");
        assert!(!decide(&[&p], &c).is_allowed());
    }

    #[test]
    fn if_exists_denies_without_the_key() {
        // The documentation's example: deny unless MFA is present; a request without the
        // key at all (long-term keys) is denied too, thanks to IfExists.
        let allow = doc(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        );
        let deny = doc(
            r#"{"Version":"2012-10-17","Statement":{"Sid":"DenyNoMFA","Effect":"Deny","Action":"ecs:Delete*","Resource":"*",
              "Condition":{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}}}"#,
        );
        let mut c = ctx("ecs:DeleteCluster", "*");
        assert!(matches!(
            decide(&[&allow, &deny], &c),
            Decision::ExplicitDeny(_)
        ));
        c.keys.insert("aws:MultiFactorAuthPresent", "true");
        assert!(decide(&[&allow, &deny], &c).is_allowed());
    }

    #[test]
    fn tag_key_sets_restrict_requested_tags() {
        // The documentation's example: only the tags env and team may be set (ForAllValues),
        // and env must be among them (ForAnyValue).
        let p = doc(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:TagResource","Resource":"*",
              "Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["env","team"]},
                           "ForAnyValue:StringEquals":{"aws:TagKeys":["env"]}}}}"#,
        );
        let mut c = ctx(
            "ecs:TagResource",
            "arn:aws:ecs:us-east-1:000000000000:cluster/a",
        );
        c.keys.set("aws:TagKeys", vec!["env".into(), "team".into()]);
        assert!(decide(&[&p], &c).is_allowed());
        c.keys.set("aws:TagKeys", vec!["env".into(), "cost".into()]);
        assert!(!decide(&[&p], &c).is_allowed());
        c.keys.set("aws:TagKeys", vec!["team".into()]);
        assert!(!decide(&[&p], &c).is_allowed());
    }

    #[test]
    fn date_conditions_bound_access_in_time() {
        let p = doc(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:*","Resource":"*",
              "Condition":{"DateGreaterThan":{"aws:CurrentTime":"2020-04-01T00:00:00Z"},
                           "DateLessThan":{"aws:CurrentTime":"2020-06-30T23:59:59Z"}}}}"#,
        );
        let mut c = ctx("ecs:ListClusters", "*");
        c.keys.insert("aws:CurrentTime", "2020-05-01T12:00:00Z");
        assert!(decide(&[&p], &c).is_allowed());
        c.keys.insert("aws:CurrentTime", "2020-07-01T00:00:00Z");
        assert!(!decide(&[&p], &c).is_allowed());
    }

    #[test]
    fn wasmgate_actions_with_any_resource() {
        let p = doc(r#"{"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Action":"wasmgate:NetworkConnect","Resource":"arn:wasmgate:network:*:*:destination/10.0.0.*"},
              {"Effect":"Deny","Action":"wasmgate:NetworkConnect","Resource":"*",
               "Condition":{"NumericEquals":{"wasmgate:DestinationPort":"22"}}}]}"#);
        let mut c = ctx(
            "wasmgate:NetworkConnect",
            "arn:wasmgate:network:us-east-1:000000000000:destination/10.0.0.5:80",
        );
        c.keys.insert("wasmgate:DestinationPort", "80");
        assert!(decide(&[&p], &c).is_allowed());
        c.keys.insert("wasmgate:DestinationPort", "22");
        assert!(matches!(decide(&[&p], &c), Decision::ExplicitDeny(_)));
    }

    #[test]
    fn trust_policies_match_the_caller() {
        let t = PolicyDocument::parse_trust(
            r#"{"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/alice"},"Action":"sts:AssumeRole"},
              {"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#,
        )
        .unwrap();
        let mut c = ctx("sts:AssumeRole", "arn:aws:iam::000000000000:role/r");
        assert!(evaluate_trust(&t, &c).is_allowed());
        c.principal_arn = "ecs-tasks.amazonaws.com".into();
        assert!(evaluate_trust(&t, &c).is_allowed());
        c.principal_arn = "arn:aws:iam::000000000000:user/bob".into();
        assert_eq!(evaluate_trust(&t, &c), Decision::ImplicitDeny);
        c.action = "sts:TagSession".into();
        c.principal_arn = "arn:aws:iam::000000000000:user/alice".into();
        assert_eq!(evaluate_trust(&t, &c), Decision::ImplicitDeny);
        let deny = PolicyDocument::parse_trust(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sts:AssumeRole"},
              {"Effect":"Deny","NotPrincipal":{"AWS":"000000000000"},"Action":"sts:*"}]}"#,
        )
        .unwrap();
        c.action = "sts:AssumeRole".into();
        assert!(evaluate_trust(&deny, &c).is_allowed());
        c.principal_arn = "arn:aws:iam::111111111111:user/mallory".into();
        assert!(matches!(
            evaluate_trust(&deny, &c),
            Decision::ExplicitDeny(_)
        ));
    }
}
