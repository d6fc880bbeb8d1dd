//! Small typed services shaped like the real models (a few operations each), which record
//! the typed input each handler got.

use serde::{Deserialize, Serialize};
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use wasmgate::op;
use wasmgate::protocol::{
    ApiError, Blob, Context, Operation, Protocol, ProtocolKind, Route, Router, Service, Timestamp,
};

/// Every typed input a handler received, with the protocol it came by and the members it
/// ignored.
#[derive(Default)]
pub struct Seen(Mutex<Vec<Call>>);

/// A typed input, its protocol and the members it ignored.
type Call = (Box<dyn Any + Send>, ProtocolKind, Vec<String>);

impl Seen {
    fn push<T: Any + Send + Clone>(&self, ctx: &Context, input: &T) {
        if let Ok(mut v) = self.0.lock() {
            v.push((
                Box::new(input.clone()),
                ctx.protocol,
                ctx.unknown_members.clone(),
            ));
        }
    }

    /// The last input, which must be a `T`.
    pub fn last<T: Any + Clone>(&self) -> (T, ProtocolKind, Vec<String>) {
        let v = self.0.lock().expect("lock");
        let (input, protocol, unknown) = v.last().expect("a handler ran");
        let input = input
            .downcast_ref::<T>()
            .unwrap_or_else(|| panic!("the last input is not a {}", std::any::type_name::<T>()));
        (input.clone(), *protocol, unknown.clone())
    }

    pub fn count(&self) -> usize {
        self.0.lock().map(|v| v.len()).unwrap_or(0)
    }
}

/// All the services on one router, sharing one record.
pub fn router() -> (Router, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let router = Router::builder()
        .service(Arc::new(Ecs(seen.clone())))
        .service(Arc::new(CloudWatch(seen.clone())))
        .service(Arc::new(Sts(seen.clone())))
        .service(Arc::new(Iam(seen.clone())))
        .service(Arc::new(Sns(seen.clone())))
        .service(Arc::new(Scheduler(seen.clone())))
        .service(Arc::new(CloudMap(seen.clone())))
        .service(Arc::new(SecretsManager(seen.clone())))
        .build()
        .expect("the services fit together");
    (router, seen)
}

// ---------------------------------------------------------------------------------------
// ECS (awsJson1_1)

