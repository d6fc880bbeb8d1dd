//! What each operation asks the policies: its IAM action, the resource ARN(s) it acts on,
//! and the service condition keys it sets, written once as data (one [`Rule`] per
//! operation) after AWS's Service Authorization Reference. [`Rule::resources`] and
//! [`Rule::request_keys`] read the members a rule names from the decoded input.
//!
//! Where the reference gives an action no resource type, the resource is `*` (a policy
//! must then say `"Resource": "*"`). Deviations, all more precise than `*` and matched by a
//! `*` policy alike: DescribeTaskDefinition and DeregisterTaskDefinition name the task
//! definition, CreateCluster the cluster it creates.

use super::input;
use crate::iam::policy::ConditionKeys;
use crate::protocol::value::Node;
use crate::protocol::{Principal, PrincipalKind};

/// How a request names the resources an operation acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Res {
    /// Allowed for every authenticated caller, without policies (`sts:GetCallerIdentity`).
    Always,
    /// No resource-level permissions: `*`.
    Any,
    /// An ECS cluster: name or ARN in `member`; absent means `default`.
    Cluster(&'static str),
    /// ECS clusters listed in `member`; none listed means `default`.
    Clusters(&'static str),
    /// A task definition: `family` (any revision: `family:*`), `family:rev`, or the ARN.
    TaskDefinition(&'static str),
    /// Tasks (ids or ARNs; one string or a list) in the cluster of `cluster`.
    Tasks {
        tasks: &'static str,
        cluster: &'static str,
    },
    /// Services (names or ARNs; one string or a list) in the cluster of `cluster`.
    Services {
        services: &'static str,
        cluster: &'static str,
    },
    /// A full ARN as sent (`resourceArn` of the tagging operations).
    Arn(&'static str),
    /// `arn:aws:logs:<region>:<account>:log-group:*` (listing log groups).
    AllLogGroups,
    /// A log group: the first present of `members` (a name, or an ARN for
    /// `logGroupIdentifier`).
    LogGroup(&'static [&'static str]),
    /// `…:log-group:<group>:log-stream:<stream>`.
    LogStream {
        group: &'static [&'static str],
        stream: &'static str,
    },
    /// An IAM user by `name` (absent: the caller), under `path` when the request gives one.
    IamUser {
        name: &'static str,
        path: Option<&'static str>,
    },
    IamGroup {
        name: &'static str,
        path: Option<&'static str>,
    },
    IamRole {
        name: &'static str,
        path: Option<&'static str>,
    },
    /// A managed policy being created: `policy<path><name>`.
    IamNewPolicy {
        name: &'static str,
        path: &'static str,
    },
}

/// A condition key an operation sets from its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// `ecs:cluster`: the ARN of the cluster in `member` (absent: `default`).
    EcsCluster(&'static str),
    /// `ecs:task-definition`: the task definition ARN in `member`, when sent.
    EcsTaskDefinition(&'static str),
    /// `ecs:service`: the service ARN in `member` (in the cluster of `cluster`).
    EcsService {
        service: &'static str,
        cluster: &'static str,
    },
    /// `aws:RequestTag/<k>` and `aws:TagKeys` from the tags in `member`.
    RequestTags(&'static str),
    /// `aws:TagKeys` from a list of tag keys (the untag operations).
    TagKeys(&'static str),
    /// `key` = the string member as sent (`iam:PolicyARN` ← `PolicyArn`).
    Member {
        key: &'static str,
        member: &'static str,
    },
}

/// One operation's authorisation: `<prefix>:<operation>` on [`Res`] with [`Key`]s.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub prefix: &'static str,
    pub operation: &'static str,
    pub resource: Res,
    pub keys: &'static [Key],
}

const fn rule(
    prefix: &'static str,
    operation: &'static str,
    resource: Res,
    keys: &'static [Key],
) -> Rule {
    Rule {
        prefix,
        operation,
        resource,
        keys,
    }
}

const CLUSTER: Key = Key::EcsCluster("cluster");
const TAGS_ECS: Key = Key::RequestTags("tags");
const TASKS: Res = Res::Tasks {
    tasks: "tasks",
    cluster: "cluster",
};
const TASK: Res = Res::Tasks {
    tasks: "task",
    cluster: "cluster",
};
const SERVICE: Res = Res::Services {
    services: "service",
    cluster: "cluster",
};
const GROUP_MEMBERS: &[&str] = &["logGroupName", "logGroupIdentifier"];
const LOG_GROUP: Res = Res::LogGroup(GROUP_MEMBERS);
const USER: Res = Res::IamUser {
    name: "UserName",
    path: None,
};
const GROUP: Res = Res::IamGroup {
    name: "GroupName",
    path: None,
};
const ROLE: Res = Res::IamRole {
    name: "RoleName",
    path: None,
};
const POLICY: Res = Res::Arn("PolicyArn");
const POLICY_ARN: Key = Key::Member {
    key: "iam:PolicyARN",
    member: "PolicyArn",
};
const TAGS_IAM: Key = Key::RequestTags("Tags");
const TAG_KEYS_IAM: Key = Key::TagKeys("TagKeys");

/// Every operation's rule. ECS and Logs follow the Service Authorization Reference; IAM
/// actions act on the user, group, role or policy the request names.
pub static RULES: &[Rule] = &[
    // ── ECS ─────────────────────────────────────────────────────────────────────────
    rule(
        "ecs",
        "CreateCluster",
        Res::Cluster("clusterName"),
        &[TAGS_ECS],
    ),
    rule("ecs", "DeleteCluster", Res::Cluster("cluster"), &[]),
    rule("ecs", "ListClusters", Res::Any, &[]),
    rule("ecs", "DescribeClusters", Res::Clusters("clusters"), &[]),
    rule("ecs", "UpdateClusterSettings", Res::Cluster("cluster"), &[]),
    rule("ecs", "RegisterTaskDefinition", Res::Any, &[TAGS_ECS]),
    rule(
        "ecs",
        "DeregisterTaskDefinition",
        Res::TaskDefinition("taskDefinition"),
        &[],
    ),
    rule(
        "ecs",
        "DescribeTaskDefinition",
        Res::TaskDefinition("taskDefinition"),
        &[],
    ),
    rule("ecs", "ListTaskDefinitions", Res::Any, &[]),
    rule("ecs", "ListTaskDefinitionFamilies", Res::Any, &[]),
    rule(
        "ecs",
        "RunTask",
        Res::TaskDefinition("taskDefinition"),
        &[CLUSTER, TAGS_ECS],
    ),
    rule("ecs", "StopTask", TASK, &[CLUSTER]),
    rule("ecs", "DescribeTasks", TASKS, &[CLUSTER]),
    rule("ecs", "ListTasks", Res::Any, &[CLUSTER]),
    rule(
        "ecs",
        "CreateService",
        Res::Services {
            services: "serviceName",
            cluster: "cluster",
        },
        &[
            CLUSTER,
            Key::EcsTaskDefinition("taskDefinition"),
            Key::EcsService {
                service: "serviceName",
                cluster: "cluster",
            },
            TAGS_ECS,
        ],
    ),
    rule(
        "ecs",
        "UpdateService",
        SERVICE,
        &[
            CLUSTER,
            Key::EcsTaskDefinition("taskDefinition"),
            Key::EcsService {
                service: "service",
                cluster: "cluster",
            },
        ],
    ),
    rule(
        "ecs",
        "DeleteService",
        SERVICE,
        &[
            CLUSTER,
            Key::EcsService {
                service: "service",
                cluster: "cluster",
            },
        ],
    ),
    rule(
        "ecs",
        "DescribeServices",
        Res::Services {
            services: "services",
            cluster: "cluster",
        },
        &[CLUSTER],
    ),
    rule("ecs", "ListServices", Res::Any, &[CLUSTER]),
    rule("ecs", "TagResource", Res::Arn("resourceArn"), &[TAGS_ECS]),
    rule(
        "ecs",
        "UntagResource",
        Res::Arn("resourceArn"),
        &[Key::TagKeys("tagKeys")],
    ),
    rule("ecs", "ListTagsForResource", Res::Arn("resourceArn"), &[]),
    // ── CloudWatch Logs ─────────────────────────────────────────────────────────────
    rule(
        "logs",
        "GetLogEvents",
        Res::LogStream {
            group: GROUP_MEMBERS,
            stream: "logStreamName",
        },
        &[],
    ),
    rule("logs", "FilterLogEvents", LOG_GROUP, &[]),
    rule("logs", "DescribeLogGroups", Res::AllLogGroups, &[]),
    rule("logs", "DescribeLogStreams", LOG_GROUP, &[]),
    rule(
        "logs",
        "CreateLogGroup",
        LOG_GROUP,
        &[Key::RequestTags("tags")],
    ),
    rule("logs", "DeleteLogGroup", LOG_GROUP, &[]),
    rule("logs", "CreateLogStream", LOG_GROUP, &[]),
    rule(
        "logs",
        "PutLogEvents",
        Res::LogStream {
            group: GROUP_MEMBERS,
            stream: "logStreamName",
        },
        &[],
    ),
    rule("logs", "PutRetentionPolicy", LOG_GROUP, &[]),
    rule("logs", "DeleteRetentionPolicy", LOG_GROUP, &[]),
    // ── STS ─────────────────────────────────────────────────────────────────────────
    rule("sts", "GetCallerIdentity", Res::Always, &[]),
    rule(
        "sts",
        "AssumeRole",
        Res::Arn("RoleArn"),
        &[
            TAGS_IAM,
            Key::Member {
                key: "sts:RoleSessionName",
                member: "RoleSessionName",
            },
        ],
    ),
    rule("sts", "GetSessionToken", Res::Any, &[]),
    // ── IAM: users and their keys ───────────────────────────────────────────────────
    rule(
        "iam",
        "CreateUser",
        Res::IamUser {
            name: "UserName",
            path: Some("Path"),
        },
        &[TAGS_IAM],
    ),
    rule("iam", "GetUser", USER, &[]),
    rule("iam", "UpdateUser", USER, &[]),
    rule("iam", "DeleteUser", USER, &[]),
    rule("iam", "ListUsers", Res::Any, &[]),
    rule("iam", "TagUser", USER, &[TAGS_IAM]),
    rule("iam", "UntagUser", USER, &[TAG_KEYS_IAM]),
    rule("iam", "ListUserTags", USER, &[]),
    rule("iam", "CreateAccessKey", USER, &[]),
    rule("iam", "ListAccessKeys", USER, &[]),
    rule("iam", "UpdateAccessKey", USER, &[]),
    rule("iam", "DeleteAccessKey", USER, &[]),
    rule("iam", "GetAccessKeyLastUsed", Res::Any, &[]),
    rule("iam", "PutUserPolicy", USER, &[]),
    rule("iam", "GetUserPolicy", USER, &[]),
    rule("iam", "ListUserPolicies", USER, &[]),
    rule("iam", "DeleteUserPolicy", USER, &[]),
    rule("iam", "AttachUserPolicy", USER, &[POLICY_ARN]),
    rule("iam", "DetachUserPolicy", USER, &[POLICY_ARN]),
    rule("iam", "ListAttachedUserPolicies", USER, &[]),
    rule("iam", "ListGroupsForUser", USER, &[]),
    // ── IAM: groups ─────────────────────────────────────────────────────────────────
    rule(
        "iam",
        "CreateGroup",
        Res::IamGroup {
            name: "GroupName",
            path: Some("Path"),
        },
        &[],
    ),
    rule("iam", "GetGroup", GROUP, &[]),
    rule("iam", "UpdateGroup", GROUP, &[]),
    rule("iam", "DeleteGroup", GROUP, &[]),
    rule("iam", "ListGroups", Res::Any, &[]),
    rule("iam", "AddUserToGroup", GROUP, &[]),
    rule("iam", "RemoveUserFromGroup", GROUP, &[]),
    rule("iam", "PutGroupPolicy", GROUP, &[]),
    rule("iam", "GetGroupPolicy", GROUP, &[]),
    rule("iam", "ListGroupPolicies", GROUP, &[]),
    rule("iam", "DeleteGroupPolicy", GROUP, &[]),
    rule("iam", "AttachGroupPolicy", GROUP, &[POLICY_ARN]),
    rule("iam", "DetachGroupPolicy", GROUP, &[POLICY_ARN]),
    rule("iam", "ListAttachedGroupPolicies", GROUP, &[]),
    // ── IAM: roles ──────────────────────────────────────────────────────────────────
    rule(
        "iam",
        "CreateRole",
        Res::IamRole {
            name: "RoleName",
            path: Some("Path"),
        },
        &[TAGS_IAM],
    ),
    rule("iam", "GetRole", ROLE, &[]),
    rule("iam", "UpdateRole", ROLE, &[]),
    rule("iam", "DeleteRole", ROLE, &[]),
    rule("iam", "ListRoles", Res::Any, &[]),
    rule("iam", "UpdateAssumeRolePolicy", ROLE, &[]),
    rule("iam", "TagRole", ROLE, &[TAGS_IAM]),
    rule("iam", "UntagRole", ROLE, &[TAG_KEYS_IAM]),
    rule("iam", "ListRoleTags", ROLE, &[]),
    rule("iam", "PutRolePolicy", ROLE, &[]),
    rule("iam", "GetRolePolicy", ROLE, &[]),
    rule("iam", "ListRolePolicies", ROLE, &[]),
    rule("iam", "DeleteRolePolicy", ROLE, &[]),
    rule("iam", "AttachRolePolicy", ROLE, &[POLICY_ARN]),
    rule("iam", "DetachRolePolicy", ROLE, &[POLICY_ARN]),
    rule("iam", "ListAttachedRolePolicies", ROLE, &[]),
    // ── IAM: managed policies ───────────────────────────────────────────────────────
    rule(
        "iam",
        "CreatePolicy",
        Res::IamNewPolicy {
            name: "PolicyName",
            path: "Path",
        },
        &[TAGS_IAM],
    ),
    rule("iam", "GetPolicy", POLICY, &[]),
    rule("iam", "DeletePolicy", POLICY, &[]),
    rule("iam", "ListPolicies", Res::Any, &[]),
    rule("iam", "CreatePolicyVersion", POLICY, &[]),
    rule("iam", "GetPolicyVersion", POLICY, &[]),
    rule("iam", "ListPolicyVersions", POLICY, &[]),
    rule("iam", "DeletePolicyVersion", POLICY, &[]),
    rule("iam", "SetDefaultPolicyVersion", POLICY, &[]),
    rule("iam", "ListEntitiesForPolicy", POLICY, &[]),
    rule("iam", "TagPolicy", POLICY, &[TAGS_IAM]),
    rule("iam", "UntagPolicy", POLICY, &[TAG_KEYS_IAM]),
    rule("iam", "ListPolicyTags", POLICY, &[]),
    rule(
        "iam",
        "SimulatePrincipalPolicy",
        Res::Arn("PolicySourceArn"),
        &[],
    ),
    rule("iam", "SimulateCustomPolicy", Res::Any, &[]),
    rule("iam", "GetAccountSummary", Res::Any, &[]),
];

/// The rule of `<prefix>:<operation>`, if the table has one.
pub fn lookup(prefix: &str, operation: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.operation == operation && r.prefix == prefix)
}

/// The rule for an operation the table lacks: its action on `*` (a service added later
/// is authorised, coarsely, until it has rows).
pub fn fallback(prefix: &'static str, operation: &'static str) -> Rule {
    rule(prefix, operation, Res::Any, &[])
}

/// Builds ARNs of this host's region and account.
#[derive(Debug, Clone)]
pub struct Arns<'a> {
    pub region: &'a str,
    pub account: &'a str,
}

impl Arns<'_> {
    fn ecs(&self, resource: &str) -> String {
        format!("arn:aws:ecs:{}:{}:{resource}", self.region, self.account)
    }

    fn cluster(&self, reference: Option<&str>) -> String {
        match reference {
            Some(arn) if arn.starts_with("arn:") => arn.to_owned(),
            Some(name) => self.ecs(&format!("cluster/{name}")),
            None => self.ecs("cluster/default"),
        }
    }

    /// The cluster's name for task and service ARNs (`task/<cluster>/<id>`).
    fn cluster_name<'b>(&self, reference: Option<&'b str>) -> &'b str {
        match reference {
            Some(r) if r.starts_with("arn:") => r.rsplit('/').next().unwrap_or(r),
            Some(name) => name,
            None => "default",
        }
    }

    fn task_definition(&self, reference: &str) -> String {
        match reference {
            arn if arn.starts_with("arn:") => {
                let family_rev = arn.rsplit('/').next().unwrap_or(arn);
                if family_rev.contains(':') {
                    arn.to_owned()
                } else {
                    format!("{arn}:*")
                }
            }
            family_rev if family_rev.contains(':') => {
                self.ecs(&format!("task-definition/{family_rev}"))
            }
            family => self.ecs(&format!("task-definition/{family}:*")),
        }
    }

    fn in_cluster(&self, kind: &str, cluster: &str, reference: &str) -> String {
        if reference.starts_with("arn:") {
            reference.to_owned()
        } else {
            self.ecs(&format!("{kind}/{cluster}/{reference}"))
        }
    }

    fn log_group(&self, reference: &str) -> String {
        if reference.starts_with("arn:") {
            // `logGroupIdentifier` ARNs may end in `:*`; the group's ARN does not.
            reference.strip_suffix(":*").unwrap_or(reference).to_owned()
        } else {
            format!(
                "arn:aws:logs:{}:{}:log-group:{reference}",
                self.region, self.account
            )
        }
    }

    fn iam(&self, kind: &str, path: Option<&str>, name: &str) -> String {
        let path = path.filter(|p| p.starts_with('/') && p.ends_with('/'));
        format!(
            "arn:aws:iam::{}:{kind}{}{name}",
            self.account,
            path.unwrap_or("/")
        )
    }
}

