//! Warnings for JSON members the model does not read, so nothing is dropped silently:
//! typos are reported as unknown, and real ECS fields wasmgate cannot honour yet are
//! reported as unsupported. Describe-only members (ARN, revision, ...) stay quiet so
//! `describe-task-definition` output can be fed back as is.

use serde_json::Value;

enum Child {
    Leaf,
    Object(&'static Shape),
    Array(&'static Shape),
}

/// The members one kind of JSON object may have.
struct Shape {
    known: &'static [(&'static str, Child)],
    read_only: &'static [&'static str],
    unsupported: &'static [&'static str],
}

use Child::{Array, Leaf, Object};

static TASK: Shape = Shape {
    known: &[
        ("family", Leaf),
        ("cpu", Leaf),
        ("memory", Leaf),
        ("networkMode", Leaf),
        ("requiresCompatibilities", Leaf),
        ("volumes", Array(&VOLUME)),
        ("ephemeralStorage", Object(&EPHEMERAL_STORAGE)),
        ("taskRoleArn", Leaf),
        ("executionRoleArn", Leaf),
        ("containerDefinitions", Array(&CONTAINER)),
        ("tags", Array(&TAG)),
    ],
    read_only: &[
        "taskDefinitionArn",
        "revision",
        "status",
        "registeredAt",
        "registeredBy",
        "deregisteredAt",
        "compatibilities",
        "requiresAttributes",
    ],
    unsupported: &[
        "placementConstraints",
        "runtimePlatform",
        "proxyConfiguration",
        "inferenceAccelerators",
        "ipcMode",
        "pidMode",
        "enableFaultInjection",
    ],
};

static CONTAINER: Shape = Shape {
    known: &[
        ("name", Leaf),
        ("image", Leaf),
        ("essential", Leaf),
        ("cpu", Leaf),
        ("memory", Leaf),
        ("memoryReservation", Leaf),
        ("command", Leaf),
        ("entryPoint", Leaf),
        ("environment", Array(&KEY_VALUE)),
        ("portMappings", Array(&PORT_MAPPING)),
        ("mountPoints", Array(&MOUNT_POINT)),
        ("dependsOn", Array(&DEPENDENCY)),
        ("stopTimeout", Leaf),
        ("logConfiguration", Object(&LOG_CONFIGURATION)),
        ("readonlyRootFilesystem", Leaf),
        ("workingDirectory", Leaf),
        ("dockerLabels", Leaf),
        ("privileged", Leaf),
        ("repositoryCredentials", Leaf),
        ("healthCheck", Leaf),
    ],
    read_only: &[],
    unsupported: &[
        "links",
        "hostname",
        "user",
        "dnsServers",
        "dnsSearchDomains",
        "extraHosts",
        "interactive",
        "pseudoTerminal",
        "startTimeout",
        "systemControls",
        "secrets",
        "firelensConfiguration",
        "resourceRequirements",
        "restartPolicy",
        "versionConsistency",
        "credentialSpecs",
        "ulimits",
        "linuxParameters",
        "disableNetworking",
        "dockerSecurityOptions",
        "volumesFrom",
        "environmentFiles",
    ],
};

static VOLUME: Shape = Shape {
    known: &[("name", Leaf), ("host", Object(&HOST_VOLUME))],
    read_only: &[],
    unsupported: &[
        "dockerVolumeConfiguration",
        "efsVolumeConfiguration",
        "fsxWindowsFileServerVolumeConfiguration",
        "configuredAtLaunch",
    ],
};

static HOST_VOLUME: Shape = leaves(&[("sourcePath", Leaf)]);
static EPHEMERAL_STORAGE: Shape = leaves(&[("sizeInGiB", Leaf)]);
static TAG: Shape = leaves(&[("key", Leaf), ("value", Leaf)]);
static KEY_VALUE: Shape = leaves(&[("name", Leaf), ("value", Leaf)]);
static MOUNT_POINT: Shape = leaves(&[
    ("sourceVolume", Leaf),
    ("containerPath", Leaf),
    ("readOnly", Leaf),
]);
static DEPENDENCY: Shape = leaves(&[("containerName", Leaf), ("condition", Leaf)]);

static PORT_MAPPING: Shape = Shape {
    known: &[
        ("containerPort", Leaf),
        ("hostPort", Leaf),
        ("protocol", Leaf),
        ("name", Leaf),
        ("appProtocol", Leaf),
    ],
    read_only: &[],
    unsupported: &["containerPortRange", "hostPortRange"],
};

static LOG_CONFIGURATION: Shape = Shape {
    known: &[("logDriver", Leaf), ("options", Leaf)],
    read_only: &[],
    unsupported: &["secretOptions"],
};

const fn leaves(known: &'static [(&'static str, Child)]) -> Shape {
    Shape {
        known,
        read_only: &[],
        unsupported: &[],
    }
}

