//! A valid two-container definition for rule tests to break one field at a time.

use std::collections::BTreeMap;

use super::super::container::{
    ContainerDefinition, ContainerDependency, DependencyCondition, KeyValuePair, LogConfiguration,
    MountPoint, PortMapping,
};
use super::super::model::{TaskDefinition, Volume};
use super::{ValidationOptions, check};

pub fn good() -> TaskDefinition {
    TaskDefinition {
        family: "web-app".into(),
        cpu: 1024,
        memory: 2048,
        network_mode: Some("awsvpc".into()),
        requires_compatibilities: vec!["FARGATE".into()],
        volumes: vec![Volume {
            name: "shared".into(),
            host: None,
            ..Default::default()
        }],
        container_definitions: vec![
            ContainerDefinition {
                name: "web".into(),
                image: "web.wasm".into(),
                cpu: Some(512),
                memory: Some(1024),
                environment: vec![KeyValuePair {
                    name: "PORT".into(),
                    value: "8080".into(),
                }],
                port_mappings: vec![PortMapping {
                    container_port: 8080,
                    host_port: Some(8080),
                    protocol: Some("tcp".into()),
                    ..Default::default()
                }],
                mount_points: vec![MountPoint {
                    source_volume: "shared".into(),
                    container_path: "/data".into(),
                    read_only: Some(true),
                }],
                depends_on: vec![ContainerDependency {
                    container_name: "init".into(),
                    condition: DependencyCondition::Success,
                }],
                stop_timeout: Some(30),
                log_configuration: Some(LogConfiguration {
                    log_driver: "awslogs".into(),
                    options: BTreeMap::from([("awslogs-group".into(), "/ecs/web".into())]),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ContainerDefinition {
                name: "init".into(),
                image: "init.wasm".into(),
                essential: Some(false),
                memory_reservation: Some(256),
                mount_points: vec![MountPoint {
                    source_volume: "shared".into(),
                    container_path: "/data".into(),
                    read_only: None,
                }],
                ..Default::default()
            },
        ],
        ..Default::default()
    }
}

/// `"path: rule"` for every broken rule, with default options.
pub fn errors(def: &TaskDefinition) -> Vec<String> {
    check(def, &ValidationOptions::default())
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Asserts that exactly the given `"path: rule"` errors are reported.
#[track_caller]
pub fn assert_errors(def: &TaskDefinition, expected: &[&str]) {
    assert_eq!(errors(def), expected);
}

#[test]
fn the_good_definition_is_valid() {
    assert_errors(&good(), &[]);
}