pub struct Ecs(Arc<Seen>);

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListClustersInput {
    pub next_token: Option<String>,
    pub max_results: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListClustersOutput {
    cluster_arns: Vec<String>,
    next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterTaskDefinitionInput {
    pub family: String,
    pub container_definitions: Vec<ContainerDefinition>,
    pub cpu: Option<String>,
    #[serde(default)]
    pub tags: Vec<EcsTag>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDefinition {
    pub name: String,
    pub image: Option<String>,
    pub memory: Option<u32>,
    pub essential: Option<bool>,
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
    #[serde(default)]
    pub environment: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMapping {
    pub container_port: u16,
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct KeyValue {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EcsTag {
    pub key: String,
    pub value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegisterTaskDefinitionOutput {
    task_definition: TaskDefinitionOut,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TaskDefinitionOut {
    task_definition_arn: String,
    family: String,
    revision: u32,
    registered_at: Timestamp,
}

static ECS_PROTOCOLS: [Protocol; 1] = [Protocol::AwsJson1_1 {
    target_prefix: "AmazonEC2ContainerServiceV20141113",
}];

impl Service for Ecs {
    fn name(&self) -> &'static str {
        "ecs"
    }
    fn signing_name(&self) -> &'static str {
        "ecs"
    }
    fn protocols(&self) -> &'static [Protocol] {
        &ECS_PROTOCOLS
    }
    fn operations(&self) -> Vec<Operation<Self>> {
        vec![
            op!("ListClusters", Self::list_clusters),
            op!("RegisterTaskDefinition", Self::register_task_definition),
        ]
    }
    fn validation_error(&self, message: String) -> ApiError {
        ApiError::invalid_parameter(message)
    }
}

impl Ecs {
    async fn list_clusters(
        &self,
        ctx: &Context,
        input: ListClustersInput,
    ) -> Result<ListClustersOutput, ApiError> {
        self.0.push(ctx, &input);
        Ok(ListClustersOutput {
            cluster_arns: vec!["arn:aws:ecs:us-east-1:000000000000:cluster/default".into()],
            next_token: Some("t2".into()),
        })
    }

    async fn register_task_definition(
        &self,
        ctx: &Context,
        input: RegisterTaskDefinitionInput,
    ) -> Result<RegisterTaskDefinitionOutput, ApiError> {
        self.0.push(ctx, &input);
        Ok(RegisterTaskDefinitionOutput {
            task_definition: TaskDefinitionOut {
                task_definition_arn: format!(
                    "arn:aws:ecs:us-east-1:000000000000:task-definition/{}:1",
                    input.family
                ),
                family: input.family,
                revision: 1,
                registered_at: Timestamp::parse("2024-05-01T12:00:00.25Z").expect("a time"),
            },
        })
    }
}

// ---------------------------------------------------------------------------------------
// CloudWatch (rpc-v2-cbor, awsJson1_0, awsQuery; query-compatible)

pub struct CloudWatch(Arc<Seen>);

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutMetricDataInput {
    pub namespace: String,
    #[serde(default)]
    pub metric_data: Vec<MetricDatum>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricDatum {
    pub metric_name: String,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    pub timestamp: Option<Timestamp>,
    pub value: Option<f64>,
    pub statistic_values: Option<StatisticSet>,
    #[serde(default)]
    pub values: Vec<f64>,
    #[serde(default)]
    pub counts: Vec<f64>,
    pub unit: Option<String>,
    pub storage_resolution: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatisticSet {
    pub sample_count: f64,
    pub sum: f64,
    pub minimum: f64,
    pub maximum: f64,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricStatisticsInput {
    pub namespace: String,
    pub metric_name: String,
    #[serde(default)]
    pub dimensions: Vec<Dimension>,
    pub start_time: Timestamp,
    pub end_time: Timestamp,
    pub period: u32,
    #[serde(default)]
    pub statistics: Vec<String>,
    #[serde(default)]
    pub extended_statistics: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricStatisticsOutput {
    label: String,
    datapoints: Vec<Datapoint>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Datapoint {
    timestamp: Timestamp,
    sample_count: f64,
    average: f64,
    unit: String,
    extended_statistics: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteAlarmsInput {
    pub alarm_names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetMetricWidgetImageInput {
    pub metric_widget: String,
    pub output_format: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct MetricWidgetImage {
    metric_widget_image: Blob,
}

/// Bytes no text encoding would carry unharmed.
pub const PNG_BYTES: &[u8] = b"\x89PNG\r\n\x1a\n\x00\xff<&>";

static CLOUDWATCH_PROTOCOLS: [Protocol; 3] = [
    Protocol::RpcV2Cbor {
        service: "GraniteServiceVersion20100801",
    },
    Protocol::AwsJson1_0 {
        target_prefix: "GraniteServiceVersion20100801",
    },
    Protocol::AwsQuery {
        version: "2010-08-01",
        xmlns: "http://monitoring.amazonaws.com/doc/2010-08-01/",
    },
];

impl Service for CloudWatch {
    fn name(&self) -> &'static str {
        "cloudwatch"
    }
    fn signing_name(&self) -> &'static str {
        "monitoring"
    }
    fn protocols(&self) -> &'static [Protocol] {
        &CLOUDWATCH_PROTOCOLS
    }
    fn operations(&self) -> Vec<Operation<Self>> {
        vec![
            op!("PutMetricData", Self::put_metric_data),
            op!("GetMetricStatistics", Self::get_metric_statistics),
            op!("DeleteAlarms", Self::delete_alarms),
            op!("GetMetricWidgetImage", Self::get_metric_widget_image),
        ]
    }
    fn validation_error(&self, message: String) -> ApiError {
        ApiError::new("InvalidParameterValue", message)
    }
    fn query_compatible(&self) -> bool {
        true
    }
}

impl CloudWatch {
    async fn put_metric_data(
        &self,
        ctx: &Context,
        input: PutMetricDataInput,
    ) -> Result<(), ApiError> {
        self.0.push(ctx, &input);
        Ok(())
    }

    async fn get_metric_statistics(
        &self,
        ctx: &Context,
        input: GetMetricStatisticsInput,
    ) -> Result<GetMetricStatisticsOutput, ApiError> {
        self.0.push(ctx, &input);
        Ok(GetMetricStatisticsOutput {
            label: input.metric_name,
            datapoints: vec![Datapoint {
                timestamp: input.start_time,
                sample_count: 3.0,
                average: 1.5,
                unit: "Milliseconds".into(),
                extended_statistics: BTreeMap::from([("p99".to_owned(), 2.5)]),
            }],
        })
    }

    async fn get_metric_widget_image(
        &self,
        ctx: &Context,
        input: GetMetricWidgetImageInput,
    ) -> Result<MetricWidgetImage, ApiError> {
        self.0.push(ctx, &input);
        Ok(MetricWidgetImage {
            metric_widget_image: Blob(PNG_BYTES.to_vec()),
        })
    }

    async fn delete_alarms(&self, ctx: &Context, input: DeleteAlarmsInput) -> Result<(), ApiError> {
        self.0.push(ctx, &input);
        Err(ApiError::with_status(
            "ResourceNotFound",
            format!("No alarm named {}", input.alarm_names.join(", ")),
            404,
        ))
    }
}

// ---------------------------------------------------------------------------------------
// STS, IAM, SNS (awsQuery)

pub struct Sts(Arc<Seen>);

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleInput {
    pub role_arn: String,
    pub role_session_name: String,
    #[serde(default)]
    pub policy_arns: Vec<PolicyDescriptor>,
    pub duration_seconds: Option<u32>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    #[serde(default)]
    pub transitive_tag_keys: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PolicyDescriptor {
    pub arn: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssumeRoleOutput {
    credentials: Credentials,
    assumed_role_user: AssumedRoleUser,
    packed_policy_size: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Credentials {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: Timestamp,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct AssumedRoleUser {
    assumed_role_id: String,
    arn: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NoInput {}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CallerIdentity {
    user_id: String,
    account: String,
    arn: String,
}

static STS_PROTOCOLS: [Protocol; 1] = [Protocol::AwsQuery {
    version: "2011-06-15",
    xmlns: "https://sts.amazonaws.com/doc/2011-06-15/",
}];

impl Service for Sts {
    fn name(&self) -> &'static str {
        "sts"
    }
    fn signing_name(&self) -> &'static str {
        "sts"
    }
    fn protocols(&self) -> &'static [Protocol] {
        &STS_PROTOCOLS
    }
    fn operations(&self) -> Vec<Operation<Self>> {
        vec![
            op!("AssumeRole", Self::assume_role),
            op!("GetCallerIdentity", Self::get_caller_identity),
        ]
    }
    fn validation_error(&self, message: String) -> ApiError {
        ApiError::new("ValidationError", message)
    }
}

impl Sts {
    async fn assume_role(
        &self,
        ctx: &Context,
        input: AssumeRoleInput,
    ) -> Result<AssumeRoleOutput, ApiError> {
        self.0.push(ctx, &input);
        Ok(AssumeRoleOutput {
            credentials: Credentials {
                access_key_id: "ASIAEXAMPLE".into(),
                secret_access_key: "s3cr3t/+=".into(),
                session_token: "token<&>".into(),
                expiration: Timestamp::parse("2024-05-01T13:00:00Z").expect("a time"),
            },
            assumed_role_user: AssumedRoleUser {
                assumed_role_id: format!("AROAEXAMPLE:{}", input.role_session_name),
                arn: format!("{}/{}", input.role_arn, input.role_session_name),
            },
            packed_policy_size: 6,
        })
    }

    async fn get_caller_identity(
        &self,
        ctx: &Context,
        input: NoInput,
    ) -> Result<CallerIdentity, ApiError> {
        self.0.push(ctx, &input);
        Ok(CallerIdentity {
            user_id: ctx.principal.access_key_id.clone(),
            account: "000000000000".into(),
            arn: ctx.principal.arn.clone(),
        })
    }
}

pub struct Iam(Arc<Seen>);

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserInput {
    pub path: Option<String>,
    pub user_name: String,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateUserOutput {
    user: User,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct User {
    path: String,
    user_name: String,
    user_id: String,
    arn: String,
    create_date: Timestamp,
    tags: Vec<Tag>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AccountSummary {
    summary_map: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetUserInput {
    pub user_name: Option<String>,
}

static IAM_PROTOCOLS: [Protocol; 1] = [Protocol::AwsQuery {
    version: "2010-05-08",
    xmlns: "https://iam.amazonaws.com/doc/2010-05-08/",
}];

impl Service for Iam {
    fn name(&self) -> &'static str {
        "iam"
    }
    fn signing_name(&self) -> &'static str {
        "iam"
    }
    fn protocols(&self) -> &'static [Protocol] {
        &IAM_PROTOCOLS
    }
    fn operations(&self) -> Vec<Operation<Self>> {
        vec![
            op!("CreateUser", Self::create_user),
            op!("GetAccountSummary", Self::get_account_summary),
            op!("GetUser", Self::get_user),
        ]
    }
    fn validation_error(&self, message: String) -> ApiError {
        ApiError::new("ValidationError", message)
    }
}

impl Iam {
    async fn create_user(
        &self,
        ctx: &Context,
        input: CreateUserInput,
    ) -> Result<CreateUserOutput, ApiError> {
        self.0.push(ctx, &input);
        Ok(CreateUserOutput {
            user: User {
                path: input.path.unwrap_or_else(|| "/".into()),
                arn: format!("arn:aws:iam::000000000000:user/{}", input.user_name),
                user_name: input.user_name,
                user_id: "AIDAEXAMPLE".into(),
                create_date: Timestamp::parse("2024-05-01T12:00:00Z").expect("a time"),
                tags: input.tags,
            },
        })
    }

    async fn get_account_summary(
        &self,
        ctx: &Context,
        input: NoInput,
    ) -> Result<AccountSummary, ApiError> {
        self.0.push(ctx, &input);
        Ok(AccountSummary {
            summary_map: BTreeMap::from([("Users".to_owned(), 3), ("Roles".to_owned(), 0)]),
        })
    }

    async fn get_user(
        &self,
        ctx: &Context,
        input: GetUserInput,
    ) -> Result<CreateUserOutput, ApiError> {
        self.0.push(ctx, &input);
        Err(ApiError::with_status(
            "NoSuchEntity",
            format!(
                "The user with name {} cannot be found.",
                input.user_name.unwrap_or_default()
            ),
            404,
        ))
    }
}

pub struct Sns(Arc<Seen>);

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTopicInput {
    pub name: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateTopicOutput {
    topic_arn: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicArnInput {
    pub topic_arn: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TopicAttributes {
    attributes: BTreeMap<String, String>,
}

static SNS_PROTOCOLS: [Protocol; 1] = [Protocol::AwsQuery {
    version: "2010-03-31",
    xmlns: "http://sns.amazonaws.com/doc/2010-03-31/",
}];

impl Service for Sns {
    fn name(&self) -> &'static str {
        "sns"
    }
    fn signing_name(&self) -> &'static str {
        "sns"
    }
    fn protocols(&self) -> &'static [Protocol] {
        &SNS_PROTOCOLS
    }
    fn operations(&self) -> Vec<Operation<Self>> {
        vec![
            op!("CreateTopic", Self::create_topic),
            op!("GetTopicAttributes", Self::get_topic_attributes),
        ]
    }
}

impl Sns {
    async fn create_topic(
        &self,
        ctx: &Context,
        input: CreateTopicInput,
    ) -> Result<CreateTopicOutput, ApiError> {
        self.0.push(ctx, &input);
        Ok(CreateTopicOutput {
            topic_arn: format!("arn:aws:sns:us-east-1:000000000000:{}", input.name),
        })
    }

    async fn get_topic_attributes(
        &self,
        ctx: &Context,
        input: TopicArnInput,
    ) -> Result<TopicAttributes, ApiError> {
        self.0.push(ctx, &input);
        Ok(TopicAttributes {
            attributes: BTreeMap::from([
                ("TopicArn".to_owned(), input.topic_arn),
                (
                    "Policy".to_owned(),
                    r#"{"Version":"2012-10-17","Statement":[]}"#.to_owned(),
                ),
            ]),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Scheduler (restJson1)

pub struct Scheduler(Arc<Seen>);

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateScheduleInput {
    pub name: String,
    pub group_name: Option<String>,
    pub schedule_expression: String,
    pub start_date: Option<Timestamp>,
    pub state: Option<String>,
    pub target: Target,
    pub flexible_time_window: FlexibleTimeWindow,
    pub client_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Target {
    pub arn: String,
    pub role_arn: String,
    pub input: Option<String>,
    pub retry_policy: Option<RetryPolicy>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RetryPolicy {
    pub maximum_event_age_in_seconds: Option<u32>,
    pub maximum_retry_attempts: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlexibleTimeWindow {
    pub mode: String,
    pub maximum_window_in_minutes: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleArn {
    schedule_arn: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameInput {
    pub name: String,
    pub group_name: Option<String>,
    pub client_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetScheduleOutput {
    arn: String,
    name: String,
    group_name: String,
    schedule_expression: String,
    creation_date: Timestamp,
    target: Target,
    flexible_time_window: FlexibleTimeWindow,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSchedulesInput {
    pub group_name: Option<String>,
    pub name_prefix: Option<String>,
    pub state: Option<String>,
    pub max_results: Option<u32>,
    pub next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListSchedulesOutput {
    schedules: Vec<ScheduleSummary>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ScheduleSummary {
    arn: String,
    name: String,
    state: String,
}

#[derive(Serialize)]
pub struct Empty {}

static SCHEDULER_ROUTES: [Route; 4] = [
    Route::new("CreateSchedule", "POST", "/schedules/{Name}"),
    Route::new("GetSchedule", "GET", "/schedules/{Name}").query(&[("groupName", "GroupName")]),
    Route::new("DeleteSchedule", "DELETE", "/schedules/{Name}")
        .query(&[("groupName", "GroupName"), ("clientToken", "ClientToken")]),
    Route::new("ListSchedules", "GET", "/schedules").query(&[
        ("ScheduleGroup", "GroupName"),
        ("NamePrefix", "NamePrefix"),
        ("State", "State"),
        ("NextToken", "NextToken"),
        ("MaxResults", "MaxResults"),
    ]),
];

static SCHEDULER_PROTOCOLS: [Protocol; 1] = [Protocol::RestJson1 {
    routes: &SCHEDULER_ROUTES,
}];

impl Service for Scheduler {
    fn name(&self) -> &'static str {
        "scheduler"
    }
    fn signing_name(&self) -> &'static str {
        "scheduler"
    }
    fn protocols(&self) -> &'static [Protocol] {
        &SCHEDULER_PROTOCOLS
    }
    fn operations(&self) -> Vec<Operation<Self>> {
        vec![
            op!("CreateSchedule", Self::create_schedule),
            op!("GetSchedule", Self::get_schedule),
            op!("DeleteSchedule", Self::delete_schedule),
            op!("ListSchedules", Self::list_schedules),
        ]
    }
}

impl Scheduler {
    async fn create_schedule(
        &self,
        ctx: &Context,
        input: CreateScheduleInput,
    ) -> Result<ScheduleArn, ApiError> {
        self.0.push(ctx, &input);
        Ok(ScheduleArn {
            schedule_arn: format!(
                "arn:aws:scheduler:us-east-1:000000000000:schedule/default/{}",
                input.name
            ),
        })
    }

    async fn get_schedule(
        &self,
        ctx: &Context,
        input: NameInput,
    ) -> Result<GetScheduleOutput, ApiError> {
        self.0.push(ctx, &input);
        if input.name == "missing" {
            return Err(ApiError::with_status(
                "ResourceNotFoundException",
                "Schedule missing does not exist.",
                404,
            ));
        }
        Ok(GetScheduleOutput {
            arn: format!(
                "arn:aws:scheduler:us-east-1:000000000000:schedule/default/{}",
                input.name
            ),
            name: input.name,
            group_name: input.group_name.unwrap_or_else(|| "default".into()),
            schedule_expression: "rate(5 minutes)".into(),
            creation_date: Timestamp::parse("2024-05-01T12:00:00.5Z").expect("a time"),
            target: Target {
                arn: "arn:aws:sqs:us-east-1:000000000000:q".into(),
                role_arn: "arn:aws:iam::000000000000:role/r".into(),
                input: None,
                retry_policy: Some(RetryPolicy {
                    maximum_event_age_in_seconds: None,
                    maximum_retry_attempts: Some(2),
                }),
            },
            flexible_time_window: FlexibleTimeWindow {
                mode: "OFF".into(),
                maximum_window_in_minutes: None,
            },
        })
    }

    async fn delete_schedule(&self, ctx: &Context, input: NameInput) -> Result<Empty, ApiError> {
        self.0.push(ctx, &input);
        Ok(Empty {})
    }

    async fn list_schedules(
        &self,
        ctx: &Context,
        input: ListSchedulesInput,
    ) -> Result<ListSchedulesOutput, ApiError> {
        self.0.push(ctx, &input);
        Ok(ListSchedulesOutput {
            schedules: vec![ScheduleSummary {
                arn: "arn:s".into(),
                name: "a".into(),
                state: "ENABLED".into(),
            }],
        })
    }
}

// ---------------------------------------------------------------------------------------
// Cloud Map (rpc-v2-cbor and awsJson1_1)

pub struct CloudMap(Arc<Seen>);

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateHttpNamespaceInput {
    pub name: String,
    pub creator_request_id: Option<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct OperationId {
    operation_id: String,
}

static CLOUD_MAP_PROTOCOLS: [Protocol; 2] = [
    Protocol::RpcV2Cbor {
        service: "Route53AutoNaming_v20170314",
    },
    Protocol::AwsJson1_1 {
        target_prefix: "Route53AutoNaming_v20170314",
    },
];

impl Service for CloudMap {
    fn name(&self) -> &'static str {
        "servicediscovery"
    }
    fn signing_name(&self) -> &'static str {
        "servicediscovery"
    }
    fn protocols(&self) -> &'static [Protocol] {
        &CLOUD_MAP_PROTOCOLS
    }
    fn operations(&self) -> Vec<Operation<Self>> {
        vec![op!("CreateHttpNamespace", Self::create_http_namespace)]
    }
}

impl CloudMap {
    async fn create_http_namespace(
        &self,
        ctx: &Context,
        input: CreateHttpNamespaceInput,
    ) -> Result<OperationId, ApiError> {
        self.0.push(ctx, &input);
        Ok(OperationId {
            operation_id: format!("op-{}", input.name),
        })
    }
}

// ---------------------------------------------------------------------------------------
// Secrets Manager (awsJson1_1): a blob in, a list out

pub struct SecretsManager(Arc<Seen>);

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutSecretValueInput {
    pub secret_id: String,
    pub client_request_token: Option<String>,
    pub secret_binary: Option<Blob>,
    pub secret_string: Option<String>,
    #[serde(default)]
    pub version_stages: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutSecretValueOutput {
    #[serde(rename = "ARN")]
    arn: String,
    name: String,
    version_id: String,
    version_stages: Vec<String>,
}

static SECRETS_PROTOCOLS: [Protocol; 1] = [Protocol::AwsJson1_1 {
    target_prefix: "secretsmanager",
}];

impl Service for SecretsManager {
    fn name(&self) -> &'static str {
        "secretsmanager"
    }
    fn signing_name(&self) -> &'static str {
        "secretsmanager"
    }
    fn protocols(&self) -> &'static [Protocol] {
        &SECRETS_PROTOCOLS
    }
    fn operations(&self) -> Vec<Operation<Self>> {
        vec![op!("PutSecretValue", Self::put_secret_value)]
    }
}

impl SecretsManager {
    async fn put_secret_value(
        &self,
        ctx: &Context,
        input: PutSecretValueInput,
    ) -> Result<PutSecretValueOutput, ApiError> {
        self.0.push(ctx, &input);
        Ok(PutSecretValueOutput {
            arn: format!(
                "arn:aws:secretsmanager:us-east-1:000000000000:secret:{}-AbCdEf",
                input.secret_id
            ),
            name: input.secret_id,
            version_id: input.client_request_token.unwrap_or_default(),
            version_stages: input.version_stages,
        })
    }
}
