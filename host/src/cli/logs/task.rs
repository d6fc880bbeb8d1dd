//! `--task <id-or-prefix>`: the awslogs streams of one task, found in every log group by
//! their names (`prefix/container/task-id`), so the id `wasmgate run` prints is enough.

use std::collections::BTreeMap;
use wasmgate::logs::{LogError, LogStore};

/// Groups and streams listed per call; the store's DescribeLogStreams maximum.
const PAGE: usize = 50;

/// The task-id part of `--task`: an id, a prefix of one, or a task ARN.
pub fn id_prefix(arg: &str) -> anyhow::Result<String> {
    let id = arg.rsplit('/').next().unwrap_or(arg).trim();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        anyhow::bail!(
            "--task {arg:?}: expected a task id (or a prefix of one) as `wasmgate run` prints it"
        );
    }
    Ok(id.to_ascii_lowercase())
}

/// One container's stream of the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskStream {
    pub group: String,
    pub stream: String,
    pub container: String,
}

/// The task's streams, by group, and its full id.
#[derive(Debug, Default)]
pub struct Found {
    pub task_id: Option<String>,
    pub streams: BTreeMap<String, Vec<TaskStream>>,
}

/// `prefix/container/task-id` → (container, task id).
pub fn split_stream(name: &str) -> Option<(&str, &str)> {
    let mut parts = name.rsplitn(3, '/');
    let task = parts.next()?;
    let container = parts.next()?;
    parts.next()?;
    Some((container, task))
}

/// Every stream of the one task whose id starts with `prefix` (only `container`'s if
/// given). An ambiguous prefix is an error naming the tasks it matches.
pub fn find(store: &LogStore, prefix: &str, container: Option<&str>) -> anyhow::Result<Found> {
    let mut found = Found::default();
    let mut ids: Vec<String> = Vec::new();
    let mut groups_token = None;
    loop {
        let groups = store.describe_groups(None, PAGE, groups_token.as_deref())?;
        for g in &groups.groups {
            let mut token = None;
            loop {
                let page = match store.describe_streams(
                    &g.name,
                    None,
                    false,
                    false,
                    PAGE,
                    token.as_deref(),
                ) {
                    Ok(p) => p,
                    // Deleted between the two calls.
                    Err(LogError::GroupNotFound(_)) => break,
                    Err(e) => return Err(e.into()),
                };
                for s in &page.streams {
                    let Some((name, id)) = split_stream(&s.name) else {
                        continue;
                    };
                    if !id.starts_with(prefix) {
                        continue;
                    }
                    if !ids.iter().any(|i| i == id) {
                        ids.push(id.to_owned());
                    }
                    if container.is_none_or(|c| c == name) {
                        found
                            .streams
                            .entry(g.name.clone())
                            .or_default()
                            .push(TaskStream {
                                group: g.name.clone(),
                                stream: s.name.clone(),
                                container: name.to_owned(),
                            });
                    }
                }
                token = page.next_token;
                if token.is_none() {
                    break;
                }
            }
        }
        groups_token = groups.next_token;
        if groups_token.is_none() {
            break;
        }
    }
    if ids.len() > 1 {
        ids.sort_unstable();
        anyhow::bail!(
            "--task {prefix}: the prefix matches {} tasks ({}); give more of the id",
            ids.len(),
            ids.join(", ")
        );
    }
    found.task_id = ids.pop();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_prefixes_and_arns() {
        assert_eq!(id_prefix("2D2B2083").unwrap(), "2d2b2083");
        assert_eq!(
            id_prefix("arn:aws:ecs:us-east-1:000000000000:task/default/2d2b2083aa").unwrap(),
            "2d2b2083aa"
        );
        assert!(id_prefix("").is_err());
        assert!(id_prefix("a b").is_err());
    }

    #[test]
    fn streams_of_one_task_across_groups() {
        let store = LogStore::open_in_memory().unwrap();
        for (g, s) in [
            ("/a", "p/web/aaaa1111"),
            ("/a", "p/worker/aaaa1111"),
            ("/b", "q/db/aaaa1111"),
            ("/b", "q/db/bbbb2222"),
            ("/b", "not-a-task-stream"),
        ] {
            store.ensure_group(g).unwrap();
            store.create_stream(g, s).unwrap();
        }
        let f = find(&store, "aaaa", None).unwrap();
        assert_eq!(f.task_id.as_deref(), Some("aaaa1111"));
        let names: Vec<&str> = f
            .streams
            .values()
            .flatten()
            .map(|s| s.stream.as_str())
            .collect();
        assert_eq!(
            names,
            ["p/web/aaaa1111", "p/worker/aaaa1111", "q/db/aaaa1111"]
        );
        let f = find(&store, "aaaa", Some("db")).unwrap();
        let names: Vec<&str> = f
            .streams
            .values()
            .flatten()
            .map(|s| s.container.as_str())
            .collect();
        assert_eq!(names, ["db"]);
        let e = find(&store, "", None).unwrap_err().to_string();
        assert!(e.contains("matches 2 tasks (aaaa1111, bbbb2222)"), "{e}");
        assert!(find(&store, "cccc", None).unwrap().task_id.is_none());
    }
}
