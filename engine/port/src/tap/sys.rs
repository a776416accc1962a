//! The few ioctls the TAP backend needs. This is the only unsafe code outside
//! the DPDK crates: the kernel's TUN/TAP interface has no other entry point.
#![allow(unsafe_code)]

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_MULTI_QUEUE: libc::c_short = 0x0100;
/// Every frame starts with a virtio-net header (see `vnet`).
const IFF_VNET_HDR: libc::c_short = 0x4000;

/// `struct ifreq` with the flags member of its union (40 bytes on Linux).
#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

fn ifreq(name: &str) -> IfReq {
    let mut r = IfReq {
        name: [0; 16],
        flags: 0,
        _pad: [0; 22],
    };
    let n = name.len().min(15);
    r.name[..n].copy_from_slice(&name.as_bytes()[..n]);
    r
}

pub(super) fn tun_set_iff(f: &File, name: &str, multi_queue: bool) -> io::Result<()> {
    let mut req = ifreq(name);
    req.flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | if multi_queue { IFF_MULTI_QUEUE } else { 0 };
    // SAFETY: `f` is an open /dev/net/tun descriptor and `req` is a properly
    // sized, initialised `struct ifreq` that outlives the call.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), TUNSETIFF, &mut req as *mut IfReq) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("TUNSETIFF {name}: {e}")));
    }
    Ok(())
}

fn flags_socket() -> io::Result<File> {
    // SAFETY: plain socket(2) call; the result is checked before use and
    // owned by a File, which closes it.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    use std::os::fd::FromRawFd;
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

fn get_flags(s: &File, name: &str) -> io::Result<libc::c_short> {
    let mut req = ifreq(name);
    // SAFETY: `req` is a valid `struct ifreq` for SIOCGIFFLAGS and outlives the call.
    let rc = unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req as *mut IfReq) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(req.flags)
}

pub(super) fn set_up(name: &str) -> io::Result<()> {
    let s = flags_socket()?;
    let mut req = ifreq(name);
    req.flags = get_flags(&s, name)? | libc::IFF_UP as libc::c_short;
    // SAFETY: `req` is a valid `struct ifreq` for SIOCSIFFLAGS and outlives the call.
    let rc = unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &mut req as *mut IfReq) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("set {name} up: {e}")));
    }
    Ok(())
}

pub(super) fn is_up(name: &str) -> io::Result<bool> {
    let s = flags_socket()?;
    let f = get_flags(&s, name)?;
    let want = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
    Ok(f & want == want)
}
