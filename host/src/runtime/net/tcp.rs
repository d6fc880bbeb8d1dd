//! The shadowing `wasi:sockets/{tcp,tcp-create-socket}` host: counts every socket against
//! the container's budget (created or accepted), refuses IPv6 binds, rewrites addresses
//! between the guest's view and the host's, records listening ports, then delegates to
//! wasmtime-wasi's implementation.

use super::counters::count_streams;
use super::policy::Proto;
use super::view::{TaskNetView, again, sa};
use futures::FutureExt;
use std::net::{IpAddr, SocketAddr};
use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Network,
};
use wasmtime_wasi::p2::bindings::sockets::tcp::{self, HostTcpSocket, ShutdownType};
use wasmtime_wasi::p2::bindings::sockets::tcp_create_socket;
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, SocketResult, TcpSocket};

impl tcp::Host for TaskNetView<'_> {}

impl tcp_create_socket::Host for TaskNetView<'_> {
    fn create_tcp_socket(
        &mut self,
        address_family: IpAddressFamily,
    ) -> SocketResult<Resource<TcpSocket>> {
        let descriptor = self.net.take_socket()?;
        let socket = tcp_create_socket::Host::create_tcp_socket(&mut self.inner, address_family)?;
        self.net.sockets.insert(socket.rep(), descriptor);
        Ok(socket)
    }
}

impl TaskNetView<'_> {
    /// Binds an unbound socket to `(task address, 0)` before it connects over loopback:
    /// left to the kernel, the source would be 127.0.0.1, which peers could not tell from
    /// the host and replies could not reach.
    fn bind_source(
        &mut self,
        this: &Resource<TcpSocket>,
        network: &Resource<Network>,
    ) -> SocketResult<()> {
        if HostTcpSocket::local_address(&mut self.inner, again(this)).is_ok() {
            return Ok(()); // bound by the guest already
        }
        let local = SocketAddr::from((self.net.task.address(), 0));
        // The address check resolves at once, so the bind completes in one poll.
        HostTcpSocket::start_bind(&mut self.inner, again(this), again(network), local.into())
            .now_or_never()
            .unwrap_or_else(|| Err(ErrorCode::WouldBlock.into()))?;
        HostTcpSocket::finish_bind(&mut self.inner, again(this))
    }
}

