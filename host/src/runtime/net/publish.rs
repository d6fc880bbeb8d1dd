//! `wasmgate run --publish HOSTPORT:CONTAINERPORT`: a host port on 127.0.0.1 forwarded to
//! a task port, for local use (the task address itself is reachable from the host anyway).

use crate::taskdef::TaskDefinition;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use tokio::net::{TcpListener, TcpStream};

/// One `--publish` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishSpec {
    /// 0 lets the kernel pick a free port (printed once bound).
    pub host_port: u16,
    pub container_port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    #[error("--publish {0:?}: expected HOSTPORT:CONTAINERPORT, e.g. 8080:80")]
    Syntax(String),
    #[error("--publish {0:?}: only TCP ports can be published")]
    Udp(String),
    #[error(
        "--publish {spec}: no container of the task definition maps containerPort {port}/tcp (add it to portMappings)"
    )]
    UnknownPort { spec: PublishSpec, port: u16 },
}

impl FromStr for PublishSpec {
    type Err = PublishError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (ports, proto) = match text.split_once('/') {
            Some((p, proto)) => (p, proto),
            None => (text, "tcp"),
        };
        match proto {
            "tcp" => {}
            "udp" => return Err(PublishError::Udp(text.to_owned())),
            _ => return Err(PublishError::Syntax(text.to_owned())),
        }
        let syntax = || PublishError::Syntax(text.to_owned());
        let (host, container) = ports.split_once(':').ok_or_else(syntax)?;
        let host_port = host.trim().parse::<u16>().map_err(|_| syntax())?;
        let container_port = container
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(syntax)?;
        Ok(Self {
            host_port,
            container_port,
        })
    }
}

impl fmt::Display for PublishSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host_port, self.container_port)
    }
}

impl PublishSpec {
    /// A published port must be one the definition declares, as with `docker run -p`.
    pub fn check(&self, def: &TaskDefinition) -> Result<(), PublishError> {
        let declared = def.container_definitions.iter().any(|c| {
            c.port_mappings.iter().any(|m| {
                m.container_port == u32::from(self.container_port) && m.protocol() == "tcp"
            })
        });
        if declared {
            Ok(())
        } else {
            Err(PublishError::UnknownPort {
                spec: *self,
                port: self.container_port,
            })
        }
    }
}

/// A bound host port, not yet forwarding (the task address is known only once provisioned;
/// connections wait in the backlog until then).
pub struct PublishedPort {
    listener: TcpListener,
    spec: PublishSpec,
}

impl PublishedPort {
    pub async fn bind(spec: PublishSpec) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, spec.host_port)).await?;
        Ok(Self { listener, spec })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn spec(&self) -> PublishSpec {
        self.spec
    }

    /// Forwards every connection to `task:containerPort` until dropped or aborted.
    pub async fn serve(self, task: Ipv4Addr) {
        let target = SocketAddr::from((task, self.spec.container_port));
        loop {
            let (mut client, peer) = match self.listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors and the like: back off instead of spinning.
                    tracing::warn!("--publish {}: accept failed: {e}", self.spec);
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            tokio::spawn(async move {
                let mut upstream = match TcpStream::connect(target).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::debug!("--publish: {peer} → {target}: {e}");
                        return;
                    }
                };
                let _ = client.set_nodelay(true);
                let _ = upstream.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
            });
        }
    }
}