impl Rule {
    /// The IAM action: `ecs:RunTask`.
    pub fn action(&self) -> String {
        format!("{}:{}", self.prefix, self.operation)
    }

    /// The resource ARNs the request acts on; every one must be allowed. Never empty.
    pub fn resources(&self, input: &Node, principal: &Principal, arns: &Arns<'_>) -> Vec<String> {
        let any = || vec!["*".to_owned()];
        let first = |members: &[&str]| members.iter().find_map(|m| input::text(input, m));
        let listed = |member: &str| {
            let mut v = input::strings(input, member);
            v.extend(input::text(input, member));
            v
        };
        let out = match self.resource {
            Res::Always | Res::Any => any(),
            Res::Cluster(m) => vec![arns.cluster(input::text(input, m))],
            Res::Clusters(m) => {
                let refs = listed(m);
                if refs.is_empty() {
                    vec![arns.cluster(None)]
                } else {
                    refs.into_iter().map(|r| arns.cluster(Some(r))).collect()
                }
            }
            Res::TaskDefinition(m) => match input::text(input, m) {
                Some(r) => vec![arns.task_definition(r)],
                None => any(),
            },
            Res::Tasks { tasks, cluster } => {
                let c = arns.cluster_name(input::text(input, cluster));
                listed(tasks)
                    .into_iter()
                    .map(|t| arns.in_cluster("task", c, t))
                    .collect()
            }
            Res::Services { services, cluster } => {
                let c = arns.cluster_name(input::text(input, cluster));
                listed(services)
                    .into_iter()
                    .map(|s| arns.in_cluster("service", c, s))
                    .collect()
            }
            Res::Arn(m) => input::text(input, m)
                .map(|a| vec![a.to_owned()])
                .unwrap_or_default(),
            Res::AllLogGroups => vec![format!(
                "arn:aws:logs:{}:{}:log-group:*",
                arns.region, arns.account
            )],
            Res::LogGroup(members) => first(members)
                .map(|g| vec![arns.log_group(g)])
                .unwrap_or_default(),
            Res::LogStream { group, stream } => match (first(group), input::text(input, stream)) {
                (Some(g), Some(s)) => vec![format!("{}:log-stream:{s}", arns.log_group(g))],
                _ => Vec::new(),
            },
            Res::IamUser { name, path } => match input::text(input, name) {
                Some(n) => vec![arns.iam("user", path.and_then(|p| input::text(input, p)), n)],
                // Without a name, the user operations act on the caller.
                None => match &principal.kind {
                    PrincipalKind::User { name, .. } => vec![arns.iam("user", None, name)],
                    _ => vec![principal.arn.clone()],
                },
            },
            Res::IamGroup { name, path } => input::text(input, name)
                .map(|n| vec![arns.iam("group", path.and_then(|p| input::text(input, p)), n)])
                .unwrap_or_default(),
            Res::IamRole { name, path } => input::text(input, name)
                .map(|n| vec![arns.iam("role", path.and_then(|p| input::text(input, p)), n)])
                .unwrap_or_default(),
            Res::IamNewPolicy { name, path } => input::text(input, name)
                .map(|n| vec![arns.iam("policy", input::text(input, path), n)])
                .unwrap_or_default(),
        };
        // A request that names nothing (the member is missing: the handler will refuse
        // it) is still authorised, on `*`.
        if out.is_empty() { any() } else { out }
    }

