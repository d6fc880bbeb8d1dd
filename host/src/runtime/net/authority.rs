//! A task role's `wasmgate:` policies, as the task's network asks them: the request a
//! connect, a listen or an outgoing HTTP request makes ([`NetRequest`]), who answers
//! ([`NetworkAuthority`], implemented over IAM policies in `iam::network`), and the per-task
//! memo of the answers ([`TaskAuthority`]) that keeps a connect as cheap as a rule check.
//!
//! The memo is keyed by everything a decision reads (action, destination, the peer task,
//! the HTTP host), so a hit is the answer evaluation would give; it is dropped whole when
//! the authority's generation moves (its policies changed) and when it holds
//! [`MAX_CACHED`] answers (a scanning guest cannot grow it without bound).

use super::policy::{Denial, Governor, PeerInfo, Proto};
use crate::util::sync::lock;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

/// Answers one task keeps; past this the memo starts over.
pub const MAX_CACHED: usize = 4096;

/// The `wasmgate:` actions a task's network asks about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetAction {
    /// A TCP connect or a UDP send (`wasmgate:NetworkConnect`).
    Connect,
    /// A listen (TCP) or bind (UDP) on a port beyond the task's portMappings
    /// (`wasmgate:NetworkListen`).
    Listen,
    /// An outgoing wasi:http request (`wasmgate:HttpRequest`).
    HttpRequest,
}

impl NetAction {
    pub fn name(self) -> &'static str {
        match self {
            NetAction::Connect => "wasmgate:NetworkConnect",
            NetAction::Listen => "wasmgate:NetworkListen",
            NetAction::HttpRequest => "wasmgate:HttpRequest",
        }
    }
}

/// What one decision is about.
#[derive(Debug, Clone, Copy)]
pub struct NetRequest<'a> {
    pub action: NetAction,
    /// Host-side destination (for [`NetAction::Listen`]: the task's address and the port).
    pub dest: SocketAddr,
    pub proto: Proto,
    /// The task holding `dest`, when one of this process does.
    pub peer: Option<&'a Arc<PeerInfo>>,
    /// [`NetAction::HttpRequest`]: the host as the guest wrote it (lower case).
    pub host: Option<&'a str>,
}

/// An answer: allowed or not, and the statement that decided (for the host's log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetVerdict {
    pub allowed: bool,
    /// `statement 1 (Sid "NoDb") of role r inline policy net`, or why none decided.
    pub by: Arc<str>,
}

/// A task role's policies.
pub trait NetworkAuthority: Send + Sync {
    /// `None`: the policies name no `wasmgate:` action (now), so the host's rules decide.
    fn decide(&self, request: &NetRequest<'_>) -> Option<NetVerdict>;

    /// Moves whenever the policies behind the answers may have changed; answers memoised
    /// under another generation are forgotten. Read on every decision: keep it an atomic.
    fn generation(&self) -> u64 {
        0
    }

    /// Whether the policies name `wasmgate:` actions now (then name lookups are the
    /// task's to make: its connects are what is checked).
    fn governs(&self) -> bool {
        true
    }
}

/// Where tasks' authorities come from (`serve`: the IAM store; `run`: the data
/// directory's IAM state or plain policy documents).
pub trait NetworkAuthorities: Send + Sync {
    /// The authority for a task whose definition names `role_arn` (or none): `None` keeps
    /// the host's rules for it.
    fn for_task(&self, role_arn: Option<&str>) -> Option<Arc<dyn NetworkAuthority>>;
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    action: NetAction,
    dest: SocketAddr,
    proto: Proto,
    peer: Option<PeerKey>,
    host: Option<Box<str>>,
}

/// A peer task by identity: the live-task table's own `Arc`, held by the key so that its
/// address cannot be reused for another task while the answer is kept. Building a key
/// clones no string (a connect must cost what a rule check costs).
#[derive(Debug, Clone)]
struct PeerKey(Arc<PeerInfo>);

impl PartialEq for PeerKey {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for PeerKey {}

impl std::hash::Hash for PeerKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::ptr::hash(Arc::as_ptr(&self.0), state);
    }
}

struct Memo {
    generation: u64,
    /// foldhash, not SipHash: this lookup is most of a connect's decision; the map is
    /// bounded ([`MAX_CACHED`]) and seeded per process.
    answers: HashMap<Key, Option<NetVerdict>, foldhash::fast::RandomState>,
}

/// One task's authority and its memo of answers.
pub struct TaskAuthority {
    authority: Arc<dyn NetworkAuthority>,
    memo: Mutex<Memo>,
}

impl TaskAuthority {
    pub fn new(authority: Arc<dyn NetworkAuthority>) -> Self {
        let generation = authority.generation();
        Self {
            authority,
            memo: Mutex::new(Memo {
                generation,
                answers: HashMap::default(),
            }),
        }
    }

