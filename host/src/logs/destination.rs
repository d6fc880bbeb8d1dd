//! Where a container's output goes, parsed from its ECS `logConfiguration` once at task
//! start so a bad option fails the task up front instead of every log write.

use std::collections::BTreeMap;

use super::LogError;
use super::names::{check_group_name, check_stream_name};

const GROUP_FIELD: &str = "logConfiguration.options.awslogs-group";
const PREFIX_FIELD: &str = "logConfiguration.options.awslogs-stream-prefix";
const CREATE_FIELD: &str = "logConfiguration.options.awslogs-create-group";

/// The group and stream one container's stdout/stderr lines are written to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogDestination {
    pub group: String,
    pub stream: String,
}

impl LogDestination {
    /// The awslogs driver convention: stream `<awslogs-stream-prefix>/<container>/<task_id>`,
    /// or `<container>/<task_id>` without a prefix (an empty prefix counts as none).
    pub fn awslogs(
        options: &BTreeMap<String, String>,
        container: &str,
        task_id: &str,
    ) -> Result<Self, LogError> {
        let group = options
            .get("awslogs-group")
            .ok_or_else(|| LogError::invalid(GROUP_FIELD, "is required for the awslogs driver"))?;
        check_group_name(GROUP_FIELD, group)?;
        let stream = match options
            .get("awslogs-stream-prefix")
            .filter(|p| !p.is_empty())
        {
            Some(prefix) => format!("{prefix}/{container}/{task_id}"),
            None => format!("{container}/{task_id}"),
        };
        check_stream_name(PREFIX_FIELD, &stream)?;
        Ok(Self {
            group: group.clone(),
            stream,
        })
    }

    /// `awslogs-create-group` (default false): whether the runtime may create a missing
    /// group, or must fail the task instead, as ECS does.
    pub fn create_group(options: &BTreeMap<String, String>) -> Result<bool, LogError> {
        match options.get("awslogs-create-group").map(String::as_str) {
            None => Ok(false),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
            Some(v) => Err(LogError::invalid(
                CREATE_FIELD,
                format!("{v:?} must be \"true\" or \"false\""),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn stream_with_and_without_prefix() -> Result<(), LogError> {
        let with = opts(&[
            ("awslogs-group", "/ecs/web"),
            ("awslogs-stream-prefix", "ecs"),
        ]);
        let d = LogDestination::awslogs(&with, "app", "0123abcd")?;
        assert_eq!(d.group, "/ecs/web");
        assert_eq!(d.stream, "ecs/app/0123abcd");
        let without = opts(&[("awslogs-group", "/ecs/web")]);
        assert_eq!(
            LogDestination::awslogs(&without, "app", "t1")?.stream,
            "app/t1"
        );
        let empty = opts(&[("awslogs-group", "/ecs/web"), ("awslogs-stream-prefix", "")]);
        assert_eq!(
            LogDestination::awslogs(&empty, "app", "t1")?.stream,
            "app/t1"
        );
        Ok(())
    }

    #[test]
    fn group_is_required_and_checked() {
        let missing = LogDestination::awslogs(&opts(&[]), "app", "t1");
        assert!(matches!(
            missing,
            Err(LogError::InvalidParameter {
                field: GROUP_FIELD,
                ..
            })
        ));
        let bad = LogDestination::awslogs(&opts(&[("awslogs-group", "a b")]), "app", "t1");
        assert!(matches!(
            bad,
            Err(LogError::InvalidParameter {
                field: GROUP_FIELD,
                ..
            })
        ));
        let bad_prefix = opts(&[("awslogs-group", "g"), ("awslogs-stream-prefix", "a:b")]);
        assert!(matches!(
            LogDestination::awslogs(&bad_prefix, "app", "t1"),
            Err(LogError::InvalidParameter {
                field: PREFIX_FIELD,
                ..
            })
        ));
    }

    #[test]
    fn create_group_flag() {
        assert!(matches!(
            LogDestination::create_group(&opts(&[])),
            Ok(false)
        ));
        let on = opts(&[("awslogs-create-group", "true")]);
        assert!(matches!(LogDestination::create_group(&on), Ok(true)));
        let bad = opts(&[("awslogs-create-group", "yes")]);
        assert!(LogDestination::create_group(&bad).is_err());
    }
}
