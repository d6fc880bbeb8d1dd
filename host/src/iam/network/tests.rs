use super::*;
use crate::iam::store::{Holder, NewRole};
use crate::runtime::net::{PeerInfo, TaskAuthority};
use crate::state::memory::MemStore;
use std::net::SocketAddr;

const ACCOUNT: &str = "000000000000";
const ROLE: &str = "arn:aws:iam::000000000000:role/web";

const NET: &str = r#"{"Version": "2012-10-17", "Statement": [
  {"Sid": "NoDb", "Effect": "Deny", "Action": "wasmgate:NetworkConnect", "Resource": "*",
   "Condition": {"StringEquals": {"wasmgate:DestinationService": "db"}}},
  {"Sid": "Pool", "Effect": "Allow", "Action": "wasmgate:NetworkConnect",
   "Resource": "arn:wasmgate:network:*:*:destination/*",
   "Condition": {"IpAddress": {"wasmgate:DestinationCidr": "127.10.0.0/16"},
                 "NumericLessThan": {"wasmgate:DestinationPort": "10000"}}},
  {"Sid": "Api", "Effect": "Allow", "Action": "wasmgate:HttpRequest", "Resource": "*",
   "Condition": {"StringLike": {"wasmgate:DestinationHost": "*.example.com"}}},
  {"Effect": "Allow", "Action": "wasmgate:NetworkListen",
   "Resource": "arn:wasmgate:network:us-east-1:000000000000:listener/9*"}
]}"#;

fn policy(text: &str) -> RoleNetworkPolicy {
    RoleNetworkPolicy::from_documents(ROLE, "us-east-1", ACCOUNT, &[("net".into(), text.into())])
        .unwrap()
        .unwrap()
}

fn connect<'a>(to: &str, peer: Option<&'a Arc<PeerInfo>>) -> NetRequest<'a> {
    NetRequest {
        action: NetAction::Connect,
        dest: to.parse().unwrap(),
        proto: Proto::Tcp,
        peer,
        host: None,
    }
}

const CLUSTER: &str = "arn:aws:ecs:us-east-1:000000000000:cluster/default";

fn peer(family: &str, service: Option<&str>) -> Arc<PeerInfo> {
    peer_in(CLUSTER, family, service)
}

fn peer_in(cluster: &str, family: &str, service: Option<&str>) -> Arc<PeerInfo> {
    Arc::new(PeerInfo {
        task_id: "t".into(),
        family: family.into(),
        service: service.map(Into::into),
        cluster: Some(cluster.into()),
    })
}

#[test]
fn the_request_context_names_resource_and_keys() {
    let p = policy(NET);
    let db = peer("db", Some("db"));
    let ctx = p.context(&connect("127.10.0.5:5432", Some(&db)));
    assert_eq!(ctx.action, "wasmgate:NetworkConnect");
    assert_eq!(
        ctx.resource,
        "arn:wasmgate:network:us-east-1:000000000000:destination/127.10.0.5:5432"
    );
    let key = |k: &str| ctx.keys.get(k).map(|v| v[0].clone());
    assert_eq!(
        key("wasmgate:DestinationCidr").as_deref(),
        Some("127.10.0.5")
    );
    assert_eq!(key("wasmgate:DestinationPort").as_deref(), Some("5432"));
    assert_eq!(key("wasmgate:DestinationFamily").as_deref(), Some("db"));
    assert_eq!(key("wasmgate:DestinationService").as_deref(), Some("db"));
    assert_eq!(key("wasmgate:DestinationCluster").as_deref(), Some(CLUSTER));
    assert_eq!(key("aws:PrincipalArn").as_deref(), Some(ROLE));
    assert!(key("wasmgate:DestinationHost").is_none());

    let listen = NetRequest {
        action: NetAction::Listen,
        dest: "127.10.0.2:9000".parse().unwrap(),
        proto: Proto::Udp,
        peer: None,
        host: None,
    };
    let ctx = p.context(&listen);
    assert_eq!(
        ctx.resource,
        "arn:wasmgate:network:us-east-1:000000000000:listener/9000"
    );
    assert_eq!(ctx.keys.get("wasmgate:Protocol").unwrap(), ["udp"]);
}

