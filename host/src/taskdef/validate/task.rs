//! Task-level rules: family, network mode, compatibilities, storage and volumes.

use std::collections::HashSet;

use super::super::error::FieldError;
use super::super::model::{AWSVPC, TaskDefinition};
use super::{NAME_RULE, ValidationOptions, is_valid_name};

const COMPATIBILITIES: &[&str] = &["FARGATE", "EC2", "EXTERNAL", "MANAGED_INSTANCES"];
const EPHEMERAL_STORAGE_GIB: std::ops::RangeInclusive<u32> = 21..=200;

pub(super) fn check(def: &TaskDefinition, opts: &ValidationOptions, errors: &mut Vec<FieldError>) {
    if def.family.is_empty() {
        errors.push(FieldError::new("family", "is required"));
    } else if !is_valid_name(&def.family) {
        errors.push(FieldError::new("family", NAME_RULE));
    }

    if let Some(mode) = def.network_mode.as_deref().filter(|mode| *mode != AWSVPC) {
        errors.push(FieldError::new(
            "networkMode",
            format!("{mode:?} is not supported; wasmgate tasks use awsvpc"),
        ));
    }

    for (i, compatibility) in def.requires_compatibilities.iter().enumerate() {
        if !COMPATIBILITIES.contains(&compatibility.as_str()) {
            errors.push(FieldError::new(
                format!("requiresCompatibilities[{i}]"),
                format!(
                    "{compatibility:?} is not valid; valid values: {}",
                    COMPATIBILITIES.join(", ")
                ),
            ));
        }
    }

    if let Some(storage) = &def.ephemeral_storage
        && !EPHEMERAL_STORAGE_GIB.contains(&storage.size_in_gib)
    {
        errors.push(FieldError::new(
            "ephemeralStorage.sizeInGiB",
            format!(
                "{} is out of range; must be between {} and {}",
                storage.size_in_gib,
                EPHEMERAL_STORAGE_GIB.start(),
                EPHEMERAL_STORAGE_GIB.end()
            ),
        ));
    }

    check_volumes(def, opts, errors);
}

fn check_volumes(def: &TaskDefinition, opts: &ValidationOptions, errors: &mut Vec<FieldError>) {
    let mut seen = HashSet::new();
    for (i, volume) in def.volumes.iter().enumerate() {
        let path = format!("volumes[{i}]");
        if volume.name.is_empty() {
            errors.push(FieldError::new(format!("{path}.name"), "is required"));
        } else if !is_valid_name(&volume.name) {
            errors.push(FieldError::new(format!("{path}.name"), NAME_RULE));
        } else if !seen.insert(volume.name.as_str()) {
            errors.push(FieldError::new(
                format!("{path}.name"),
                format!("duplicate volume name {:?}", volume.name),
            ));
        }

        let Some(source) = volume.host.as_ref().and_then(|h| h.source_path.as_deref()) else {
            continue;
        };
        let path = format!("{path}.host.sourcePath");
        if !opts.allow_bind_mounts {
            errors.push(FieldError::new(
                path,
                "host bind mounts are disabled on this host (Fargate tasks cannot use them)",
            ));
        } else if !source.starts_with('/') {
            errors.push(FieldError::new(path, "must be an absolute path"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::model::{EphemeralStorage, HostVolume, Volume};
    use super::super::fixture::{assert_errors, good};
    use super::super::{ValidationOptions, check};

    #[test]
    fn family_is_required_and_named_like_ecs() {
        let mut def = good();
        def.family = String::new();
        assert_errors(&def, &["family: is required"]);
        def.family = "web app!".into();
        assert_errors(
            &def,
            &["family: must be 1 to 255 letters, numbers, hyphens and underscores"],
        );
        def.family = "a".repeat(256);
        assert_eq!(super::super::fixture::errors(&def).len(), 1);
        def.family = "A_b-9".into();
        assert_errors(&def, &[]);
    }

    #[test]
    fn only_awsvpc() {
        let mut def = good();
        def.network_mode = Some("bridge".into());
        assert_errors(
            &def,
            &[r#"networkMode: "bridge" is not supported; wasmgate tasks use awsvpc"#],
        );
        def.network_mode = None;
        assert_errors(&def, &[]);
    }

    #[test]
    fn compatibilities_from_the_ecs_list() {
        let mut def = good();
        def.requires_compatibilities = vec!["EC2".into(), "LAMBDA".into()];
        assert_errors(
            &def,
            &[
                r#"requiresCompatibilities[1]: "LAMBDA" is not valid; valid values: FARGATE, EC2, EXTERNAL, MANAGED_INSTANCES"#,
            ],
        );
    }

    #[test]
    fn ephemeral_storage_range() {
        let mut def = good();
        assert_eq!(def.ephemeral_storage_gib(), 20);
        def.ephemeral_storage = Some(EphemeralStorage { size_in_gib: 200 });
        assert_errors(&def, &[]);
        assert_eq!(def.ephemeral_storage_gib(), 200);
        def.ephemeral_storage = Some(EphemeralStorage { size_in_gib: 20 });
        assert_errors(
            &def,
            &["ephemeralStorage.sizeInGiB: 20 is out of range; must be between 21 and 200"],
        );
    }

    #[test]
    fn volume_names_unique_and_valid() {
        let mut def = good();
        def.volumes.push(Volume {
            name: "shared".into(),
            host: None,
            ..Default::default()
        });
        def.volumes.push(Volume {
            name: String::new(),
            host: None,
            ..Default::default()
        });
        assert_errors(
            &def,
            &[
                r#"volumes[1].name: duplicate volume name "shared""#,
                "volumes[2].name: is required",
            ],
        );
    }

    #[test]
    fn bind_mounts_only_when_enabled() {
        let mut def = good();
        def.volumes[0].host = Some(HostVolume {
            source_path: Some("/srv/data".into()),
        });
        assert_errors(
            &def,
            &[
                "volumes[0].host.sourcePath: host bind mounts are disabled on this host (Fargate tasks cannot use them)",
            ],
        );
        let allow = ValidationOptions {
            allow_bind_mounts: true,
            ..ValidationOptions::default()
        };
        assert!(check(&def, &allow).is_empty());

        def.volumes[0].host = Some(HostVolume {
            source_path: Some("relative".into()),
        });
        let errors: Vec<String> = check(&def, &allow)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            ["volumes[0].host.sourcePath: must be an absolute path"]
        );

        // ECS's empty `host: {}` is a plain task volume.
        def.volumes[0].host = Some(HostVolume::default());
        assert_errors(&def, &[]);
    }
}
