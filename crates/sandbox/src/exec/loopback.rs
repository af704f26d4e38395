//! Bringing up `lo` in a fresh network namespace, over rtnetlink.
//!
//! Written out by hand (one 32-byte request, one ack) rather than with an ioctl, which
//! would need `unsafe`, or a netlink crate, which would be a large dependency for this.

use std::os::fd::AsRawFd;

use nix::sys::socket::{AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType, recv, sendto, socket};

const RTM_NEWLINK: u16 = 16;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const NLMSG_ERROR: u16 = 2;
const IFF_UP: u32 = 1;
/// The loopback device is always interface 1 in a new network namespace.
const LOOPBACK_INDEX: i32 = 1;

/// Sets `IFF_UP` on the loopback device of the current network namespace.
pub(super) fn bring_up() -> Result<(), String> {
    let socket = socket(AddressFamily::Netlink, SockType::Raw, SockFlag::SOCK_CLOEXEC, SockProtocol::NetlinkRoute)
        .map_err(|e| format!("netlink socket: {e}"))?;

    let mut request = Vec::with_capacity(32);
    // struct nlmsghdr
    request.extend_from_slice(&32u32.to_ne_bytes());
    request.extend_from_slice(&RTM_NEWLINK.to_ne_bytes());
    request.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    request.extend_from_slice(&1u32.to_ne_bytes()); // sequence
    request.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel assigns it
    // struct ifinfomsg
    request.extend_from_slice(&[0, 0]); // family AF_UNSPEC, padding
    request.extend_from_slice(&0u16.to_ne_bytes()); // device type
    request.extend_from_slice(&LOOPBACK_INDEX.to_ne_bytes());
    request.extend_from_slice(&IFF_UP.to_ne_bytes()); // flags
    request.extend_from_slice(&IFF_UP.to_ne_bytes()); // change mask

    sendto(socket.as_raw_fd(), &request, &NetlinkAddr::new(0, 0), MsgFlags::empty())
        .map_err(|e| format!("netlink send: {e}"))?;
    let mut answer = [0u8; 1024];
    let length =
        recv(socket.as_raw_fd(), &mut answer, MsgFlags::empty()).map_err(|e| format!("netlink receive: {e}"))?;
    let answer = answer.get(..length).ok_or("netlink answer too long")?;
    let field = |at: usize, width: usize| answer.get(at..at + width).ok_or("short netlink answer");
    let kind = u16::from_ne_bytes(field(4, 2)?.try_into().map_err(|_| "bad netlink header")?);
    if kind != NLMSG_ERROR {
        return Err(format!("unexpected netlink answer type {kind}"));
    }
    let code = i32::from_ne_bytes(field(16, 4)?.try_into().map_err(|_| "bad netlink ack")?);
    if code == 0 { Ok(()) } else { Err(format!("setting lo up: {}", nix::errno::Errno::from_raw(-code).desc())) }
}
