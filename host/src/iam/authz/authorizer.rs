//! [`PolicyAuthorizer`]: the protocol layer's [`Authorizer`] over IAM policies.

use std::sync::Arc;

use super::context::{principal_keys, request_keys, resource_tag_keys};
use super::table::{self, Arns, Res};
use super::{PolicySource, ResourceGrant};
use crate::iam::policy::{ConditionKeys, Decision, EvalContext, NamedPolicy, evaluate};
use crate::protocol::{AuthorizeRequest, Authorizer, BoxFuture, PrincipalKind, Refusal};

/// Decides every request from the caller's identity policies: the account root (a host
/// key) may do everything; an IAM user or role session only what its policies allow.
pub struct PolicyAuthorizer {
    source: Arc<dyn PolicySource>,
    region: String,
    account: String,
    grant: Option<Arc<dyn ResourceGrant>>,
}

impl PolicyAuthorizer {
    pub fn new(source: Arc<dyn PolicySource>, region: &str, account: &str) -> Self {
        Self {
            source,
            region: region.to_owned(),
            account: account.to_owned(),
            grant: None,
        }
    }

    /// Asks `grant` about requests no identity policy allows (see [`ResourceGrant`]).
    pub fn with_resource_grant(mut self, grant: Arc<dyn ResourceGrant>) -> Self {
        self.grant = Some(grant);
        self
    }

    /// The decision for `request` at time `now` (what [`Authorizer::authorize`] runs).
    pub fn decide(
        &self,
        request: &AuthorizeRequest<'_>,
        now: time::OffsetDateTime,
    ) -> Result<(), Refusal> {
        let principal = request.principal;
        if principal.kind == PrincipalKind::Root {
            return Ok(());
        }
        let rule = table::lookup(request.action_prefix, request.operation)
            .copied()
            .unwrap_or_else(|| table::fallback(request.action_prefix, request.operation));
        if rule.resource == Res::Always {
            return Ok(());
        }
        let of = self
            .source
            .policies_for(principal)
            .map_err(Refusal::Failed)?;
        let named: Vec<NamedPolicy<'_>> = of
            .policies
            .iter()
            .map(|(name, doc)| NamedPolicy {
                name,
                document: doc,
            })
            .collect();
        let arns = Arns {
            region: &self.region,
            account: &self.account,
        };
        let mut keys = principal_keys(principal, &of);
        request_keys(
            &mut keys,
            &self.region,
            now,
            request.source_ip,
            request.secure_transport,
        );
        rule.request_keys(request.input, &arns, &mut keys);
        let resources = rule.resources(request.input, principal, &arns);
        // Resource tags cost a store lookup: only when some policy could read them.
        let wants_tags = of.policies.iter().any(|(_, d)| d.mentions_resource_tags());
        let mut ctx = EvalContext {
            action: rule.action(),
            resource: String::new(),
            principal_arn: principal.arn.clone(),
            keys,
        };
        for resource in resources {
            let tagged = wants_tags && !resource.ends_with('*');
            let base = tagged.then(|| ctx.keys.clone());
            if tagged {
                let tags = self
                    .source
                    .resource_tags(&resource)
                    .map_err(Refusal::Failed)?;
                resource_tag_keys(&mut ctx.keys, request.action_prefix, &tags);
            }
            ctx.resource = resource;
            let decision = evaluate(&named, &ctx);
            if let Some(base) = base {
                ctx.keys = base;
            }
            match decision {
                Decision::Allow(_) => {}
                Decision::ExplicitDeny(m) => {
                    tracing::info!(
                        principal = %principal.arn,
                        action = %ctx.action,
                        resource = %ctx.resource,
                        policy = %m.policy,
                        statement = m.statement_index,
                        sid = m.sid.as_deref().unwrap_or(""),
                        "denied by an explicit deny"
                    );
                    return Err(Refusal::Denied(denial_message(
                        &principal.arn,
                        &ctx.action,
                        &ctx.resource,
                        true,
                    )));
                }
                Decision::ImplicitDeny
                    if self.grant.as_ref().is_some_and(|g| g.grants(request)) =>
                {
                    tracing::debug!(
                        principal = %principal.arn,
                        action = %ctx.action,
                        resource = %ctx.resource,
                        "allowed by the resource's own policy"
                    );
                }
                Decision::ImplicitDeny => {
                    tracing::debug!(
                        principal = %principal.arn,
                        action = %ctx.action,
                        resource = %ctx.resource,
                        "denied: no policy allows"
                    );
                    return Err(Refusal::Denied(denial_message(
                        &principal.arn,
                        &ctx.action,
                        &ctx.resource,
                        false,
                    )));
                }
            }
        }
        Ok(())
    }
}

