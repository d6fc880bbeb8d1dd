//! The shadowing `wasi:sockets/{udp,udp-create-socket}` host: the same budget, bind rule and
//! address rewriting as TCP, per datagram. Received datagrams were checked against the rules
//! by wasmtime-wasi's receive check (`UdpReceive`), which drops the ones refused.
//!
//! WASI 0.2 makes a guest bind a UDP socket before using it, so a socket bound to
//! `0.0.0.0` lives on the task address: it reaches loopback (its task, other tasks, the
//! gateway) but not other networks, whose routes need another source address.

use super::policy::Proto;
use super::view::{TaskNetView, again, sa};
use std::net::IpAddr;
use wasmtime::component::Resource;
use wasmtime_wasi::p2::bindings::sockets::network::{
    ErrorCode, IpAddressFamily, IpSocketAddress, Network,
};
use wasmtime_wasi::p2::bindings::sockets::udp::{
    self, HostIncomingDatagramStream, HostOutgoingDatagramStream, HostUdpSocket, IncomingDatagram,
    IncomingDatagramStream, OutgoingDatagram, OutgoingDatagramStream,
};
use wasmtime_wasi::p2::bindings::sockets::udp_create_socket;
use wasmtime_wasi::p2::{DynPollable, SocketResult, UdpSocket};

impl udp::Host for TaskNetView<'_> {}

impl udp_create_socket::Host for TaskNetView<'_> {
    async fn create_udp_socket(
        &mut self,
        address_family: IpAddressFamily,
    ) -> SocketResult<Resource<UdpSocket>> {
        let descriptor = self.net.take_socket()?;
        let socket =
            udp_create_socket::Host::create_udp_socket(&mut self.inner, address_family).await?;
        self.net.sockets.insert(socket.rep(), descriptor);
        Ok(socket)
    }
}

