//! Port mappings. All containers of a task share one address (awsvpc), so a port and
//! protocol can be mapped only once per task, and hostPort can only echo containerPort.

use std::collections::HashMap;

use super::super::error::FieldError;
use super::super::model::TaskDefinition;
use super::container_path;

const PROTOCOLS: &[&str] = &["tcp", "udp"];

pub(super) fn check(def: &TaskDefinition, errors: &mut Vec<FieldError>) {
    let mut ports: HashMap<(u32, &str), &str> = HashMap::new();
    let mut names: HashMap<&str, &str> = HashMap::new();
    for (i, container) in def.container_definitions.iter().enumerate() {
        for (j, mapping) in container.port_mappings.iter().enumerate() {
            let path = format!("{}.portMappings[{j}]", container_path(i));
            let port = mapping.container_port;
            if !(1..=65535).contains(&port) {
                errors.push(FieldError::new(
                    format!("{path}.containerPort"),
                    format!("{port} is out of range; must be between 1 and 65535"),
                ));
            }
            if let Some(host_port) = mapping.host_port
                && host_port != port
            {
                errors.push(FieldError::new(
                    format!("{path}.hostPort"),
                    format!("must equal containerPort ({port}) in awsvpc mode"),
                ));
            }
            let protocol = mapping.protocol();
            if !PROTOCOLS.contains(&protocol) {
                errors.push(FieldError::new(
                    format!("{path}.protocol"),
                    format!("{protocol:?} is not valid; valid values: tcp, udp"),
                ));
            } else if let Some(owner) = ports.get(&(port, protocol)) {
                errors.push(FieldError::new(
                    format!("{path}.containerPort"),
                    format!("{port}/{protocol} is already mapped by container {owner:?}"),
                ));
            } else {
                ports.insert((port, protocol), &container.name);
            }
            let Some(name) = mapping.name.as_deref() else {
                continue;
            };
            if let Some(owner) = names.get(name) {
                errors.push(FieldError::new(
                    format!("{path}.name"),
                    format!("port mapping name {name:?} is already used by container {owner:?}"),
                ));
            } else {
                names.insert(name, &container.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::container::PortMapping;
    use super::super::fixture::{assert_errors, good};

    fn mapping(port: u32) -> PortMapping {
        PortMapping {
            container_port: port,
            ..Default::default()
        }
    }

    #[test]
    fn container_port_range() {
        let mut def = good();
        def.container_definitions[1].port_mappings = vec![mapping(0), mapping(70000)];
        assert_errors(
            &def,
            &[
                "containerDefinitions[1].portMappings[0].containerPort: 0 is out of range; must be between 1 and 65535",
                "containerDefinitions[1].portMappings[1].containerPort: 70000 is out of range; must be between 1 and 65535",
            ],
        );
    }

    #[test]
    fn host_port_must_echo_container_port() {
        let mut def = good();
        def.container_definitions[0].port_mappings[0].host_port = Some(80);
        assert_errors(
            &def,
            &[
                "containerDefinitions[0].portMappings[0].hostPort: must equal containerPort (8080) in awsvpc mode",
            ],
        );
    }

    #[test]
    fn protocol_is_tcp_or_udp() {
        let mut def = good();
        def.container_definitions[0].port_mappings[0].protocol = Some("sctp".into());
        assert_errors(
            &def,
            &[
                r#"containerDefinitions[0].portMappings[0].protocol: "sctp" is not valid; valid values: tcp, udp"#,
            ],
        );
    }

    #[test]
    fn a_port_is_mapped_once_per_task() {
        let mut def = good();
        let udp = PortMapping {
            protocol: Some("udp".into()),
            ..mapping(8080)
        };
        def.container_definitions[1].port_mappings = vec![udp, mapping(8080)];
        assert_errors(
            &def,
            &[
                r#"containerDefinitions[1].portMappings[1].containerPort: 8080/tcp is already mapped by container "web""#,
            ],
        );
    }

    #[test]
    fn mapping_names_are_unique() {
        let mut def = good();
        def.container_definitions[0].port_mappings[0].name = Some("http".into());
        def.container_definitions[1].port_mappings = vec![PortMapping {
            name: Some("http".into()),
            ..mapping(9090)
        }];
        assert_errors(
            &def,
            &[
                r#"containerDefinitions[1].portMappings[0].name: port mapping name "http" is already used by container "web""#,
            ],
        );
    }
}