impl Authorizer for PolicyAuthorizer {
    fn authorize<'a>(
        &'a self,
        request: AuthorizeRequest<'a>,
    ) -> BoxFuture<'a, Result<(), Refusal>> {
        let decision = self.decide(&request, time::OffsetDateTime::now_utc());
        Box::pin(std::future::ready(decision))
    }
}

/// AWS's message for a denied request.
pub fn denial_message(principal_arn: &str, action: &str, resource: &str, explicit: bool) -> String {
    let why = if explicit {
        "with an explicit deny in an identity-based policy".to_owned()
    } else {
        format!("because no identity-based policy allows the {action} action")
    };
    format!(
        "User: {principal_arn} is not authorized to perform: {action} on resource: {resource} {why}"
    )
}

/// One answer of [`simulate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatedDecision {
    pub action: String,
    pub resource: String,
    pub decision: Decision,
}

/// What SimulatePrincipalPolicy answers: the decision of `policies` for every action on
/// every resource (`*` when none is given), with `keys` as the request's context (start
/// from [`principal_keys`](super::context::principal_keys) and add the caller's context
/// entries).
pub fn simulate(
    policies: &[NamedPolicy<'_>],
    principal_arn: &str,
    actions: &[String],
    resources: &[String],
    keys: &ConditionKeys,
) -> Vec<SimulatedDecision> {
    let any = ["*".to_owned()];
    let resources = if resources.is_empty() {
        &any[..]
    } else {
        resources
    };
    let mut ctx = EvalContext {
        action: String::new(),
        resource: String::new(),
        principal_arn: principal_arn.to_owned(),
        keys: keys.clone(),
    };
    let mut out = Vec::with_capacity(actions.len() * resources.len());
    for action in actions {
        for resource in resources {
            ctx.action.clone_from(action);
            ctx.resource.clone_from(resource);
            out.push(SimulatedDecision {
                action: action.clone(),
                resource: resource.clone(),
                decision: evaluate(policies, &ctx),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{PolicySource, PrincipalPolicies};
    use super::*;
    use crate::iam::policy::PolicyDocument;
    use crate::protocol::value::Node;
    use crate::protocol::{ApiError, Principal};
    use std::collections::HashMap;
    use std::sync::Mutex;

    const ACCOUNT: &str = "000000000000";
    const REGION: &str = "us-east-1";

    #[derive(Default)]
    struct Fake {
        policies: Vec<(String, Arc<PolicyDocument>)>,
        tags: Vec<(String, String)>,
        resource_tags: HashMap<String, Vec<(String, String)>>,
        lookups: Mutex<u32>,
    }

    impl PolicySource for Fake {
        fn policies_for(&self, principal: &Principal) -> Result<PrincipalPolicies, ApiError> {
            if principal.arn.ends_with("/broken") {
                return Err(ApiError::server("store down"));
            }
            Ok(PrincipalPolicies {
                policies: self.policies.clone(),
                tags: self.tags.clone(),
                user_id: "AIDAALICE".into(),
            })
        }

        fn resource_tags(&self, arn: &str) -> Result<Vec<(String, String)>, ApiError> {
            *self.lookups.lock().unwrap() += 1;
            Ok(self.resource_tags.get(arn).cloned().unwrap_or_default())
        }
    }

    fn fake(policies: &[&str]) -> Fake {
        Fake {
            policies: policies
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    (
                        format!("arn:aws:iam::{ACCOUNT}:policy/p{i}"),
                        Arc::new(PolicyDocument::parse_identity(p).unwrap()),
                    )
                })
                .collect(),
            ..Fake::default()
        }
    }

    fn user(name: &str) -> Principal {
        Principal {
            access_key_id: "AKIAX".into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
            kind: PrincipalKind::User {
                name: name.into(),
                id: "AIDAALICE".into(),
            },
        }
    }

    fn body(members: &[(&str, &str)]) -> Node {
        Node::Struct(
            members
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Node::Str((*v).to_owned())))
                .collect(),
        )
    }

    fn ask(
        source: Fake,
        who: &Principal,
        prefix: &'static str,
        op: &'static str,
        input: &Node,
    ) -> Result<(), Refusal> {
        let authz = PolicyAuthorizer::new(Arc::new(source), REGION, ACCOUNT);
        let req = AuthorizeRequest {
            principal: who,
            action_prefix: prefix,
            operation: op,
            input,
            source_ip: Some("127.0.0.1".parse().unwrap()),
            secure_transport: false,
        };
        authz.decide(&req, time::OffsetDateTime::now_utc())
    }

    fn denied(r: Result<(), Refusal>) -> String {
        match r {
            Err(Refusal::Denied(m)) => m,
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    const RUN_IN_A: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow",
        "Action":["ecs:RunTask","ecs:DescribeTasks"],"Resource":"*",
        "Condition":{"ArnEquals":{"ecs:cluster":"arn:aws:ecs:us-east-1:000000000000:cluster/a"}}}}"#;

    #[test]
    fn root_is_allowed_without_policies() {
        let root = Principal::root("test", format!("arn:aws:iam::{ACCOUNT}:root"));
        assert!(ask(Fake::default(), &root, "ecs", "DeleteCluster", &body(&[])).is_ok());
    }

    #[test]
    fn a_user_without_policies_is_denied_with_aws_message() {
        let m = denied(ask(
            Fake::default(),
            &user("alice"),
            "ecs",
            "RunTask",
            &body(&[("taskDefinition", "web:3")]),
        ));
        assert_eq!(
            m,
            "User: arn:aws:iam::000000000000:user/alice is not authorized to perform: ecs:RunTask \
             on resource: arn:aws:ecs:us-east-1:000000000000:task-definition/web:3 because no \
             identity-based policy allows the ecs:RunTask action"
        );
    }

    #[test]
    fn get_caller_identity_needs_no_policy() {
        assert!(
            ask(
                Fake::default(),
                &user("alice"),
                "sts",
                "GetCallerIdentity",
                &body(&[])
            )
            .is_ok()
        );
    }

    #[test]
    fn the_cluster_condition_decides() {
        let input = body(&[("cluster", "a"), ("taskDefinition", "web")]);
        assert!(ask(fake(&[RUN_IN_A]), &user("alice"), "ecs", "RunTask", &input).is_ok());
        let input = body(&[("cluster", "b"), ("taskDefinition", "web")]);
        let m = denied(ask(
            fake(&[RUN_IN_A]),
            &user("alice"),
            "ecs",
            "RunTask",
            &input,
        ));
        assert!(m.contains("task-definition/web:*"), "{m}");
        assert!(
            denied(ask(
                fake(&[RUN_IN_A]),
                &user("alice"),
                "ecs",
                "DeleteCluster",
                &body(&[("cluster", "a")])
            ))
            .contains(
                "ecs:DeleteCluster on resource: arn:aws:ecs:us-east-1:000000000000:cluster/a"
            )
        );
    }

    #[test]
    fn explicit_deny_wins_with_its_message() {
        let deny = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"ecs:RunTask",
            "Resource":"arn:aws:ecs:*:*:task-definition/web:*"}}"#;
        let input = body(&[("cluster", "a"), ("taskDefinition", "web:1")]);
        let m = denied(ask(
            fake(&[RUN_IN_A, deny]),
            &user("alice"),
            "ecs",
            "RunTask",
            &input,
        ));
        assert!(
            m.ends_with("with an explicit deny in an identity-based policy"),
            "{m}"
        );
        let input = body(&[("cluster", "a"), ("taskDefinition", "db:1")]);
        assert!(
            ask(
                fake(&[RUN_IN_A, deny]),
                &user("alice"),
                "ecs",
                "RunTask",
                &input
            )
            .is_ok()
        );
    }

    #[test]
    fn not_action_allows_everything_but() {
        let p = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}}"#;
        assert!(
            ask(
                fake(&[p]),
                &user("alice"),
                "logs",
                "CreateLogGroup",
                &body(&[("logGroupName", "g")])
            )
            .is_ok()
        );
        assert!(
            ask(
                fake(&[p]),
                &user("alice"),
                "iam",
                "CreateUser",
                &body(&[("UserName", "bob")])
            )
            .is_err()
        );
    }

    #[test]
    fn every_named_task_must_be_allowed() {
        let p = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:DescribeTasks",
            "Resource":"arn:aws:ecs:*:*:task/a/*"}}"#;
        let one = Node::Struct(vec![
            ("cluster".into(), Node::Str("a".into())),
            ("tasks".into(), Node::List(vec![Node::Str("t1".into())])),
        ]);
        assert!(ask(fake(&[p]), &user("alice"), "ecs", "DescribeTasks", &one).is_ok());
        let two = Node::Struct(vec![
            ("cluster".into(), Node::Str("a".into())),
            (
                "tasks".into(),
                Node::List(vec![
                    Node::Str("t1".into()),
                    Node::Str("arn:aws:ecs:us-east-1:000000000000:task/b/t2".into()),
                ]),
            ),
        ]);
        let m = denied(ask(
            fake(&[p]),
            &user("alice"),
            "ecs",
            "DescribeTasks",
            &two,
        ));
        assert!(m.contains("task/b/t2"), "{m}");
    }

    #[test]
    fn variables_use_the_callers_name() {
        let p = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*AccessKey*",
            "Resource":"arn:aws:iam::*:user/${aws:username}"}}"#;
        assert!(
            ask(
                fake(&[p]),
                &user("alice"),
                "iam",
                "CreateAccessKey",
                &body(&[])
            )
            .is_ok()
        );
        assert!(
            ask(
                fake(&[p]),
                &user("alice"),
                "iam",
                "ListAccessKeys",
                &body(&[("UserName", "alice")])
            )
            .is_ok()
        );
        assert!(
            ask(
                fake(&[p]),
                &user("alice"),
                "iam",
                "CreateAccessKey",
                &body(&[("UserName", "bob")])
            )
            .is_err()
        );
    }

    #[test]
    fn resource_and_principal_tags() {
        let p = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ecs:StopTask","Resource":"*",
            "Condition":{"StringEquals":{"ecs:ResourceTag/team":"${aws:PrincipalTag/team}"}}}}"#;
        let task = "arn:aws:ecs:us-east-1:000000000000:task/a/t1";
        let mut src = fake(&[p]);
        src.tags = vec![("team".into(), "web".into())];
        src.resource_tags
            .insert(task.into(), vec![("team".into(), "web".into())]);
        let input = body(&[("cluster", "a"), ("task", "t1")]);
        assert!(ask(src, &user("alice"), "ecs", "StopTask", &input).is_ok());
        let mut src = fake(&[p]);
        src.tags = vec![("team".into(), "db".into())];
        src.resource_tags
            .insert(task.into(), vec![("team".into(), "web".into())]);
        assert!(ask(src, &user("alice"), "ecs", "StopTask", &input).is_err());
        // No policy reads resource tags: no lookup.
        let src = Arc::new(fake(&[RUN_IN_A]));
        let authz = PolicyAuthorizer::new(src.clone(), REGION, ACCOUNT);
        let who = user("alice");
        let input = body(&[("cluster", "a"), ("taskDefinition", "web:1")]);
        let req = AuthorizeRequest {
            principal: &who,
            action_prefix: "ecs",
            operation: "RunTask",
            input: &input,
            source_ip: None,
            secure_transport: false,
        };
        assert!(authz.decide(&req, time::OffsetDateTime::now_utc()).is_ok());
        assert_eq!(*src.lookups.lock().unwrap(), 0);
    }

    #[test]
    fn a_store_failure_is_answered_as_is() {
        match ask(
            Fake::default(),
            &user("broken"),
            "ecs",
            "ListClusters",
            &body(&[]),
        ) {
            Err(Refusal::Failed(e)) => assert_eq!(e.status, 500),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn operations_without_a_row_are_authorised_on_any_resource() {
        let p = r#"{"Statement":{"Effect":"Allow","Action":"ssm:GetParameter","Resource":"*"}}"#;
        assert!(
            ask(
                fake(&[p]),
                &user("alice"),
                "ssm",
                "GetParameter",
                &body(&[])
            )
            .is_ok()
        );
        assert!(
            ask(
                fake(&[p]),
                &user("alice"),
                "ssm",
                "PutParameter",
                &body(&[])
            )
            .is_err()
        );
    }

    #[test]
    fn simulate_reports_each_pair() {
        let doc = PolicyDocument::parse_identity(RUN_IN_A).unwrap();
        let named = [NamedPolicy {
            name: "RunInA",
            document: &doc,
        }];
        let mut keys = ConditionKeys::new();
        keys.insert(
            "ecs:cluster",
            "arn:aws:ecs:us-east-1:000000000000:cluster/a",
        );
        let out = simulate(
            &named,
            "arn:aws:iam::000000000000:user/alice",
            &["ecs:RunTask".into(), "ecs:StopTask".into()],
            &[],
            &keys,
        );
        assert_eq!(out.len(), 2);
        assert!(out[0].decision.is_allowed());
        assert_eq!(out[0].resource, "*");
        assert_eq!(out[1].decision, Decision::ImplicitDeny);
    }
}