impl HostUdpSocket for TaskNetView<'_> {
    async fn start_bind(
        &mut self,
        this: Resource<UdpSocket>,
        network: Resource<Network>,
        local_address: IpSocketAddress,
    ) -> SocketResult<()> {
        let rep = again(&this);
        let asked = sa(local_address);
        if self.net.task.explicit_bind(&self.net.name, asked).is_err() {
            return Err(ErrorCode::AccessDenied.into());
        }
        let local = self.net.task.map().bind_to_host(asked);
        HostUdpSocket::start_bind(&mut self.inner, this, network, local.into()).await?;
        if let Ok(bound) = HostUdpSocket::local_address(&mut self.inner, again(&rep)) {
            let bound = sa(bound);
            if bound.ip() == IpAddr::V4(self.net.task.address()) {
                let guard = self.net.task.open_port(Proto::Udp, bound.port());
                self.net.held.insert(rep.rep(), guard);
            }
        }
        Ok(())
    }

    fn finish_bind(&mut self, this: Resource<UdpSocket>) -> SocketResult<()> {
        HostUdpSocket::finish_bind(&mut self.inner, this)
    }

    async fn stream(
        &mut self,
        this: Resource<UdpSocket>,
        remote_address: Option<IpSocketAddress>,
    ) -> SocketResult<(
        Resource<IncomingDatagramStream>,
        Resource<OutgoingDatagramStream>,
    )> {
        let remote = remote_address.map(|a| self.net.task.map().remote_to_host(sa(a)).into());
        HostUdpSocket::stream(&mut self.inner, this, remote).await
    }

    fn local_address(&mut self, this: Resource<UdpSocket>) -> SocketResult<IpSocketAddress> {
        let host = HostUdpSocket::local_address(&mut self.inner, this)?;
        Ok(self.net.task.map().to_guest(sa(host)).into())
    }

    fn remote_address(&mut self, this: Resource<UdpSocket>) -> SocketResult<IpSocketAddress> {
        let host = HostUdpSocket::remote_address(&mut self.inner, this)?;
        Ok(self.net.task.map().to_guest(sa(host)).into())
    }

    fn address_family(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<IpAddressFamily> {
        HostUdpSocket::address_family(&mut self.inner, this)
    }

    fn unicast_hop_limit(&mut self, this: Resource<UdpSocket>) -> SocketResult<u8> {
        HostUdpSocket::unicast_hop_limit(&mut self.inner, this)
    }

    fn set_unicast_hop_limit(&mut self, this: Resource<UdpSocket>, value: u8) -> SocketResult<()> {
        HostUdpSocket::set_unicast_hop_limit(&mut self.inner, this, value)
    }

    fn receive_buffer_size(&mut self, this: Resource<UdpSocket>) -> SocketResult<u64> {
        HostUdpSocket::receive_buffer_size(&mut self.inner, this)
    }

    fn set_receive_buffer_size(
        &mut self,
        this: Resource<UdpSocket>,
        value: u64,
    ) -> SocketResult<()> {
        HostUdpSocket::set_receive_buffer_size(&mut self.inner, this, value)
    }

    fn send_buffer_size(&mut self, this: Resource<UdpSocket>) -> SocketResult<u64> {
        HostUdpSocket::send_buffer_size(&mut self.inner, this)
    }

    fn set_send_buffer_size(&mut self, this: Resource<UdpSocket>, value: u64) -> SocketResult<()> {
        HostUdpSocket::set_send_buffer_size(&mut self.inner, this, value)
    }

    fn subscribe(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<Resource<DynPollable>> {
        HostUdpSocket::subscribe(&mut self.inner, this)
    }

    fn drop(&mut self, this: Resource<UdpSocket>) -> wasmtime::Result<()> {
        self.net.socket_dropped(this.rep());
        HostUdpSocket::drop(&mut self.inner, this)
    }
}

impl HostIncomingDatagramStream for TaskNetView<'_> {
    fn receive(
        &mut self,
        this: Resource<IncomingDatagramStream>,
        max_results: u64,
    ) -> SocketResult<Vec<IncomingDatagram>> {
        let mut datagrams =
            HostIncomingDatagramStream::receive(&mut self.inner, this, max_results)?;
        let counters = self.net.task.counters();
        for d in &mut datagrams {
            d.remote_address = self.net.task.map().to_guest(sa(d.remote_address)).into();
            counters.received(d.data.len());
        }
        Ok(datagrams)
    }

    fn subscribe(
        &mut self,
        this: Resource<IncomingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        HostIncomingDatagramStream::subscribe(&mut self.inner, this)
    }

    fn drop(&mut self, this: Resource<IncomingDatagramStream>) -> wasmtime::Result<()> {
        HostIncomingDatagramStream::drop(&mut self.inner, this)
    }
}

impl HostOutgoingDatagramStream for TaskNetView<'_> {
    fn check_send(&mut self, this: Resource<OutgoingDatagramStream>) -> SocketResult<u64> {
        HostOutgoingDatagramStream::check_send(&mut self.inner, this)
    }

    fn send(
        &mut self,
        this: Resource<OutgoingDatagramStream>,
        mut datagrams: Vec<OutgoingDatagram>,
    ) -> SocketResult<u64> {
        for d in &mut datagrams {
            d.remote_address = d
                .remote_address
                .map(|a| self.net.task.map().remote_to_host(sa(a)).into());
        }
        let sizes: Vec<usize> = datagrams.iter().map(|d| d.data.len()).collect();
        let sent = HostOutgoingDatagramStream::send(&mut self.inner, this, datagrams)?;
        let counters = self.net.task.counters();
        for &n in sizes
            .iter()
            .take(usize::try_from(sent).unwrap_or(usize::MAX))
        {
            counters.sent(n);
        }
        Ok(sent)
    }

    fn subscribe(
        &mut self,
        this: Resource<OutgoingDatagramStream>,
    ) -> wasmtime::Result<Resource<DynPollable>> {
        HostOutgoingDatagramStream::subscribe(&mut self.inner, this)
    }

    async fn drop(&mut self, this: Resource<OutgoingDatagramStream>) -> wasmtime::Result<()> {
        HostOutgoingDatagramStream::drop(&mut self.inner, this).await
    }
}
