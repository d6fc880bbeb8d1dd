//! End-to-end tests of `parse`: JSON in, a valid definition or a named error out.

use super::*;

const GOOD: &str = r#"{
  "family": "web-app",
  "cpu": "1 vCPU",
  "memory": "2 GB",
  "networkMode": "awsvpc",
  "requiresCompatibilities": ["FARGATE"],
  "volumes": [{"name": "shared", "host": {}}],
  "containerDefinitions": [
    {
      "name": "web",
      "image": "oci://example.com/web:1",
      "cpu": 512,
      "memory": 1024,
      "environment": [{"name": "PORT", "value": "8080"}],
      "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
      "mountPoints": [{"sourceVolume": "shared", "containerPath": "/data"}],
      "dependsOn": [{"containerName": "init", "condition": "SUCCESS"}],
      "logConfiguration": {
        "logDriver": "awslogs",
        "options": {"awslogs-group": "/ecs/web", "awslogs-stream-prefix": "web"}
      },
      "dockerLabels": {"team": "edge"}
    },
    {"name": "init", "image": "init.wasm", "essential": false, "memoryReservation": 256}
  ],
  "tags": [{"key": "env", "value": "test"}]
}"#;

fn parse_default(json: &str) -> Result<Parsed, TaskDefError> {
    parse(json, &ValidationOptions::default())
}

fn json_message(json: &str) -> String {
    match parse_default(json) {
        Err(TaskDefError::Json(message)) => message,
        other => panic!("expected a JSON error, got {other:?}"),
    }
}

#[test]
fn parses_a_register_form_definition() {
    let parsed = parse_default(GOOD).expect("valid");
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    let def = parsed.definition;
    assert_eq!((def.cpu, def.memory), (1024, 2048));
    assert_eq!(def.ephemeral_storage_gib(), 20);
    let web = def.container("web").expect("web");
    assert!(web.is_essential());
    assert_eq!(web.depends_on[0].condition, DependencyCondition::Success);
    assert_eq!(web.port_mappings[0].protocol(), "tcp");
    assert!(
        !def.container("init")
            .is_some_and(ContainerDefinition::is_essential)
    );
    assert_eq!(
        def.tags,
        [Tag {
            key: "env".into(),
            value: "test".into()
        }]
    );
}

#[test]
fn prints_back_like_ecs_and_round_trips() {
    let def = parse_default(GOOD).expect("valid").definition;
    let json = serde_json::to_value(&def).expect("serialisable");
    assert_eq!(json["cpu"], "1024");
    assert_eq!(json["memory"], "2048");
    assert_eq!(json["containerDefinitions"][0]["cpu"], 512);
    assert_eq!(
        json["volumes"][0],
        serde_json::json!({"name": "shared", "host": {}})
    );
    let init = &json["containerDefinitions"][1];
    assert!(init.get("command").is_none() && init.get("memory").is_none());
    let again = parse_default(&json.to_string()).expect("valid");
    assert_eq!(again.definition, def);
    assert!(again.warnings.is_empty());
}

