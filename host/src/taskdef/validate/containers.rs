//! Per-container rules: names, images, essential, mounts, logs, environment.

use std::collections::HashSet;

use super::super::container::{ContainerDefinition, LogConfiguration};
use super::super::error::FieldError;
use super::super::model::TaskDefinition;
use super::{NAME_RULE, container_path, is_valid_name};

const MAX_CONTAINERS: usize = 10;
const STOP_TIMEOUT_SECONDS: std::ops::RangeInclusive<u32> = 2..=120;
const LOG_DRIVERS: &[&str] = &["awslogs", "wasmgate"];

pub(super) fn check(def: &TaskDefinition, errors: &mut Vec<FieldError>) {
    let containers = &def.container_definitions;
    if containers.is_empty() {
        errors.push(FieldError::new(
            "containerDefinitions",
            "at least one container definition is required",
        ));
    } else if containers.len() > MAX_CONTAINERS {
        errors.push(FieldError::new(
            "containerDefinitions",
            format!(
                "at most {MAX_CONTAINERS} containers are allowed in a task, found {}",
                containers.len()
            ),
        ));
    }
    if !containers.is_empty() && !containers.iter().any(ContainerDefinition::is_essential) {
        errors.push(FieldError::new(
            "containerDefinitions",
            "at least one container must be essential",
        ));
    }

    let mut names = HashSet::new();
    for (i, container) in containers.iter().enumerate() {
        let path = container_path(i);
        if container.name.is_empty() {
            errors.push(FieldError::new(format!("{path}.name"), "is required"));
        } else if !is_valid_name(&container.name) {
            errors.push(FieldError::new(format!("{path}.name"), NAME_RULE));
        } else if !names.insert(container.name.as_str()) {
            errors.push(FieldError::new(
                format!("{path}.name"),
                format!("duplicate container name {:?}", container.name),
            ));
        }
        if container.image.trim().is_empty() {
            errors.push(FieldError::new(format!("{path}.image"), "is required"));
        }
        if container.privileged == Some(true) {
            errors.push(FieldError::new(
                format!("{path}.privileged"),
                "privileged containers are not supported (Fargate tasks cannot use them)",
            ));
        }
        if let Some(timeout) = container.stop_timeout
            && !STOP_TIMEOUT_SECONDS.contains(&timeout)
        {
            errors.push(FieldError::new(
                format!("{path}.stopTimeout"),
                format!(
                    "{timeout} is out of range; must be between {} and {} seconds",
                    STOP_TIMEOUT_SECONDS.start(),
                    STOP_TIMEOUT_SECONDS.end()
                ),
            ));
        }
        if let Some(log) = &container.log_configuration {
            check_log(log, &format!("{path}.logConfiguration"), errors);
        }
        check_environment(container, &path, errors);
        check_mounts(def, container, &path, errors);
    }
}

fn check_log(log: &LogConfiguration, path: &str, errors: &mut Vec<FieldError>) {
    if !LOG_DRIVERS.contains(&log.log_driver.as_str()) {
        errors.push(FieldError::new(
            format!("{path}.logDriver"),
            format!("{:?} is not supported; use awslogs", log.log_driver),
        ));
    } else if log.log_driver == "awslogs" && !log.options.contains_key("awslogs-group") {
        errors.push(FieldError::new(
            format!("{path}.options.awslogs-group"),
            "is required for the awslogs log driver",
        ));
    }
}

fn check_environment(container: &ContainerDefinition, path: &str, errors: &mut Vec<FieldError>) {
    let mut seen = HashSet::new();
    for (j, variable) in container.environment.iter().enumerate() {
        let path = format!("{path}.environment[{j}].name");
        if variable.name.is_empty() {
            errors.push(FieldError::new(path, "is required"));
        } else if !seen.insert(variable.name.as_str()) {
            errors.push(FieldError::new(
                path,
                format!("duplicate environment variable {:?}", variable.name),
            ));
        }
    }
    // A secret names a variable of its own: one also in `environment` would be ambiguous.
    for (j, secret) in container.secrets.iter().enumerate() {
        let path = format!("{path}.secrets[{j}]");
        if secret.name.is_empty() {
            errors.push(FieldError::new(format!("{path}.name"), "is required"));
        } else if !seen.insert(secret.name.as_str()) {
            errors.push(FieldError::new(
                format!("{path}.name"),
                format!("duplicate environment variable {:?}", secret.name),
            ));
        }
        if secret.value_from.is_empty() {
            errors.push(FieldError::new(format!("{path}.valueFrom"), "is required"));
        }
    }
}

