//! The phases of a pass over hand-made views: no running service, no tasks.

use super::*;
use crate::control::services::model::{Deployment, LoadBalancer};
use std::time::Duration;

const T0: i64 = 1_000_000;

fn service(desired: u32) -> ServiceState {
    ServiceState {
        service_name: "web".into(),
        cluster: "default".into(),
        status: ServiceStatus::Active,
        desired_count: desired,
        task_definition: "app:2".into(),
        created_at_ms: T0,
        deployment_configuration: Default::default(),
        network_configuration: None,
        load_balancers: Vec::new(),
        health_check_grace_period_seconds: None,
        deployments: vec![Deployment::new("new".into(), "app:2", desired, T0)],
        events: Vec::new(),
        last_good: None,
        steady: false,
        propagate_tags: Default::default(),
        enable_ecs_managed_tags: false,
        capacity_provider_strategy: None,
    }
}

fn task(id: &str, deployment: &str, status: TaskStatus) -> TaskView {
    TaskView {
        id: id.into(),
        deployment: deployment.into(),
        by_scheduler: false,
        status,
        created_ms: T0,
        started_at: Some(SystemTime::UNIX_EPOCH),
        containers_healthy: true,
        ip: Some("127.0.0.1".parse().unwrap()),
        registered: Vec::new(),
    }
}

fn running(id: &str, deployment: &str) -> TaskView {
    task(id, deployment, TaskStatus::Running)
}

fn view(svc: ServiceState, tasks: Vec<TaskView>) -> View {
    View {
        svc,
        tasks,
        ended: Vec::new(),
        failures_in_row: 0,
        backing_off: false,
        now_ms: T0 + 1000,
        wall: SystemTime::UNIX_EPOCH + Duration::from_secs(3600),
    }
}

/// The phases after registration, as a pass runs them.
fn pass(v: View) -> Plan {
    let mut plan = Plan::new(v);
    ended(&mut plan);
    assert!(!drain(&mut plan));
    breaker(&mut plan);
    unhealthy(&mut plan);
    start(&mut plan);
    stop(&mut plan);
    settle(&mut plan);
    plan
}

fn stops(plan: &Plan) -> Vec<&str> {
    plan.decisions
        .iter()
        .filter_map(|d| match d {
            Decision::Stop { task, .. } => Some(task.as_str()),
            _ => None,
        })
        .collect()
}

fn started(plan: &Plan) -> u32 {
    plan.decisions
        .iter()
        .map(|d| match d {
            Decision::Start { count, .. } => *count,
            _ => 0,
        })
        .sum()
}

fn old_deployment(svc: &mut ServiceState) {
    let mut old = Deployment::new("old".into(), "app:1", svc.desired_count, T0);
    old.status = DeploymentStatus::Active;
    old.rollout_state = RolloutState::Completed;
    svc.deployments.push(old);
    svc.last_good = Some("app:1".into());
}

#[test]
fn scale_up_starts_the_missing_tasks_of_the_primary() {
    let plan = pass(view(service(3), vec![running("a", "new")]));
    assert_eq!(
        plan.decisions.first(),
        Some(&Decision::Start {
            deployment: "new".into(),
            count: 2
        })
    );
    assert!(stops(&plan).is_empty());
    // Not done until they run: no completion, no steady state.
    assert!(!plan.decisions.contains(&Decision::Steady));
}

#[test]
fn scale_up_waits_out_the_back_off() {
    let mut v = view(service(3), Vec::new());
    v.backing_off = true;
    assert_eq!(started(&pass(v)), 0);
}

#[test]
fn scale_in_stops_pending_then_newest() {
    let mut tasks = vec![
        running("old-running", "new"),
        running("new-running", "new"),
        task("pending", "new", TaskStatus::Pending),
    ];
    tasks[0].created_ms = T0 - 10;
    let plan = pass(view(service(1), tasks));
    assert_eq!(stops(&plan), ["pending", "new-running"]);
    assert_eq!(started(&plan), 0);
    assert!(plan.view.svc.events.iter().any(|e| e.message
        == "(service web) has stopped 2 running tasks: (task pending) (task new-running)."));
    // The one left is the desired count: the service settles in the same pass.
    assert!(plan.decisions.contains(&Decision::Steady));
}

#[test]
fn rolling_update_stays_within_maximum_percent() {
    let mut svc = service(4);
    svc.deployment_configuration.maximum_percent = 150;
    old_deployment(&mut svc);
    let tasks = (0..4).map(|i| running(&format!("o{i}"), "old")).collect();
    let plan = pass(view(svc, tasks));
    // 150% of 4 is 6 tasks at most: 2 new ones while the 4 old ones run.
    assert_eq!(started(&plan), 2);
}