    /// Sets the condition keys this operation takes from its input.
    pub fn request_keys(&self, input: &Node, arns: &Arns<'_>, keys: &mut ConditionKeys) {
        for key in self.keys {
            match *key {
                Key::EcsCluster(m) => {
                    keys.insert("ecs:cluster", arns.cluster(input::text(input, m)))
                }
                Key::EcsTaskDefinition(m) => {
                    if let Some(td) = input::text(input, m) {
                        keys.insert("ecs:task-definition", arns.task_definition(td));
                    }
                }
                Key::EcsService { service, cluster } => {
                    if let Some(s) = input::text(input, service) {
                        let c = arns.cluster_name(input::text(input, cluster));
                        keys.insert("ecs:service", arns.in_cluster("service", c, s));
                    }
                }
                Key::RequestTags(m) => {
                    let tags = input::tags(input, m);
                    if !tags.is_empty() {
                        let mut names = Vec::with_capacity(tags.len());
                        for (k, v) in tags {
                            keys.insert(&format!("aws:RequestTag/{k}"), v);
                            names.push(k);
                        }
                        keys.set("aws:TagKeys", names);
                    }
                }
                Key::TagKeys(m) => {
                    let names: Vec<String> = input::strings(input, m)
                        .into_iter()
                        .map(str::to_owned)
                        .collect();
                    if !names.is_empty() {
                        keys.set("aws:TagKeys", names);
                    }
                }
                Key::Member { key, member } => {
                    if let Some(v) = input::text(input, member) {
                        keys.insert(key, v);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGION: &str = "us-east-1";
    const ACCOUNT: &str = "000000000000";

    fn arns() -> Arns<'static> {
        Arns {
            region: REGION,
            account: ACCOUNT,
        }
    }

    fn alice() -> Principal {
        Principal {
            access_key_id: "AKIAALICE".into(),
            arn: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
            kind: PrincipalKind::User {
                name: "alice".into(),
                id: "AIDAALICE".into(),
            },
        }
    }

    /// A JSON body as the router decodes it.
    fn json(v: serde_json::Value) -> Node {
        fn node(v: serde_json::Value) -> Node {
            match v {
                serde_json::Value::String(s) => Node::Str(s),
                serde_json::Value::Array(a) => Node::List(a.into_iter().map(node).collect()),
                serde_json::Value::Object(o) => {
                    Node::Struct(o.into_iter().map(|(k, v)| (k, node(v))).collect())
                }
                serde_json::Value::Bool(b) => Node::Bool(b),
                serde_json::Value::Number(n) => Node::Int(n.as_i64().unwrap_or(0).into()),
                serde_json::Value::Null => Node::Null,
            }
        }
        node(v)
    }

    fn ecs(r: &str) -> String {
        format!("arn:aws:ecs:{REGION}:{ACCOUNT}:{r}")
    }

    fn resolve(prefix: &str, op: &str, input: serde_json::Value) -> (Vec<String>, ConditionKeys) {
        let rule = lookup(prefix, op).unwrap_or_else(|| panic!("no rule for {prefix}:{op}"));
        let input = json(input);
        let mut keys = ConditionKeys::new();
        rule.request_keys(&input, &arns(), &mut keys);
        (rule.resources(&input, &alice(), &arns()), keys)
    }

    fn key(keys: &ConditionKeys, k: &str) -> Vec<String> {
        keys.get(k).map(<[String]>::to_vec).unwrap_or_default()
    }

    #[test]
    fn every_routed_ecs_and_logs_operation_has_a_row() {
        let mut missing = Vec::new();
        for op in crate::control::OPERATIONS {
            if lookup("ecs", op).is_none() {
                missing.push(format!("ecs:{op}"));
            }
        }
        for op in crate::logs::api::OPERATIONS {
            if lookup("logs", op).is_none() {
                missing.push(format!("logs:{op}"));
            }
        }
        assert!(
            missing.is_empty(),
            "operations without an authorisation row: {missing:?}"
        );
    }

    #[test]
    fn rows_are_unique() {
        for (i, r) in RULES.iter().enumerate() {
            assert!(
                !RULES[..i]
                    .iter()
                    .any(|o| o.prefix == r.prefix && o.operation == r.operation),
                "{}:{} twice",
                r.prefix,
                r.operation
            );
        }
    }

    #[test]
    fn run_task_is_on_the_task_definition_with_the_cluster_key() {
        let (res, keys) = resolve(
            "ecs",
            "RunTask",
            serde_json::json!({"cluster": "a", "taskDefinition": "web:3",
                               "tags": [{"key": "env", "value": "prod"}]}),
        );
        assert_eq!(res, [ecs("task-definition/web:3")]);
        assert_eq!(key(&keys, "ecs:cluster"), [ecs("cluster/a")]);
        assert_eq!(key(&keys, "aws:RequestTag/env"), ["prod"]);
        assert_eq!(key(&keys, "aws:TagKeys"), ["env"]);
        // A family alone is any revision; no cluster is the default one.
        let (res, keys) = resolve(
            "ecs",
            "RunTask",
            serde_json::json!({"taskDefinition": "web"}),
        );
        assert_eq!(res, [ecs("task-definition/web:*")]);
        assert_eq!(key(&keys, "ecs:cluster"), [ecs("cluster/default")]);
        assert!(keys.get("aws:TagKeys").is_none());
        // Full ARNs are taken as they are.
        let (res, keys) = resolve(
            "ecs",
            "RunTask",
            serde_json::json!({"cluster": ecs("cluster/b"), "taskDefinition": ecs("task-definition/web:7")}),
        );
        assert_eq!(res, [ecs("task-definition/web:7")]);
        assert_eq!(key(&keys, "ecs:cluster"), [ecs("cluster/b")]);
    }

    #[test]
    fn describe_tasks_is_on_each_task() {
        let long = ecs("task/b/0123456789abcdef0123456789abcdef");
        let (res, keys) = resolve(
            "ecs",
            "DescribeTasks",
            serde_json::json!({"cluster": "b", "tasks": ["ffffffffffffffffffffffffffffffff", long]}),
        );
        assert_eq!(res, [ecs("task/b/ffffffffffffffffffffffffffffffff"), long]);
        assert_eq!(key(&keys, "ecs:cluster"), [ecs("cluster/b")]);
        let (res, _) = resolve("ecs", "StopTask", serde_json::json!({"task": "abc"}));
        assert_eq!(res, [ecs("task/default/abc")]);
    }

    #[test]
    fn create_service_is_on_the_service_with_cluster_and_task_definition() {
        let (res, keys) = resolve(
            "ecs",
            "CreateService",
            serde_json::json!({"cluster": "a", "serviceName": "web", "taskDefinition": "web:2"}),
        );
        assert_eq!(res, [ecs("service/a/web")]);
        assert_eq!(key(&keys, "ecs:cluster"), [ecs("cluster/a")]);
        assert_eq!(
            key(&keys, "ecs:task-definition"),
            [ecs("task-definition/web:2")]
        );
        assert_eq!(key(&keys, "ecs:service"), [ecs("service/a/web")]);
    }

    #[test]
    fn logs_operations_are_on_groups_and_streams() {
        let group = format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/ecs/web");
        let (res, _) = resolve(
            "logs",
            "PutLogEvents",
            serde_json::json!({"logGroupName": "/ecs/web", "logStreamName": "ecs/app/1", "logEvents": []}),
        );
        assert_eq!(res, [format!("{group}:log-stream:ecs/app/1")]);
        let (res, keys) = resolve(
            "logs",
            "CreateLogGroup",
            serde_json::json!({"logGroupName": "/ecs/web", "tags": {"team": "a"}}),
        );
        assert_eq!(res, std::slice::from_ref(&group));
        assert_eq!(key(&keys, "aws:RequestTag/team"), ["a"]);
        let (res, _) = resolve(
            "logs",
            "DescribeLogStreams",
            serde_json::json!({"logGroupIdentifier": format!("{group}:*")}),
        );
        assert_eq!(res, [group]);
        let (res, _) = resolve("logs", "DescribeLogGroups", serde_json::json!({}));
        assert_eq!(
            res,
            [format!("arn:aws:logs:{REGION}:{ACCOUNT}:log-group:*")]
        );
    }

    #[test]
    fn iam_operations_name_users_roles_groups_and_policies() {
        let (res, _) = resolve(
            "iam",
            "CreateUser",
            serde_json::json!({"UserName": "bob", "Path": "/ops/"}),
        );
        assert_eq!(res, [format!("arn:aws:iam::{ACCOUNT}:user/ops/bob")]);
        // No user name: the caller.
        let (res, _) = resolve("iam", "CreateAccessKey", serde_json::json!({}));
        assert_eq!(res, [format!("arn:aws:iam::{ACCOUNT}:user/alice")]);
        let (res, keys) = resolve(
            "iam",
            "AttachRolePolicy",
            serde_json::json!({"RoleName": "r", "PolicyArn": "arn:aws:iam::000000000000:policy/p"}),
        );
        assert_eq!(res, [format!("arn:aws:iam::{ACCOUNT}:role/r")]);
        assert_eq!(
            key(&keys, "iam:PolicyARN"),
            ["arn:aws:iam::000000000000:policy/p"]
        );
        let (res, _) = resolve(
            "iam",
            "CreatePolicy",
            serde_json::json!({"PolicyName": "p"}),
        );
        assert_eq!(res, [format!("arn:aws:iam::{ACCOUNT}:policy/p")]);
        let (res, _) = resolve(
            "sts",
            "AssumeRole",
            serde_json::json!({"RoleArn": "arn:aws:iam::000000000000:role/r", "RoleSessionName": "s"}),
        );
        assert_eq!(res, ["arn:aws:iam::000000000000:role/r"]);
        let (res, _) = resolve("iam", "ListUsers", serde_json::json!({}));
        assert_eq!(res, ["*"]);
        assert_eq!(
            lookup("sts", "GetCallerIdentity").map(|r| r.resource),
            Some(Res::Always)
        );
    }
}
