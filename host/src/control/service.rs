//! [`EcsService`] as a [`protocol::Service`]: the ECS JSON 1.1 target, and one forwarding
//! row per operation that `dispatch` answers (as `docs/api-coverage.md` lists them).

use super::EcsService;
use crate::protocol::{self, ApiError, BoxFuture, Context, Operation, Principal, Protocol};
use serde_json::Value;

/// The ECS operations this host answers, as `EcsService::dispatch` matches them.
pub const OPERATIONS: &[&str] = &[
    "CreateCluster",
    "DeleteCluster",
    "ListClusters",
    "DescribeClusters",
    "UpdateClusterSettings",
    "RegisterTaskDefinition",
    "DeregisterTaskDefinition",
    "DescribeTaskDefinition",
    "ListTaskDefinitions",
    "ListTaskDefinitionFamilies",
    "RunTask",
    "StopTask",
    "DescribeTasks",
    "ListTasks",
    "CreateService",
    "UpdateService",
    "DeleteService",
    "DescribeServices",
    "ListServices",
    "TagResource",
    "UntagResource",
    "ListTagsForResource",
];

impl EcsService {
    /// Runs `operation` with a JSON-object request body (what the protocol layer routes).
    pub async fn call(
        &self,
        principal: &Principal,
        operation: &str,
        body: Value,
    ) -> Result<Value, ApiError> {
        self.dispatch(principal, operation, body)
            .await
            .map_err(ApiError::from)
    }
}

impl protocol::Service for EcsService {
    fn name(&self) -> &'static str {
        "ecs"
    }

    fn signing_name(&self) -> &'static str {
        super::SIGNING_NAME
    }

    fn protocols(&self) -> &'static [Protocol] {
        &[Protocol::AwsJson1_1 {
            target_prefix: super::TARGET_PREFIX,
        }]
    }

    fn operations(&self) -> Vec<Operation<Self>> {
        protocol::forwarding(OPERATIONS)
    }
}

impl protocol::ValueService for EcsService {
    fn call_value<'a>(
        &'a self,
        ctx: &'a Context,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, ApiError>> {
        Box::pin(self.call(&ctx.principal, ctx.operation, input))
    }
}