#[test]
fn rolling_update_keeps_minimum_healthy_percent() {
    let mut svc = service(4);
    svc.deployment_configuration.minimum_healthy_percent = 50;
    old_deployment(&mut svc);
    let mut tasks: Vec<TaskView> = (0..4).map(|i| running(&format!("o{i}"), "old")).collect();
    tasks.push(task("n0", "new", TaskStatus::Pending));
    tasks.push(task("n1", "new", TaskStatus::Pending));
    // One old task is unhealthy: it goes first and does not count against the floor.
    tasks[0].containers_healthy = false;
    let plan = pass(view(svc, tasks));
    // Floor of 2 healthy out of 3 healthy: the unhealthy one and one healthy one go.
    assert_eq!(stops(&plan), ["o0", "o1"]);
    assert!(
        !plan
            .decisions
            .iter()
            .any(|d| matches!(d, Decision::Complete { .. }))
    );
}

#[test]
fn circuit_breaker_fails_the_deployment_and_rolls_back() {
    let mut svc = service(2);
    svc.deployment_configuration
        .deployment_circuit_breaker
        .enable = true;
    svc.deployment_configuration
        .deployment_circuit_breaker
        .rollback = true;
    old_deployment(&mut svc);
    svc.deployments[0].failed_tasks = breaker_threshold(2);
    let mut v = view(svc, Vec::new());
    v.failures_in_row = 3;
    v.backing_off = true;
    let plan = pass(v);
    assert!(plan.decisions.contains(&Decision::Fail {
        deployment: "new".into()
    }));
    assert!(plan.decisions.contains(&Decision::Rollback {
        task_definition: "app:1".into()
    }));
    let ds = &plan.view.svc.deployments;
    assert_eq!(ds[1].id, "new");
    assert_eq!(ds[1].rollout_state, RolloutState::Failed);
    assert_eq!(ds[0].task_definition, "app:1");
    assert_eq!(ds[0].status, DeploymentStatus::Primary);
    // The rollback starts at once, without the back-off of the failed deployment.
    assert!(plan.decisions.contains(&Decision::Start {
        deployment: ds[0].id.clone(),
        count: 2
    }));
}

#[test]
fn circuit_breaker_below_threshold_does_nothing() {
    let mut svc = service(2);
    svc.deployment_configuration
        .deployment_circuit_breaker
        .enable = true;
    svc.deployments[0].failed_tasks = breaker_threshold(2) - 1;
    let plan = pass(view(svc, Vec::new()));
    assert!(
        !plan
            .decisions
            .iter()
            .any(|d| matches!(d, Decision::Fail { .. }))
    );
}

#[test]
fn failed_deployment_starts_nothing() {
    let mut svc = service(2);
    svc.deployments[0].rollout_state = RolloutState::Failed;
    assert_eq!(started(&pass(view(svc, Vec::new()))), 0);
}

#[test]
fn a_task_that_stopped_on_its_own_is_a_failure_and_backs_off() {
    let mut v = view(service(1), Vec::new());
    v.failures_in_row = 1;
    v.ended.push(Ended {
        id: "t1".into(),
        deployment: "new".into(),
        by_scheduler: false,
        stop_code: Some(StopCode::EssentialContainerExited),
        stopped_reason: Some("Essential container in task exited".into()),
    });
    let plan = pass(v);
    assert_eq!(plan.view.svc.deployments[0].failed_tasks, 1);
    assert_eq!(plan.view.failures_in_row, 2);
    assert_eq!(started(&plan), 0, "backing off");
    let messages: Vec<&str> = plan
        .view
        .svc
        .events
        .iter()
        .map(|e| e.message.as_str())
        .collect();
    assert!(
        messages.contains(&"(service web) (task t1) stopped: Essential container in task exited.")
    );
    assert!(messages.contains(&"(service web) is unable to consistently start tasks successfully; the next start is in 2 seconds."));
}

