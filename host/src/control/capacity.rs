//! `capacityProviderStrategy` (RunTask, CreateService): on Fargate, the providers
//! `FARGATE` and `FARGATE_SPOT` are the launch type's equivalent. wasmgate runs both the
//! same way; a task records which one placed it (`capacityProviderName`).

use super::error::{ControlError, Result};
use serde::{Deserialize, Serialize};

/// The providers every Fargate cluster can use.
pub const FARGATE_PROVIDERS: &[&str] = &["FARGATE", "FARGATE_SPOT"];
const MAX_ITEMS: usize = 20;
const MAX_WEIGHT: i64 = 1000;
const MAX_BASE: i64 = 100_000;

/// One `CapacityProviderStrategyItem`, as requests carry it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", expecting = "an object")]
pub struct ItemIn {
    capacity_provider: Option<String>,
    weight: Option<i64>,
    base: Option<i64>,
}

/// A checked strategy item, as a service keeps it and echoes it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub capacity_provider: String,
    pub weight: u32,
    pub base: u32,
}

/// Checks `launchType` against `capacityProviderStrategy` the way ECS does: not both, and
/// only the Fargate providers. `Ok(None)`: no strategy, the launch type (FARGATE) applies.
pub fn strategy(
    launch_type: Option<&str>,
    given: Option<Vec<ItemIn>>,
) -> Result<Option<Vec<Item>>> {
    let Some(given) = given.filter(|g| !g.is_empty()) else {
        return Ok(None);
    };
    if launch_type.is_some() {
        return Err(ControlError::invalid(
            "Specifying both a launch type and capacity provider strategy is not supported. \
             Remove one and try again.",
        ));
    }
    if given.len() > MAX_ITEMS {
        return Err(ControlError::invalid(format!(
            "capacityProviderStrategy: at most {MAX_ITEMS} items are allowed, got {}",
            given.len()
        )));
    }
    let mut items: Vec<Item> = Vec::with_capacity(given.len());
    for (i, g) in given.into_iter().enumerate() {
        let path = format!("capacityProviderStrategy[{i}]");
        let Some(name) = g.capacity_provider.filter(|n| !n.is_empty()) else {
            return Err(ControlError::invalid(format!(
                "{path}.capacityProvider: is required"
            )));
        };
        if !FARGATE_PROVIDERS.contains(&name.as_str()) {
            return Err(ControlError::invalid(
                "The specified capacity provider strategy cannot contain a capacity provider \
                 that is not associated with the cluster. Associate the capacity provider with \
                 the cluster or specify a valid capacity provider and try again.",
            ));
        }
        if items.iter().any(|it| it.capacity_provider == name) {
            return Err(ControlError::invalid(format!(
                "{path}.capacityProvider: {name} appears more than once in the strategy"
            )));
        }
        let weight = g.weight.unwrap_or(0);
        if !(0..=MAX_WEIGHT).contains(&weight) {
            return Err(ControlError::invalid(format!(
                "{path}.weight: {weight} is out of range; must be between 0 and {MAX_WEIGHT}"
            )));
        }
        let base = g.base.unwrap_or(0);
        if !(0..=MAX_BASE).contains(&base) {
            return Err(ControlError::invalid(format!(
                "{path}.base: {base} is out of range; must be between 0 and {MAX_BASE}"
            )));
        }
        items.push(Item {
            capacity_provider: name,
            weight: u32::try_from(weight).unwrap_or(0),
            base: u32::try_from(base).unwrap_or(0),
        });
    }
    if items.iter().filter(|it| it.base > 0).count() > 1 {
        return Err(ControlError::invalid(
            "capacityProviderStrategy: only one capacity provider in a strategy can have a base",
        ));
    }
    // A single provider places every task whatever its weight; with several, one must
    // have a weight (or a base) for any task to be placed.
    if items.len() > 1 && items.iter().all(|it| it.weight == 0 && it.base == 0) {
        return Err(ControlError::invalid(
            "capacityProviderStrategy: at least one capacity provider must have a weight \
             greater than zero",
        ));
    }
    Ok(Some(items))
}

/// The provider that places the `index`-th task of a request: the provider with a
/// `base` takes the first `base` tasks, the rest go by weight (a deterministic round of
/// the weights, so 1:1 alternates).
pub fn provider_for(items: &[Item], index: u32) -> &str {
    let base_total: u32 = items.iter().map(|it| it.base).sum();
    if index < base_total
        && let Some(it) = items.iter().find(|it| it.base > 0)
    {
        return &it.capacity_provider;
    }
    let total: u32 = items.iter().map(|it| it.weight).sum();
    if total == 0 {
        return items.first().map_or("FARGATE", |it| &it.capacity_provider);
    }
    let mut slot = (index - base_total.min(index)) % total;
    for it in items {
        if slot < it.weight {
            return &it.capacity_provider;
        }
        slot -= it.weight;
    }
    items.first().map_or("FARGATE", |it| &it.capacity_provider)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(name: &str, weight: Option<i64>, base: Option<i64>) -> ItemIn {
        ItemIn {
            capacity_provider: Some(name.into()),
            weight,
            base,
        }
    }

    #[test]
    fn fargate_providers_are_accepted_and_others_refused_as_ecs_does() {
        let s = strategy(None, Some(vec![item("FARGATE_SPOT", Some(1), None)]))
            .unwrap()
            .unwrap();
        assert_eq!(s[0].capacity_provider, "FARGATE_SPOT");
        let e = strategy(None, Some(vec![item("my-asg", Some(1), None)])).unwrap_err();
        assert!(
            e.to_string().contains("not associated with the cluster"),
            "{e}"
        );
        let e = strategy(Some("FARGATE"), Some(vec![item("FARGATE", None, None)])).unwrap_err();
        assert!(
            e.to_string().starts_with("Specifying both a launch type"),
            "{e}"
        );
        assert!(strategy(Some("FARGATE"), Some(vec![])).unwrap().is_none());
        let e = strategy(None, Some(vec![item("FARGATE", Some(1001), None)])).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("capacityProviderStrategy[0].weight:"),
            "{e}"
        );
    }

    #[test]
    fn tasks_go_to_the_base_first_then_by_weight() {
        let s = strategy(
            None,
            Some(vec![
                item("FARGATE", Some(1), Some(2)),
                item("FARGATE_SPOT", Some(1), None),
            ]),
        )
        .unwrap()
        .unwrap();
        let placed: Vec<&str> = (0..5).map(|i| provider_for(&s, i)).collect();
        assert_eq!(
            placed,
            ["FARGATE", "FARGATE", "FARGATE", "FARGATE_SPOT", "FARGATE"]
        );
    }
}