#[test]
fn sizes_as_numbers_or_strings() {
    let sized = |cpu: &str, memory: &str| {
        let json = GOOD
            .replace(r#""cpu": "1 vCPU""#, &format!(r#""cpu": {cpu}"#))
            .replace(r#""memory": "2 GB""#, &format!(r#""memory": {memory}"#));
        parse_default(&json).map(|p| (p.definition.cpu, p.definition.memory))
    };
    assert_eq!(sized("1024", "2048"), Ok((1024, 2048)));
    assert_eq!(sized(r#""1024""#, r#""2048""#), Ok((1024, 2048)));
    assert_eq!(sized(r#"".5 vCPU""#, r#""2GB""#), Ok((512, 2048)));
    assert_eq!(sized(r#""2 vCPU""#, r#""4096 MiB""#), Ok((2048, 4096)));
    assert_eq!(sized(r#""1 vcpu""#, r#""3.0 GB""#), Ok((1024, 3072)));
}

#[test]
fn small_sizes_from_strings() {
    let json = r#"{"family": "f", "cpu": ".25 vcpu", "memory": "0.5GB",
        "containerDefinitions": [{"name": "a", "image": "a.wasm"}]}"#;
    let def = parse_default(json).expect("valid").definition;
    assert_eq!((def.cpu, def.memory), (256, 512));
}

#[test]
fn bad_size_strings_name_the_field() {
    let message = json_message(&GOOD.replace(r#""1 vCPU""#, r#""lots""#));
    assert!(
        message.starts_with(r#"cpu: invalid cpu "lots": expected cpu units"#),
        "{message}"
    );
    assert!(message.ends_with("at line 3 column 15"), "{message}");
    let message = json_message(&GOOD.replace(r#""2 GB""#, r#""2 TB""#));
    assert!(
        message.starts_with(r#"memory: invalid memory "2 TB""#),
        "{message}"
    );
    let message = json_message(&GOOD.replace(r#""2 GB""#, "-1"));
    assert!(
        message.starts_with("memory: invalid value: integer `-1`"),
        "{message}"
    );
    let message = json_message(&GOOD.replace(r#""2 GB""#, "true"));
    assert!(
        message.starts_with("memory: invalid type: boolean `true`"),
        "{message}"
    );
}

#[test]
fn wrong_types_name_the_field_and_position() {
    let json = GOOD.replace(r#""cpu": 512"#, r#""cpu": "abc""#);
    assert_eq!(
        json_message(&json),
        r#"containerDefinitions[0].cpu: invalid type: string "abc", expected u32 at line 12 column 18"#
    );
    let json = GOOD.replace(r#""essential": false"#, r#""essential": "no""#);
    let message = json_message(&json);
    assert!(
        message.starts_with(r#"containerDefinitions[1].essential: invalid type: string "no""#),
        "{message}"
    );
    let json = GOOD.replace(r#""containerPort": 8080"#, r#""containerPort": [8080]"#);
    let message = json_message(&json);
    assert!(
        message.starts_with(
            "containerDefinitions[0].portMappings[0].containerPort: invalid type: sequence"
        ),
        "{message}"
    );
}

#[test]
fn dependency_conditions_are_checked_by_the_parser() {
    let json = GOOD.replace(r#""SUCCESS""#, r#""READY""#);
    let message = json_message(&json);
    assert!(
        message.starts_with(
            "containerDefinitions[0].dependsOn[0].condition: unknown variant `READY`, expected one of `START`, `COMPLETE`, `SUCCESS`, `HEALTHY`"
        ),
        "{message}"
    );
    let json = GOOD.replace(r#", "condition": "SUCCESS""#, "");
    let message = json_message(&json);
    assert!(
        message.starts_with("containerDefinitions[0].dependsOn[0]: missing field `condition`"),
        "{message}"
    );
}

#[test]
fn malformed_json_gives_the_position() {
    let message = json_message(&GOOD.replace(r#""tcp"}"#, r#""tcp",}"#));
    assert!(message.contains("trailing comma at line 15"), "{message}");
    let message = json_message("");
    assert!(message.starts_with("EOF while parsing"), "{message}");
    for not_an_object in ["[]", "3", "null"] {
        let message = json_message(not_an_object);
        assert_eq!(message, "a task definition must be a JSON object");
    }
}

#[test]
fn accepts_describe_output() {
    let json = format!(
        r#"{{
  "taskDefinition": {},
  "tags": [{{"key": "owner", "value": "me"}}]
}}"#,
        GOOD.replace(
            r#"  "tags": [{"key": "env", "value": "test"}]"#,
            r#"  "revision": 3,
  "taskDefinitionArn": "arn:aws:ecs:us-east-1:123456789012:task-definition/web-app:3",
  "status": "ACTIVE",
  "registeredAt": "2025-01-01T00:00:00.000Z",
  "registeredBy": "arn:aws:iam::123456789012:root",
  "compatibilities": ["EC2", "FARGATE"],
  "requiresAttributes": [{"name": "ecs.capability.task-eni"}],
  "deregisteredAt": "2025-01-02T00:00:00.000Z",
  "deleteRequestedAt": "2025-01-03T00:00:00.000Z",
  "placementConstraints": [],
  "enableFaultInjection": false"#
        )
    )
    .replace(
        r#""tags": [{"key": "owner", "value": "me"}]"#,
        r#""tags": [{"key": "owner", "value": "me"}], "ResponseMetadata": {"RequestId": "1"}"#,
    );
    let parsed = parse_default(&json).expect("valid");
    assert!(parsed.warnings.is_empty(), "{:?}", parsed.warnings);
    assert_eq!(parsed.definition.family, "web-app");
    assert_eq!(
        parsed.definition.tags,
        [Tag {
            key: "owner".into(),
            value: "me".into()
        }]
    );
}

#[test]
fn describe_output_errors_use_task_definition_paths() {
    let json = format!(
        r#"{{"taskDefinition": {}}}"#,
        GOOD.replace(
            r#""memoryReservation": 256"#,
            r#""memoryReservation": 256, "memory": "x""#
        )
    );
    let message = json_message(&json);
    assert!(
        message.starts_with(
            r#"containerDefinitions[1].memory: invalid type: string "x", expected u64 at line "#
        ),
        "{message}"
    );
    let json = format!(
        r#"{{"taskDefinition": {}, "tags": []}}"#,
        GOOD.replace(r#""environment":"#, r#""enviroment":"#)
    );
    let err = parse_default(&json).expect_err("a typo");
    assert_eq!(
        err.field_errors(),
        [FieldError::new(
            "containerDefinitions[0].enviroment",
            r#"unknown field; did you mean "environment"?"#
        )]
    );
    // Members of the wrapper itself are checked too.
    let json = format!(r#"{{"taskDefinition": {GOOD}, "tag": []}}"#);
    let err = parse_default(&json).expect_err("a typo");
    assert_eq!(
        err.to_string(),
        r#"invalid task definition: tag: unknown field; did you mean "tags"?"#
    );
}

#[test]
fn a_misspelled_field_is_refused_with_the_closest_name() {
    let json = GOOD
        .replace(r#""environment":"#, r#""enviroment":"#)
        .replace(
            r#""family": "web-app","#,
            r#""family": "web-app", "colour": "blue","#,
        );
    let err = parse_default(&json).expect_err("typos are errors");
    let errors: Vec<String> = err.field_errors().iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "colour: unknown field",
            r#"containerDefinitions[0].enviroment: unknown field; did you mean "environment"?"#,
        ]
    );
    // Nested objects, a case slip, and broken rules reported in the same round trip.
    let json = GOOD
        .replace(r#""containerPort": 8080"#, r#""containerPrt": 8080"#)
        .replace(r#""sourceVolume""#, r#""SourceVolume""#)
        .replace(r#""logDriver""#, r#""logDrivr""#)
        .replace(r#""networkMode": "awsvpc""#, r#""networkMode": "host""#);
    let err = parse_default(&json).expect_err("typos are errors");
    let errors: Vec<String> = err.field_errors().iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            r#"containerDefinitions[0].portMappings[0].containerPrt: unknown field; did you mean "containerPort"?"#,
            r#"containerDefinitions[0].mountPoints[0].SourceVolume: unknown field; did you mean "sourceVolume"?"#,
            r#"containerDefinitions[0].logConfiguration.logDrivr: unknown field; did you mean "logDriver"?"#,
            r#"networkMode: "host" is not supported; wasmgate tasks use awsvpc"#,
            r#"containerDefinitions[0].logConfiguration.logDriver: "" is not supported; use awslogs"#,
            "containerDefinitions[0].mountPoints[0].sourceVolume: is required",
            "containerDefinitions[0].portMappings[0].containerPort: 0 is out of range; must be between 1 and 65535",
        ]
    );
}

#[test]
fn allow_unknown_fields_turns_them_into_warnings() {
    let json = GOOD.replace(r#""environment":"#, r#""enviroment":"#);
    let opts = ValidationOptions {
        allow_unknown_fields: true,
        ..ValidationOptions::default()
    };
    let parsed = parse(&json, &opts).expect("allowed");
    assert_eq!(
        parsed.warnings,
        [
            r#"containerDefinitions[0].enviroment: unknown field, ignored; did you mean "environment"?"#
        ]
    );
    let web = parsed.definition.container("web").expect("web");
    assert!(
        web.environment.is_empty(),
        "the misspelled member is not read"
    );
}

#[test]
fn unsupported_ecs_fields_are_warnings_when_set() {
    let json = GOOD
        .replace(
            r#""name": "web","#,
            r#""name": "web", "ulimits": [{"name": "nofile"}], "secrets": [], "user": "",
               "linuxParameters": {}, "interactive": false,"#,
        )
        .replace(
            r#""family": "web-app","#,
            r#""family": "web-app", "pidMode": "task", "placementConstraints": [],"#,
        )
        .replace(
            r#""protocol": "tcp""#,
            r#""protocol": "tcp", "containerPortRange": "1-9""#,
        )
        .replace(
            r#""host": {}"#,
            r#""host": {}, "efsVolumeConfiguration": {"fileSystemId": "fs"}"#,
        );
    let mut warnings = parse_default(&json).expect("valid").warnings;
    warnings.sort();
    assert_eq!(
        warnings,
        [
            "containerDefinitions[0].portMappings[0].containerPortRange: not supported by wasmgate, ignored",
            "containerDefinitions[0].ulimits: not supported by wasmgate, ignored",
            "pidMode: not supported by wasmgate, ignored",
            "volumes[0].efsVolumeConfiguration: not supported by wasmgate, ignored",
        ]
    );
}

#[test]
fn every_model_type_has_a_schema() {
    // The probe walks each type without error (it asserts in debug builds), so suggestions
    // and output-only members cover the whole model, also through the describe wrapper.
    for schema in [&*TASK_SCHEMA, &*DESCRIBED_SCHEMA] {
        assert!(schema.fields("").is_some());
    }
    assert!(
        DESCRIBED_SCHEMA
            .fields("taskDefinition.containerDefinitions[].environment[]")
            .is_some()
    );
}

#[test]
fn nulls_mean_absent() {
    let json = r#"{"family": "f", "cpu": 256, "memory": 512, "volumes": null, "tags": null,
        "networkMode": null, "containerDefinitions": [{"name": "a", "image": "a.wasm",
        "command": null, "environment": null, "cpu": null, "dockerLabels": null}]}"#;
    let def = parse_default(json).expect("valid").definition;
    assert!(def.volumes.is_empty() && def.network_mode.is_none());
}

#[test]
fn invalid_definitions_list_every_broken_rule() {
    let json = GOOD
        .replace(r#""2 GB""#, r#""3000""#)
        .replace(r#""awsvpc""#, r#""bridge""#)
        .replace(
            r#""containerPort": 8080,"#,
            r#""containerPort": 8080, "hostPort": 80,"#,
        );
    let err = parse_default(&json).expect_err("invalid");
    let errors: Vec<String> = err.field_errors().iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            r#"networkMode: "bridge" is not supported; wasmgate tasks use awsvpc"#,
            "memory: 3000 MiB is not valid for cpu 1024; valid values: 2048 to 8192 in steps of 1024",
            "containerDefinitions[0].portMappings[0].hostPort: must equal containerPort (8080) in awsvpc mode",
        ]
    );
}

#[test]
fn missing_required_fields_are_rules_not_parse_errors() {
    let err = parse_default(r#"{"containerDefinitions": [{}]}"#).expect_err("invalid");
    let errors: Vec<String> = err.field_errors().iter().map(ToString::to_string).collect();
    assert_eq!(
        errors,
        [
            "family: is required",
            "cpu: is required; valid values: 256, 512, 1024, 2048, 4096, 8192, 16384",
            "memory: is required",
            "containerDefinitions[0].name: is required",
            "containerDefinitions[0].image: is required",
        ]
    );
}

#[test]
fn bind_mounts_follow_the_option() {
    let json = GOOD.replace(r#""host": {}"#, r#""host": {"sourcePath": "/srv"}"#);
    let err = parse_default(&json).expect_err("bind mounts are off by default");
    assert_eq!(err.field_errors()[0].path, "volumes[0].host.sourcePath");
    let opts = ValidationOptions {
        allow_bind_mounts: true,
        ..ValidationOptions::default()
    };
    let def = parse(&json, &opts).expect("allowed").definition;
    assert_eq!(
        def.volumes[0]
            .host
            .as_ref()
            .and_then(|h| h.source_path.as_deref()),
        Some("/srv")
    );
}

#[test]
fn deep_nesting_is_refused_or_read_without_overflowing_the_stack() {
    // serde_json stops at 128 levels; up to there the path-tracking wrappers recurse too.
    for depth in [120, 126, 200, 10_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let json = GOOD.replace(
            r#""dockerLabels": {"team": "edge"}"#,
            &format!(r#""healthCheck": {nested}"#),
        );
        match parse_default(&json) {
            Ok(_) | Err(TaskDefError::Json(_)) => {}
            Err(other) => panic!("depth {depth}: {other}"),
        }
        let message = json_message(&format!(r#"{{"family": {nested}}}"#));
        assert!(message.starts_with("family"), "depth {depth}: {message}");
    }
}

#[test]
fn a_list_where_an_object_is_due_is_refused_with_its_path() {
    // `host` has only optional members: serde alone would read `[]` as `{}`.
    let json = GOOD.replace(r#""host": {}"#, r#""host": []"#);
    let Err(TaskDefError::Invalid(errors)) = parse_default(&json) else {
        panic!("expected field errors, got {:?}", parse_default(&json));
    };
    let shown: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert!(
        shown.contains(&"volumes[0].host: must be an object, not a list".to_owned()),
        "{shown:?}"
    );
    // The describe form is walked with its own schema (paths under `taskDefinition`).
    let described = format!(r#"{{"taskDefinition": {json}}}"#);
    assert!(matches!(
        parse_default(&described),
        Err(TaskDefError::Invalid(_))
    ));
    // Lists that are lists and maps that are maps pass.
    assert!(parse_default(GOOD).is_ok());
}
