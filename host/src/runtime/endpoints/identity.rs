//! Who a task is in ECS terms (cluster, ARNs, revision, service, tags): what its metadata
//! says about it. The control plane knows these; `wasmgate run` gets a local stand-in.

/// The ECS facts of one task its containers may read, fixed at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskIdentity {
    /// The task's id (the last part of its ARN); the runtime uses it as the task's id.
    pub task_id: String,
    pub cluster_arn: String,
    pub task_arn: String,
    /// The task definition's revision, as text (ECS prints it so in the metadata).
    pub revision: String,
    /// The service that started the task, if one did.
    pub service_name: Option<String>,
    /// ECS `group` (`service:NAME`, `family:NAME` or RunTask's own); `None`: derived.
    pub group: Option<String>,
    pub availability_zone: String,
    /// The task's tags when it started (`taskWithTags`).
    pub tags: Vec<(String, String)>,
    /// `containerArn` of each container, by its place in the definition.
    pub container_arns: Vec<String>,
}

impl TaskIdentity {
    /// The identity `wasmgate run` gives a task: the `default` cluster of the configured
    /// region and account, revision 1, ARNs shaped as ECS shapes them.
    pub fn local(region: &str, account: &str, task_id: &str, containers: usize) -> Self {
        let prefix = format!("arn:aws:ecs:{region}:{account}");
        let cluster = "default";
        Self {
            task_id: task_id.to_owned(),
            cluster_arn: format!("{prefix}:cluster/{cluster}"),
            task_arn: format!("{prefix}:task/{cluster}/{task_id}"),
            revision: "1".into(),
            service_name: None,
            group: None,
            availability_zone: format!("{region}a"),
            tags: Vec::new(),
            container_arns: (0..containers)
                .map(|i| format!("{prefix}:container/{cluster}/{task_id}/{i}"))
                .collect(),
        }
    }
}