    /// The answer for `request`, from the memo when it holds one for this generation.
    pub fn decide(&self, request: &NetRequest<'_>) -> Option<NetVerdict> {
        let key = Key {
            action: request.action,
            dest: request.dest,
            proto: request.proto,
            peer: request.peer.map(|p| PeerKey(p.clone())),
            host: request.host.map(Into::into),
        };
        let generation = self.authority.generation();
        {
            let mut memo = lock(&self.memo);
            if memo.generation != generation {
                memo.answers.clear();
                memo.generation = generation;
            }
            if let Some(answer) = memo.answers.get(&key) {
                return answer.clone();
            }
        }
        // Evaluated outside the lock: the task's other containers keep deciding meanwhile.
        let answer = self.authority.decide(request);
        let mut memo = lock(&self.memo);
        if memo.generation == generation {
            if memo.answers.len() >= MAX_CACHED {
                memo.answers.clear();
            }
            memo.answers.insert(key, answer.clone());
        }
        answer
    }

    pub fn governs(&self) -> bool {
        self.authority.governs()
    }

    /// How many answers the memo holds (tests, the bench).
    pub fn cached(&self) -> usize {
        lock(&self.memo).answers.len()
    }
}

/// One decision's question to the role, as the rules engine asks it ([`Governor`]).
pub struct RoleGate<'a> {
    pub authority: &'a TaskAuthority,
    pub action: NetAction,
    pub proto: Proto,
    pub host: Option<&'a str>,
}

impl Governor for RoleGate<'_> {
    fn reach(&self, dest: SocketAddr, peer: Option<&Arc<PeerInfo>>) -> Option<Result<(), Denial>> {
        let verdict = self.authority.decide(&NetRequest {
            action: self.action,
            dest,
            proto: self.proto,
            peer,
            host: self.host,
        })?;
        Some(if verdict.allowed {
            Ok(())
        } else {
            Err(Denial::Role {
                action: self.action.name(),
                by: verdict.by,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    /// Allows port 80 only; counts evaluations.
    #[derive(Default)]
    struct Counting {
        calls: AtomicUsize,
        generation: AtomicU64,
    }

    impl NetworkAuthority for Counting {
        fn decide(&self, r: &NetRequest<'_>) -> Option<NetVerdict> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            Some(NetVerdict {
                allowed: r.dest.port() == 80,
                by: "test".into(),
            })
        }
        fn generation(&self) -> u64 {
            self.generation.load(Ordering::SeqCst)
        }
    }

    fn req(port: u16, peer: Option<&Arc<PeerInfo>>) -> NetRequest<'_> {
        NetRequest {
            action: NetAction::Connect,
            dest: SocketAddr::from(([127, 10, 0, 2], port)),
            proto: Proto::Tcp,
            peer,
            host: None,
        }
    }

    #[test]
    fn answers_are_memoised_per_destination_and_peer() {
        let inner = Arc::new(Counting::default());
        let task = TaskAuthority::new(inner.clone());
        assert!(task.decide(&req(80, None)).unwrap().allowed);
        assert!(task.decide(&req(80, None)).unwrap().allowed);
        assert!(!task.decide(&req(81, None)).unwrap().allowed);
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
        // Another task at the same address is another question.
        let peer = Arc::new(PeerInfo {
            task_id: "t".into(),
            family: "db".into(),
            service: Some("db".into()),
            cluster: None,
        });
        task.decide(&req(80, Some(&peer)));
        assert_eq!(inner.calls.load(Ordering::SeqCst), 3);
        assert_eq!(task.cached(), 3);
    }

    #[test]
    fn a_new_generation_forgets_every_answer() {
        let inner = Arc::new(Counting::default());
        let task = TaskAuthority::new(inner.clone());
        task.decide(&req(80, None));
        inner.generation.store(1, Ordering::SeqCst);
        task.decide(&req(80, None));
        assert_eq!(inner.calls.load(Ordering::SeqCst), 2);
        assert_eq!(task.cached(), 1);
    }

    #[test]
    fn the_memo_is_bounded() {
        let inner = Arc::new(Counting::default());
        let task = TaskAuthority::new(inner);
        for port in 0..(MAX_CACHED as u16 + 10) {
            task.decide(&req(port, None));
        }
        assert!(task.cached() <= MAX_CACHED);
    }

    #[test]
    fn a_denial_names_the_action_and_the_statement() {
        let task = TaskAuthority::new(Arc::new(Counting::default()));
        let gate = RoleGate {
            authority: &task,
            action: NetAction::Connect,
            proto: Proto::Tcp,
            host: None,
        };
        let denial = gate
            .reach(SocketAddr::from(([10, 0, 0, 1], 22)), None)
            .unwrap()
            .unwrap_err();
        assert_eq!(
            denial.to_string(),
            "the task role's policies do not allow wasmgate:NetworkConnect: test"
        );
    }
}
