//! What the driver knows about each container before anything starts, and the rules this
//! runtime puts on a definition beyond the ECS validator (checked here, in one place).

use crate::runtime::http::InstanceReuse;
use crate::taskdef::{ContainerDefinition, DependencyCondition, FieldError, TaskDefinition};
use std::time::Duration;

pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(30);

/// What the driver needs to know about each container, resolved before anything starts.
pub(in crate::runtime) struct Plan {
    pub def: ContainerDefinition,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cpu_units: u32,
    pub fuel_budget: Option<u64>,
    /// `wasmgate.instance-reuse` (only HTTP components may set it; checked once the
    /// component is known).
    pub instance_reuse: InstanceReuse,
    pub stop_timeout: Duration,
    /// The container's `healthCheck`, parsed.
    pub health: Option<crate::runtime::health::HealthCheck>,
}

/// Builds the per-container plan from the definition; `stop_timeout` overrides every container's.
pub(in crate::runtime) fn plan_containers(
    def: &TaskDefinition,
    stop_timeout: Option<Duration>,
    default_fuel_budget: Option<u64>,
) -> Result<Vec<Plan>, Vec<FieldError>> {
    let errors = runtime_rules(def);
    if !errors.is_empty() {
        return Err(errors);
    }
    let units = crate::runtime::cpu::split_units(
        def.cpu,
        &def.container_definitions
            .iter()
            .map(|c| c.cpu)
            .collect::<Vec<_>>(),
    );
    def.container_definitions
        .iter()
        .zip(units)
        .enumerate()
        .map(|(i, (c, cpu_units))| {
            let fuel_budget = match c.docker_labels.get(FUEL_LABEL) {
                Some(v) => Some(parse_fuel_label(v).ok_or_else(|| vec![fuel_label_error(i, v)])?),
                None => default_fuel_budget,
            };
            let instance_reuse =
                InstanceReuse::from_labels(i, &c.docker_labels).map_err(|e| vec![e])?;
            let mut args = vec![c.name.clone()];
            args.extend(c.entry_point.iter().cloned());
            args.extend(c.command.iter().cloned());
            let mut env: Vec<(String, String)> = c
                .environment
                .iter()
                .map(|kv| (kv.name.clone(), kv.value.clone()))
                .collect();
            if let Some(wd) = &c.working_directory {
                env.push(("PWD".into(), wd.clone()));
            }
            let health = match &c.health_check {
                Some(h) => Some(crate::runtime::health::parse(i, h).map_err(|e| vec![e])?),
                None => None,
            };
            Ok(Plan {
                health,
                def: c.clone(),
                args,
                env,
                cpu_units,
                fuel_budget,
                instance_reuse,
                stop_timeout: stop_timeout
                    .or(c.stop_timeout.map(|s| Duration::from_secs(s.into())))
                    .unwrap_or(DEFAULT_STOP_TIMEOUT),
            })
        })
        .collect()
}

/// Rules of this runtime beyond the ECS validator: every violation, each naming its field.
pub fn runtime_rules(def: &TaskDefinition) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (i, c) in def.container_definitions.iter().enumerate() {
        if let Some(v) = c.docker_labels.get(FUEL_LABEL)
            && parse_fuel_label(v).is_none()
        {
            errors.push(fuel_label_error(i, v));
        }
        if let Err(e) = InstanceReuse::from_labels(i, &c.docker_labels) {
            errors.push(e);
        }
        if let Some(h) = &c.health_check
            && let Err(e) = crate::runtime::health::parse(i, h)
        {
            errors.push(e);
        }
        for (j, m) in c.port_mappings.iter().enumerate() {
            if m.container_port == u32::from(crate::runtime::endpoints::PORT) {
                errors.push(FieldError::new(
                    format!("containerDefinitions[{i}].portMappings[{j}].containerPort"),
                    format!(
                        "{} is reserved for the task metadata endpoint",
                        crate::runtime::endpoints::PORT
                    ),
                ));
            }
        }
        for (j, d) in c.depends_on.iter().enumerate() {
            let checked = def
                .container_definitions
                .iter()
                .any(|o| o.name == d.container_name && o.health_check.is_some());
            if d.condition == DependencyCondition::Healthy && !checked {
                errors.push(FieldError::new(
                    format!("containerDefinitions[{i}].dependsOn[{j}].condition"),
                    format!(
                        "HEALTHY needs container {} to have a healthCheck",
                        d.container_name
                    ),
                ));
            }
        }
    }
    errors
}

fn parse_fuel_label(v: &str) -> Option<u64> {
    v.trim().parse::<u64>().ok().filter(|&n| n > 0)
}

fn fuel_label_error(i: usize, v: &str) -> FieldError {
    FieldError::new(
        format!("containerDefinitions[{i}].dockerLabels.{FUEL_LABEL}"),
        format!("{v:?} must be a positive integer"),
    )
}

/// ECS has no fuel field; a docker label carries the per-container budget.
pub const FUEL_LABEL: &str = "wasmgate.fuel-budget";