impl HostTcpSocket for TaskNetView<'_> {
    async fn start_bind(
        &mut self,
        this: Resource<TcpSocket>,
        network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        let asked = sa(local_address);
        if self.net.task.explicit_bind(&self.net.name, asked).is_err() {
            return Err(ErrorCode::AccessDenied.into());
        }
        let local = self.net.task.map().bind_to_host(asked);
        self.net.task.before_tcp_use(local);
        HostTcpSocket::start_bind(&mut self.inner, this, network, local.into()).await
    }

    fn finish_bind(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        HostTcpSocket::finish_bind(&mut self.inner, this)
    }

    fn start_connect(
        &mut self,
        this: Resource<TcpSocket>,
        network: Resource<Network>,
        remote_address: IpSocketAddress,
    ) -> SocketResult<()> {
        let remote = self.net.task.map().remote_to_host(sa(remote_address));
        if matches!(remote.ip(), IpAddr::V4(ip) if ip.is_loopback()) {
            self.bind_source(&this, &network)?;
            // Opens an on-demand port (the task's endpoints) before the check below.
            self.net.task.before_tcp_use(remote);
        }
        if self.net.task.own_port_closed(remote) {
            return Err(ErrorCode::ConnectionRefused.into());
        }
        HostTcpSocket::start_connect(&mut self.inner, this, network, remote.into())
    }

    fn finish_connect(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> SocketResult<(Resource<DynInputStream>, Resource<DynOutputStream>)> {
        let socket = again(&this);
        let (input, output) = HostTcpSocket::finish_connect(&mut self.inner, this)?;
        let counters = self.net.task.counters().clone();
        Ok(count_streams(
            self.inner.table,
            &socket,
            input,
            output,
            &counters,
        )?)
    }

    async fn start_listen(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        let rep = again(&this);
        HostTcpSocket::start_listen(&mut self.inner, this).await?;
        if let Ok(local) = HostTcpSocket::local_address(&mut self.inner, again(&rep)) {
            let local = sa(local);
            if local.ip() == IpAddr::V4(self.net.task.address()) {
                let guard = self.net.task.open_port(Proto::Tcp, local.port());
                self.net.held.insert(rep.rep(), guard);
                let exact = crate::util::inproc::listening(local);
                self.net.listening.insert(rep.rep(), exact);
            }
        }
        Ok(())
    }

    fn finish_listen(&mut self, this: Resource<TcpSocket>) -> SocketResult<()> {
        HostTcpSocket::finish_listen(&mut self.inner, this)
    }

    fn accept(
        &mut self,
        this: Resource<TcpSocket>,
    ) -> SocketResult<(
        Resource<TcpSocket>,
        Resource<DynInputStream>,
        Resource<DynOutputStream>,
    )> {
        // Refused before accepting: the connection waits in the backlog, not in the host.
        let descriptor = self.net.take_socket()?;
        let (socket, input, output) = HostTcpSocket::accept(&mut self.inner, this)?;
        self.net.sockets.insert(socket.rep(), descriptor);
        let counters = self.net.task.counters().clone();
        let (input, output) = count_streams(self.inner.table, &socket, input, output, &counters)?;
        Ok((socket, input, output))
    }

    fn local_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        let host = HostTcpSocket::local_address(&mut self.inner, this)?;
        Ok(self.net.task.map().to_guest(sa(host)).into())
    }

    fn remote_address(&mut self, this: Resource<TcpSocket>) -> SocketResult<IpSocketAddress> {
        let host = HostTcpSocket::remote_address(&mut self.inner, this)?;
        Ok(self.net.task.map().to_guest(sa(host)).into())
    }

    fn is_listening(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<bool> {
        HostTcpSocket::is_listening(&mut self.inner, this)
    }

    fn address_family(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<IpAddressFamily> {
        HostTcpSocket::address_family(&mut self.inner, this)
    }

    fn set_listen_backlog_size(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostTcpSocket::set_listen_backlog_size(&mut self.inner, this, value)
    }

    fn keep_alive_enabled(&mut self, this: Resource<TcpSocket>) -> SocketResult<bool> {
        HostTcpSocket::keep_alive_enabled(&mut self.inner, this)
    }

    fn set_keep_alive_enabled(
        &mut self,
        this: Resource<TcpSocket>,
        value: bool,
    ) -> SocketResult<()> {
        HostTcpSocket::set_keep_alive_enabled(&mut self.inner, this, value)
    }

    fn keep_alive_idle_time(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        HostTcpSocket::keep_alive_idle_time(&mut self.inner, this)
    }

    fn set_keep_alive_idle_time(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostTcpSocket::set_keep_alive_idle_time(&mut self.inner, this, value)
    }

    fn keep_alive_interval(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        HostTcpSocket::keep_alive_interval(&mut self.inner, this)
    }

    fn set_keep_alive_interval(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostTcpSocket::set_keep_alive_interval(&mut self.inner, this, value)
    }

    fn keep_alive_count(&mut self, this: Resource<TcpSocket>) -> SocketResult<u32> {
        HostTcpSocket::keep_alive_count(&mut self.inner, this)
    }

    fn set_keep_alive_count(&mut self, this: Resource<TcpSocket>, value: u32) -> SocketResult<()> {
        HostTcpSocket::set_keep_alive_count(&mut self.inner, this, value)
    }

    fn hop_limit(&mut self, this: Resource<TcpSocket>) -> SocketResult<u8> {
        HostTcpSocket::hop_limit(&mut self.inner, this)
    }

    fn set_hop_limit(&mut self, this: Resource<TcpSocket>, value: u8) -> SocketResult<()> {
        HostTcpSocket::set_hop_limit(&mut self.inner, this, value)
    }

    fn receive_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        HostTcpSocket::receive_buffer_size(&mut self.inner, this)
    }

    fn set_receive_buffer_size(
        &mut self,
        this: Resource<TcpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostTcpSocket::set_receive_buffer_size(&mut self.inner, this, value)
    }

    fn send_buffer_size(&mut self, this: Resource<TcpSocket>) -> SocketResult<u64> {
        HostTcpSocket::send_buffer_size(&mut self.inner, this)
    }

    fn set_send_buffer_size(&mut self, this: Resource<TcpSocket>, value: u64) -> SocketResult<()> {
        HostTcpSocket::set_send_buffer_size(&mut self.inner, this, value)
    }

    fn subscribe(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        HostTcpSocket::subscribe(&mut self.inner, this)
    }

    fn shutdown(
        &mut self,
        this: Resource<TcpSocket>,
        shutdown_type: ShutdownType,
    ) -> SocketResult<()> {
        HostTcpSocket::shutdown(&mut self.inner, this, shutdown_type)
    }

    fn drop(&mut self, this: Resource<TcpSocket>) -> wasmtime::Result<()> {
        self.net.socket_dropped(this.rep());
        HostTcpSocket::drop(&mut self.inner, this)
    }
}