#[test]
fn deny_by_service_beats_the_allow_and_names_its_sid() {
    let p = policy(NET);
    let db = peer("db", Some("db"));
    let v = p.evaluate(&connect("127.10.0.5:5432", Some(&db)));
    assert!(!v.allowed);
    assert!(v.by.contains(r#"Sid "NoDb""#), "{}", v.by);
    assert!(v.by.contains("explicit deny"), "{}", v.by);
    // The same family outside the service, and a task of no service: allowed.
    let web = peer("web", None);
    assert!(p.evaluate(&connect("127.10.0.6:8080", Some(&web))).allowed);
    // Outside the CIDR or above the port bound: implicitly denied.
    let v = p.evaluate(&connect("10.0.0.1:80", None));
    assert!(!v.allowed);
    assert!(v.by.contains("implicit deny"), "{}", v.by);
    assert!(!p.evaluate(&connect("127.10.0.6:10000", None)).allowed);
}

/// A service's name is unique only in its cluster: an Allow on the service pairs it with
/// the cluster, and a task without a service (a RunTask task, whatever its `group`: the
/// control plane gives it none) matches neither.
#[test]
fn an_allow_on_a_service_names_its_cluster_too() {
    let p = policy(
        r#"{"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": "wasmgate:NetworkConnect", "Resource": "*",
       "Condition": {"StringEquals": {"wasmgate:DestinationService": "db"},
                     "ArnEquals": {"wasmgate:DestinationCluster":
                                   "arn:aws:ecs:us-east-1:000000000000:cluster/default"}}}]}"#,
    );
    let to = |peer: &Arc<PeerInfo>| p.evaluate(&connect("127.10.0.5:5432", Some(peer))).allowed;
    assert!(to(&peer("db", Some("db"))));
    let other = "arn:aws:ecs:us-east-1:000000000000:cluster/other";
    assert!(!to(&peer_in(other, "db", Some("db"))));
    assert!(!to(&peer("db", None)));
    assert!(!p.evaluate(&connect("127.10.0.5:5432", None)).allowed);
}

#[test]
fn http_requests_match_the_host_the_guest_named() {
    let p = policy(NET);
    let http = |host| NetRequest {
        action: NetAction::HttpRequest,
        dest: "93.184.216.34:443".parse().unwrap(),
        proto: Proto::Tcp,
        peer: None,
        host: Some(host),
    };
    assert!(p.evaluate(&http("api.example.com")).allowed);
    assert!(!p.evaluate(&http("example.org")).allowed);
    // An HttpRequest statement says nothing of NetworkConnect.
    assert!(!p.evaluate(&connect("93.184.216.34:443", None)).allowed);
}

#[test]
fn listen_beyond_mappings_by_the_listener_resource() {
    let p = policy(NET);
    let listen = |port: u16| NetRequest {
        action: NetAction::Listen,
        dest: SocketAddr::from(([127, 10, 0, 2], port)),
        proto: Proto::Tcp,
        peer: None,
        host: None,
    };
    assert!(p.evaluate(&listen(9000)).allowed);
    assert!(!p.evaluate(&listen(8000)).allowed);
}

#[test]
fn policies_without_wasmgate_actions_govern_nothing() {
    let admin = r#"{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}"#;
    let none = RoleNetworkPolicy::from_documents(
        ROLE,
        "us-east-1",
        ACCOUNT,
        &[("a".into(), admin.into())],
    )
    .unwrap();
    assert!(none.is_none());
    let bad = RoleNetworkPolicy::from_documents(
        ROLE,
        "us-east-1",
        ACCOUNT,
        &[("bad".into(), "{".into())],
    );
    assert_eq!(bad.err().unwrap().name, "bad");
}

fn store_with_role() -> Arc<IamStore> {
    let store =
        Arc::new(IamStore::new(Arc::new(MemStore::default()), ACCOUNT, "us-east-1").unwrap());
    store
        .create_role(NewRole {
            name: "web".into(),
            path: None,
            trust_policy: r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}}"#.into(),
            description: None,
            max_session_duration: None,
            tags: Vec::new(),
        })
        .unwrap();
    store
}

#[test]
fn store_roles_follow_policy_changes() {
    let store = store_with_role();
    let authorities = IamNetworkAuthorities::new(store.clone());
    assert!(authorities.for_task(None).is_none());
    // A role of another account holds no policy here.
    assert!(
        authorities
            .for_task(Some("arn:aws:iam::111111111111:role/web"))
            .is_none()
    );
    let authority = authorities.for_task(Some(ROLE)).unwrap();
    let task = TaskAuthority::new(authority);
    let to = connect("127.10.0.6:8080", None);
    // No wasmgate: policy yet: the host's rules decide.
    assert!(!task.governs());
    assert_eq!(task.decide(&to), None);

    store
        .put_inline_policy(Holder::Role, "web", "net", NET)
        .unwrap();
    assert!(task.governs());
    assert!(task.decide(&to).unwrap().allowed);

    let deny_all = r#"{"Version":"2012-10-17","Statement":{"Sid":"Off","Effect":"Deny","Action":"wasmgate:*","Resource":"*"}}"#;
    store
        .put_inline_policy(Holder::Role, "web", "off", deny_all)
        .unwrap();
    let v = task.decide(&to).unwrap();
    assert!(!v.allowed);
    assert!(v.by.contains("role web inline policy off"), "{}", v.by);
}