fn check_mounts(
    def: &TaskDefinition,
    container: &ContainerDefinition,
    path: &str,
    errors: &mut Vec<FieldError>,
) {
    for (j, mount) in container.mount_points.iter().enumerate() {
        let path = format!("{path}.mountPoints[{j}]");
        if mount.source_volume.is_empty() {
            errors.push(FieldError::new(
                format!("{path}.sourceVolume"),
                "is required",
            ));
        } else if def.volume(&mount.source_volume).is_none() {
            errors.push(FieldError::new(
                format!("{path}.sourceVolume"),
                format!(
                    "volume {:?} is not declared in volumes",
                    mount.source_volume
                ),
            ));
        }
        if mount.container_path.is_empty() {
            errors.push(FieldError::new(
                format!("{path}.containerPath"),
                "is required",
            ));
        } else if !mount.container_path.starts_with('/') {
            errors.push(FieldError::new(
                format!("{path}.containerPath"),
                format!("{:?} must be an absolute path", mount.container_path),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::container::{ContainerDefinition, KeyValuePair};
    use super::super::fixture::{assert_errors, good};

    fn container(name: &str) -> ContainerDefinition {
        ContainerDefinition {
            name: name.into(),
            image: format!("{name}.wasm"),
            ..Default::default()
        }
    }

    #[test]
    fn one_to_ten_containers() {
        let mut def = good();
        def.container_definitions.clear();
        assert_errors(
            &def,
            &["containerDefinitions: at least one container definition is required"],
        );
        def = good();
        for i in 0..9 {
            def.container_definitions
                .push(container(&format!("extra{i}")));
        }
        assert_errors(
            &def,
            &["containerDefinitions: at most 10 containers are allowed in a task, found 11"],
        );
    }

    #[test]
    fn names_are_valid_and_unique() {
        let mut def = good();
        def.container_definitions.push(container("web"));
        def.container_definitions.push(container("bad name"));
        def.container_definitions.push(ContainerDefinition {
            image: "x.wasm".into(),
            ..Default::default()
        });
        assert_errors(
            &def,
            &[
                r#"containerDefinitions[2].name: duplicate container name "web""#,
                "containerDefinitions[3].name: must be 1 to 255 letters, numbers, hyphens and underscores",
                "containerDefinitions[4].name: is required",
            ],
        );
    }

    #[test]
    fn image_is_required() {
        let mut def = good();
        def.container_definitions[1].image = " ".into();
        assert_errors(&def, &["containerDefinitions[1].image: is required"]);
    }

    #[test]
    fn one_container_must_be_essential() {
        let mut def = good();
        def.container_definitions[0].essential = Some(false);
        assert_errors(
            &def,
            &["containerDefinitions: at least one container must be essential"],
        );
    }

    #[test]
    fn privileged_is_refused() {
        let mut def = good();
        def.container_definitions[0].privileged = Some(false);
        assert_errors(&def, &[]);
        def.container_definitions[0].privileged = Some(true);
        assert_errors(
            &def,
            &[
                "containerDefinitions[0].privileged: privileged containers are not supported (Fargate tasks cannot use them)",
            ],
        );
    }

    #[test]
    fn stop_timeout_range() {
        let mut def = good();
        def.container_definitions[0].stop_timeout = Some(120);
        assert_errors(&def, &[]);
        def.container_definitions[0].stop_timeout = Some(1);
        assert_errors(
            &def,
            &[
                "containerDefinitions[0].stopTimeout: 1 is out of range; must be between 2 and 120 seconds",
            ],
        );
    }

    #[test]
    fn log_drivers() {
        let mut def = good();
        let log = def.container_definitions[0].log_configuration.as_mut();
        let log = log.expect("fixture has a log configuration");
        log.options.clear();
        assert_errors(
            &def,
            &[
                "containerDefinitions[0].logConfiguration.options.awslogs-group: is required for the awslogs log driver",
            ],
        );
        let mut def = good();
        if let Some(log) = def.container_definitions[0].log_configuration.as_mut() {
            log.log_driver = "wasmgate".into();
            log.options.clear();
        }
        assert_errors(&def, &[]);
        if let Some(log) = def.container_definitions[0].log_configuration.as_mut() {
            log.log_driver = "splunk".into();
        }
        assert_errors(
            &def,
            &[
                r#"containerDefinitions[0].logConfiguration.logDriver: "splunk" is not supported; use awslogs"#,
            ],
        );
    }

    #[test]
    fn environment_names() {
        let mut def = good();
        let environment = &mut def.container_definitions[0].environment;
        environment.push(KeyValuePair {
            name: "PORT".into(),
            value: "9".into(),
        });
        environment.push(KeyValuePair {
            name: String::new(),
            value: "x".into(),
        });
        assert_errors(
            &def,
            &[
                r#"containerDefinitions[0].environment[1].name: duplicate environment variable "PORT""#,
                "containerDefinitions[0].environment[2].name: is required",
            ],
        );
    }

    #[test]
    fn mounts_name_declared_volumes_and_absolute_paths() {
        let mut def = good();
        def.container_definitions[1].mount_points[0].source_volume = "nope".into();
        def.container_definitions[0].mount_points[0].container_path = "data".into();
        assert_errors(
            &def,
            &[
                r#"containerDefinitions[0].mountPoints[0].containerPath: "data" must be an absolute path"#,
                r#"containerDefinitions[1].mountPoints[0].sourceVolume: volume "nope" is not declared in volumes"#,
            ],
        );
        let mut def = good();
        def.container_definitions[0].mount_points[0].container_path = String::new();
        def.container_definitions[0].mount_points[0].source_volume = String::new();
        assert_errors(
            &def,
            &[
                "containerDefinitions[0].mountPoints[0].sourceVolume: is required",
                "containerDefinitions[0].mountPoints[0].containerPath: is required",
            ],
        );
    }
}
