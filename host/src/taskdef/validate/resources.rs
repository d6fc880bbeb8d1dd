//! Task size (the Fargate cpu/memory table) and how containers share it.

use super::super::error::FieldError;
use super::super::fargate;
use super::super::model::TaskDefinition;
use super::container_path;

pub(super) fn check(def: &TaskDefinition, errors: &mut Vec<FieldError>) {
    check_task_size(def, errors);
    check_container_cpu(def, errors);
    check_container_memory(def, errors);
}

fn check_task_size(def: &TaskDefinition, errors: &mut Vec<FieldError>) {
    let cpu_values = fargate::join(&fargate::cpu_values());
    let memory_values = fargate::memory_values(def.cpu);
    if def.cpu == 0 {
        errors.push(FieldError::new(
            "cpu",
            format!("is required; valid values: {cpu_values}"),
        ));
    } else if memory_values.is_none() {
        errors.push(FieldError::new(
            "cpu",
            format!(
                "{} is not a valid Fargate CPU value; valid values: {cpu_values}",
                def.cpu
            ),
        ));
    }

    if def.memory == 0 {
        let rule = match &memory_values {
            Some(values) => format!(
                "is required; valid values for cpu {}: {}",
                def.cpu,
                fargate::describe(values)
            ),
            None => "is required".to_owned(),
        };
        errors.push(FieldError::new("memory", rule));
    } else if let Some(values) = memory_values
        && !values.contains(&def.memory)
    {
        errors.push(FieldError::new(
            "memory",
            format!(
                "{} MiB is not valid for cpu {}; valid values: {}",
                def.memory,
                def.cpu,
                fargate::describe(&values)
            ),
        ));
    }
}

fn check_container_cpu(def: &TaskDefinition, errors: &mut Vec<FieldError>) {
    // Against a missing or invalid task cpu the comparison is only noise.
    if fargate::memory_values(def.cpu).is_none() {
        return;
    }
    let task_cpu = u64::from(def.cpu);
    let mut too_big = false;
    for (i, container) in def.container_definitions.iter().enumerate() {
        if let Some(cpu) = container.cpu
            && u64::from(cpu) > task_cpu
        {
            too_big = true;
            errors.push(FieldError::new(
                format!("{}.cpu", container_path(i)),
                format!("{cpu} exceeds the task's {task_cpu} cpu units"),
            ));
        }
    }
    let sum: u64 = def
        .container_definitions
        .iter()
        .filter_map(|c| c.cpu)
        .map(u64::from)
        .sum();
    if !too_big && sum > task_cpu {
        errors.push(FieldError::new(
            "containerDefinitions",
            format!("the sum of container cpu ({sum}) exceeds the task's {task_cpu} cpu units"),
        ));
    }
}

fn check_container_memory(def: &TaskDefinition, errors: &mut Vec<FieldError>) {
    let task_memory = def.memory;
    let mut too_big = false;
    for (i, container) in def.container_definitions.iter().enumerate() {
        let path = container_path(i);
        if container.memory == Some(0) {
            errors.push(FieldError::new(
                format!("{path}.memory"),
                "must be greater than 0",
            ));
        }
        if let Some(memory) = container.memory
            && task_memory > 0
            && memory > task_memory
        {
            too_big = true;
            errors.push(FieldError::new(
                format!("{path}.memory"),
                format!("{memory} MiB exceeds the task's {task_memory} MiB"),
            ));
        }
        if let (Some(reservation), Some(memory)) = (container.memory_reservation, container.memory)
            && reservation > memory
        {
            errors.push(FieldError::new(
                format!("{path}.memoryReservation"),
                format!("{reservation} MiB exceeds the container's memory ({memory} MiB)"),
            ));
        }
    }
    let sum = def
        .container_definitions
        .iter()
        .filter_map(|c| c.memory.or(c.memory_reservation))
        .fold(0u64, u64::saturating_add);
    if !too_big && task_memory > 0 && sum > task_memory {
        errors.push(FieldError::new(
            "containerDefinitions",
            format!("the sum of container memory ({sum} MiB) exceeds the task's {task_memory} MiB"),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{assert_errors, good};

    #[test]
    fn cpu_is_required_and_from_the_fargate_list() {
        let mut def = good();
        def.cpu = 300;
        assert_errors(
            &def,
            &[
                "cpu: 300 is not a valid Fargate CPU value; valid values: 256, 512, 1024, 2048, 4096, 8192, 16384",
            ],
        );
        def.cpu = 0;
        assert_errors(
            &def,
            &["cpu: is required; valid values: 256, 512, 1024, 2048, 4096, 8192, 16384"],
        );
    }

    #[test]
    fn memory_must_match_the_cpu() {
        let mut def = good();
        def.cpu = 256;
        def.memory = 3000;
        def.container_definitions[0].cpu = None;
        def.container_definitions[0].memory = None;
        assert_errors(
            &def,
            &["memory: 3000 MiB is not valid for cpu 256; valid values: 512, 1024, 2048"],
        );
        def.cpu = 4096;
        assert_errors(
            &def,
            &[
                "memory: 3000 MiB is not valid for cpu 4096; valid values: 8192 to 30720 in steps of 1024",
            ],
        );
        def.memory = 0;
        assert_errors(
            &def,
            &["memory: is required; valid values for cpu 4096: 8192 to 30720 in steps of 1024"],
        );
        def.cpu = 16384;
        def.memory = 122_880;
        assert_errors(&def, &[]);
    }

    #[test]
    fn container_cpu_fits_the_task() {
        let mut def = good();
        def.container_definitions[1].cpu = Some(768);
        assert_errors(
            &def,
            &[
                "containerDefinitions: the sum of container cpu (1280) exceeds the task's 1024 cpu units",
            ],
        );
        def.container_definitions[1].cpu = Some(2048);
        assert_errors(
            &def,
            &["containerDefinitions[1].cpu: 2048 exceeds the task's 1024 cpu units"],
        );
    }

    #[test]
    fn container_memory_fits_the_task() {
        let mut def = good();
        def.container_definitions[1].memory = Some(4096);
        assert_errors(
            &def,
            &["containerDefinitions[1].memory: 4096 MiB exceeds the task's 2048 MiB"],
        );
        // Reservation counts when there is no hard limit: 1024 + 1280 > 2048.
        def.container_definitions[1].memory = None;
        def.container_definitions[1].memory_reservation = Some(1280);
        assert_errors(
            &def,
            &[
                "containerDefinitions: the sum of container memory (2304 MiB) exceeds the task's 2048 MiB",
            ],
        );
    }

    #[test]
    fn reservation_within_the_hard_limit() {
        let mut def = good();
        def.container_definitions[0].memory_reservation = Some(1536);
        assert_errors(
            &def,
            &[
                "containerDefinitions[0].memoryReservation: 1536 MiB exceeds the container's memory (1024 MiB)",
            ],
        );
        def.container_definitions[0].memory = Some(0);
        def.container_definitions[0].memory_reservation = None;
        assert_errors(
            &def,
            &["containerDefinitions[0].memory: must be greater than 0"],
        );
    }
}