#[test]
fn steady_state_is_said_once() {
    let plan = pass(view(service(1), vec![running("a", "new")]));
    assert!(plan.decisions.contains(&Decision::Complete {
        deployment: "new".into()
    }));
    assert_eq!(plan.view.svc.last_good.as_deref(), Some("app:2"));
    assert!(plan.view.svc.steady);
    let said = |p: &Plan| {
        p.view
            .svc
            .events
            .iter()
            .filter(|e| e.message == "(service web) has reached a steady state.")
            .count()
    };
    assert_eq!(said(&plan), 1);
    // The next pass changes nothing.
    let again = pass(view(plan.view.svc.clone(), vec![running("a", "new")]));
    assert!(again.decisions.is_empty(), "{:?}", again.decisions);
    // A change that settles without another event does not repeat the sentence.
    let mut svc = plan.view.svc.clone();
    svc.steady = false;
    let settled = pass(view(svc, vec![running("a", "new")]));
    assert!(settled.decisions.contains(&Decision::Steady));
    assert_eq!(said(&settled), 1);
}

fn behind_lb(svc: &mut ServiceState) {
    svc.load_balancers.push(LoadBalancer {
        target_group_arn: Some("tg".into()),
        container_name: Some("app".into()),
        container_port: Some(8080),
    });
}

fn target(judged: bool, healthy: bool) -> Target {
    Target {
        group: "tg".into(),
        judged,
        healthy,
        unhealthy: judged && !healthy,
    }
}

#[test]
fn registrations_are_for_running_unregistered_tasks() {
    let mut svc = service(2);
    behind_lb(&mut svc);
    let mut registered = running("b", "new");
    registered.registered.push(target(false, false));
    let tasks = vec![
        running("a", "new"),
        registered,
        task("c", "new", TaskStatus::Pending),
    ];
    let regs = registrations(&view(svc, tasks));
    assert_eq!(
        regs,
        [Registration {
            task: "a".into(),
            group: "tg".into(),
            addr: "127.0.0.1:8080".parse().unwrap(),
        }]
    );
}

#[test]
fn completion_waits_for_load_balancer_health() {
    let mut svc = service(1);
    behind_lb(&mut svc);
    // Registered, not judged yet: pending, not done.
    let mut t = running("a", "new");
    t.registered.push(target(false, false));
    let plan = pass(view(svc.clone(), vec![t.clone()]));
    assert_eq!(plan.view.svc.deployments[0].pending_count, 1);
    assert!(!plan.decisions.contains(&Decision::Steady));
    // Judged unhealthy inside the grace period: running, but not done either.
    t.registered = vec![target(true, false)];
    t.started_at = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(3599));
    let plan = pass(view(svc.clone(), vec![t.clone()]));
    assert_eq!(plan.view.svc.deployments[0].running_count, 1);
    assert!(stops(&plan).is_empty());
    assert!(!plan.decisions.contains(&Decision::Steady));
    // Healthy: COMPLETED and steady.
    t.registered = vec![target(true, true)];
    let plan = pass(view(svc, vec![t]));
    assert_eq!(
        plan.view.svc.deployments[0].rollout_state,
        RolloutState::Completed
    );
    assert!(plan.decisions.contains(&Decision::Steady));
}

#[test]
fn unhealthy_target_after_grace_is_replaced() {
    let mut svc = service(1);
    behind_lb(&mut svc);
    let mut t = running("a", "new");
    t.registered.push(target(true, false));
    let plan = pass(view(svc, vec![t]));
    assert_eq!(stops(&plan), ["a"]);
    assert_eq!(plan.view.svc.deployments[0].failed_tasks, 1);
    assert_eq!(started(&plan), 1, "a replacement within maximumPercent");
}

#[test]
fn draining_stops_tasks_then_goes_inactive() {
    let mut svc = service(0);
    svc.status = ServiceStatus::Draining;
    let mut plan = Plan::new(view(svc.clone(), vec![running("a", "new")]));
    assert!(drain(&mut plan));
    assert_eq!(stops(&plan), ["a"]);
    assert!(!plan.decisions.contains(&Decision::Inactive));
    let mut plan = Plan::new(view(svc, Vec::new()));
    assert!(drain(&mut plan));
    assert_eq!(plan.view.svc.status, ServiceStatus::Inactive);
    assert_eq!(
        plan.view.svc.deployments[0].status,
        DeploymentStatus::Inactive
    );
}

#[test]
fn a_task_stopping_on_its_own_is_not_pending() {
    // pendingCount (ECS) is the tasks still starting; the scheduler still counts the
    // stopping one against maximumPercent until it is STOPPED.
    let plan = pass(view(
        service(2),
        vec![
            task("a", "new", TaskStatus::Stopping),
            task("b", "new", TaskStatus::Pending),
        ],
    ));
    let d = &plan.view.svc.deployments[0];
    assert_eq!((d.running_count, d.pending_count), (0, 1));
    assert!(
        !plan
            .decisions
            .iter()
            .any(|d| matches!(d, Decision::Start { .. })),
        "{:?}",
        plan.decisions
    );
}