/// Warnings for the members of a task definition object that are not read.
pub fn task_definition_warnings(task: &Value) -> Vec<String> {
    let mut warnings = Vec::new();
    walk(task, &TASK, "", &mut warnings);
    warnings
}

/// Warnings for the `describe-task-definition` wrapper object; `taskDefinition` itself
/// is walked by [`task_definition_warnings`].
pub fn wrapper_warnings(wrapper: &Value) -> Vec<String> {
    static WRAPPER: Shape = Shape {
        known: &[("taskDefinition", Leaf), ("tags", Array(&TAG))],
        read_only: &["ResponseMetadata"],
        unsupported: &[],
    };
    let mut warnings = Vec::new();
    walk(wrapper, &WRAPPER, "", &mut warnings);
    warnings
}

fn walk(value: &Value, shape: &Shape, path: &str, warnings: &mut Vec<String>) {
    let Some(members) = value.as_object() else {
        return; // a wrong type is reported by deserialisation
    };
    for (key, member) in members {
        let member_path = if path.is_empty() {
            key.clone()
        } else {
            format!("{path}.{key}")
        };
        if let Some((_, child)) = shape.known.iter().find(|(name, _)| name == key) {
            walk_child(member, child, &member_path, warnings);
        } else if shape.unsupported.contains(&key.as_str()) {
            if !is_empty(member) {
                warnings.push(format!(
                    "{member_path} is not supported by wasmgate and is ignored"
                ));
            }
        } else if !shape.read_only.contains(&key.as_str()) {
            warnings.push(format!("{member_path}: unknown field, ignored"));
        }
    }
}

fn walk_child(value: &Value, child: &Child, path: &str, warnings: &mut Vec<String>) {
    match (child, value) {
        (Leaf, _) => {}
        (Object(shape), _) => walk(value, shape, path, warnings),
        (Array(shape), Value::Array(items)) => {
            for (index, item) in items.iter().enumerate() {
                walk(item, shape, &format!("{path}[{index}]"), warnings);
            }
        }
        (Array(_), _) => {}
    }
}

/// Describe output lists unset fields as `[]`, `{}` or `false`; those ask for nothing.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(members) => members.is_empty(),
        Value::Bool(true) | Value::Number(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Member order depends on serde_json's `preserve_order` feature; compare sorted.
    fn sorted(mut warnings: Vec<String>) -> Vec<String> {
        warnings.sort();
        warnings
    }

    #[test]
    fn unknown_fields_are_named_by_path() {
        let task = json!({
            "family": "web",
            "fooBar": 1,
            "containerDefinitions": [
                {"name": "a", "image": "a.wasm"},
                {"name": "b", "image": "b.wasm", "fooBar": true,
                 "portMappings": [{"containerPort": 80, "hostPrt": 80}],
                 "logConfiguration": {"logDriver": "awslogs", "optons": {}}}
            ],
            "volumes": [{"name": "v", "host": {"sourcePth": "/x"}}]
        });
        assert_eq!(
            sorted(task_definition_warnings(&task)),
            vec![
                "containerDefinitions[1].fooBar: unknown field, ignored",
                "containerDefinitions[1].logConfiguration.optons: unknown field, ignored",
                "containerDefinitions[1].portMappings[0].hostPrt: unknown field, ignored",
                "fooBar: unknown field, ignored",
                "volumes[0].host.sourcePth: unknown field, ignored",
            ]
        );
    }

    #[test]
    fn unsupported_ecs_fields_get_their_own_message() {
        let task = json!({
            "pidMode": "task",
            "containerDefinitions": [{
                "name": "a",
                "ulimits": [{"name": "nofile", "softLimit": 1, "hardLimit": 2}],
                "secrets": [{"name": "X", "valueFrom": "arn"}],
                "healthCheck": {"command": ["CMD", "true"]}
            }]
        });
        assert_eq!(
            sorted(task_definition_warnings(&task)),
            vec![
                "containerDefinitions[0].secrets is not supported by wasmgate and is ignored",
                "containerDefinitions[0].ulimits is not supported by wasmgate and is ignored",
                "pidMode is not supported by wasmgate and is ignored",
            ]
        );
    }

    #[test]
    fn describe_only_and_empty_members_are_quiet() {
        let task = json!({
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/web:3",
            "revision": 3,
            "status": "ACTIVE",
            "registeredAt": "2024-01-01T00:00:00Z",
            "registeredBy": "arn:aws:iam::1:root",
            "compatibilities": ["EC2", "FARGATE"],
            "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.docker-remote-api.1.18"}],
            "enableFaultInjection": false,
            "containerDefinitions": [{"name": "a", "volumesFrom": [], "systemControls": []}]
        });
        assert!(task_definition_warnings(&task).is_empty());
    }

    #[test]
    fn wrapper_members() {
        let wrapper = json!({"taskDefinition": {}, "tags": [], "ResponseMetadata": {}, "extra": 1});
        assert_eq!(
            wrapper_warnings(&wrapper),
            vec!["extra: unknown field, ignored"]
        );
    }
}
