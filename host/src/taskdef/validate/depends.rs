//! `dependsOn`: targets exist, no cycles (a cycle would never start), and exit
//! conditions only on non-essential targets (an essential container exiting stops the
//! task, so waiting for it to exit could never succeed).

use super::super::error::FieldError;
use super::super::model::TaskDefinition;
use super::container_path;

pub(super) fn check(def: &TaskDefinition, errors: &mut Vec<FieldError>) {
    for (i, container) in def.container_definitions.iter().enumerate() {
        for (j, dependency) in container.depends_on.iter().enumerate() {
            let path = format!("{}.dependsOn[{j}]", container_path(i));
            let target_name = &dependency.container_name;
            if target_name.is_empty() {
                errors.push(FieldError::new(
                    format!("{path}.containerName"),
                    "is required",
                ));
                continue;
            }
            if *target_name == container.name {
                errors.push(FieldError::new(
                    format!("{path}.containerName"),
                    "a container cannot depend on itself",
                ));
                continue;
            }
            let Some(target) = def.container(target_name) else {
                errors.push(FieldError::new(
                    format!("{path}.containerName"),
                    format!("container {target_name:?} is not defined in this task"),
                ));
                continue;
            };
            if dependency.condition.waits_for_exit() && target.is_essential() {
                errors.push(FieldError::new(
                    format!("{path}.condition"),
                    format!(
                        "{} can only be used with a non-essential container; {target_name:?} is essential",
                        dependency.condition
                    ),
                ));
            }
        }
    }
    if let Some(cycle) = find_cycle(def) {
        errors.push(FieldError::new(
            "containerDefinitions",
            format!("dependsOn forms a cycle: {}", cycle.join(" -> ")),
        ));
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mark {
    Unvisited,
    OnPath,
    Done,
}

/// The first dependency cycle in declaration order, as names with the first repeated
/// at the end (`a -> b -> a`).
fn find_cycle(def: &TaskDefinition) -> Option<Vec<String>> {
    let containers = &def.container_definitions;
    let edges: Vec<Vec<usize>> = containers
        .iter()
        .map(|container| {
            container
                .depends_on
                .iter()
                .filter(|d| d.container_name != container.name)
                .filter_map(|d| containers.iter().position(|c| c.name == d.container_name))
                .collect()
        })
        .collect();
    let mut marks = vec![Mark::Unvisited; containers.len()];
    let mut path = Vec::new();
    for start in 0..containers.len() {
        if let Some(cycle) = visit(start, &edges, &mut marks, &mut path) {
            return Some(cycle.iter().map(|&i| containers[i].name.clone()).collect());
        }
    }
    None
}

fn visit(
    node: usize,
    edges: &[Vec<usize>],
    marks: &mut [Mark],
    path: &mut Vec<usize>,
) -> Option<Vec<usize>> {
    match marks[node] {
        Mark::Done => return None,
        Mark::OnPath => {
            let start = path.iter().position(|&n| n == node).unwrap_or(0);
            let mut cycle = path[start..].to_vec();
            cycle.push(node);
            return Some(cycle);
        }
        Mark::Unvisited => {}
    }
    marks[node] = Mark::OnPath;
    path.push(node);
    for &next in &edges[node] {
        if let Some(cycle) = visit(next, edges, marks, path) {
            return Some(cycle);
        }
    }
    path.pop();
    marks[node] = Mark::Done;
    None
}

#[cfg(test)]
mod tests {
    use super::super::super::container::{
        ContainerDefinition, ContainerDependency, DependencyCondition,
    };
    use super::super::fixture::{assert_errors, good};

    fn depends(name: &str, condition: DependencyCondition) -> ContainerDependency {
        ContainerDependency {
            container_name: name.into(),
            condition,
        }
    }

    #[test]
    fn targets_must_exist_and_not_be_self() {
        let mut def = good();
        def.container_definitions[1].depends_on = vec![
            depends("ghost", DependencyCondition::Start),
            depends("init", DependencyCondition::Start),
            depends("", DependencyCondition::Start),
        ];
        assert_errors(
            &def,
            &[
                r#"containerDefinitions[1].dependsOn[0].containerName: container "ghost" is not defined in this task"#,
                "containerDefinitions[1].dependsOn[1].containerName: a container cannot depend on itself",
                "containerDefinitions[1].dependsOn[2].containerName: is required",
            ],
        );
    }

    #[test]
    fn cycles_are_reported_with_their_path() {
        let mut def = good();
        def.container_definitions[1].depends_on = vec![depends("web", DependencyCondition::Start)];
        assert_errors(
            &def,
            &["containerDefinitions: dependsOn forms a cycle: web -> init -> web"],
        );

        let mut def = good();
        def.container_definitions[0].depends_on.clear();
        for (name, next) in [("a", "b"), ("b", "c"), ("c", "b")] {
            def.container_definitions.push(ContainerDefinition {
                name: name.into(),
                image: "x.wasm".into(),
                depends_on: vec![depends(next, DependencyCondition::Start)],
                ..Default::default()
            });
        }
        assert_errors(
            &def,
            &["containerDefinitions: dependsOn forms a cycle: b -> c -> b"],
        );
    }

    #[test]
    fn exit_conditions_need_a_non_essential_target() {
        let mut def = good();
        def.container_definitions[1].essential = None;
        assert_errors(
            &def,
            &[
                r#"containerDefinitions[0].dependsOn[0].condition: SUCCESS can only be used with a non-essential container; "init" is essential"#,
            ],
        );
        for condition in [DependencyCondition::Start, DependencyCondition::Healthy] {
            def.container_definitions[0].depends_on[0].condition = condition;
            assert_errors(&def, &[]);
        }
    }
}
