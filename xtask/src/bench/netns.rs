//! A network namespace of the bench's own: a loopback interface and nothing
//! else, so that no traffic leaves the machine, and TCP counters that count
//! the bench's connections alone. `PassiveOpens` in `/proc/net/snmp` then
//! counts every connection the emulator accepted, including those closed
//! by a reset (which TLS teardown makes common, and which leave no trace in
//! the socket tables).

use std::io;

/// Moves this process into a new network namespace and brings its loopback
/// interface up. Must run before the process starts a thread: threads keep
/// the namespace of the thread that started them. Needs CAP_SYS_ADMIN.
pub fn isolate() -> io::Result<()> {
    // SAFETY: plain system calls on a zeroed ifreq naming "lo" and a socket
    // this function opens and closes.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNET) != 0 {
            return Err(io::Error::last_os_error());
        }
        let socket = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if socket < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut request: libc::ifreq = std::mem::zeroed();
        for (slot, byte) in request.ifr_name.iter_mut().zip(b"lo\0") {
            *slot = *byte as libc::c_char;
        }
        let mut up = libc::ioctl(socket, libc::SIOCGIFFLAGS, &mut request) == 0;
        if up {
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            up = libc::ioctl(socket, libc::SIOCSIFFLAGS, &request) == 0;
        }
        let error = io::Error::last_os_error();
        libc::close(socket);
        if up { Ok(()) } else { Err(error) }
    }
}

/// TCP connections accepted in this network namespace so far.
pub fn accepted_connections() -> Option<u64> {
    passive_opens(&std::fs::read_to_string("/proc/net/snmp").ok()?)
}

/// `PassiveOpens` from the two `Tcp:` lines of `/proc/net/snmp` (names, then values).
fn passive_opens(snmp: &str) -> Option<u64> {
    let mut tcp = snmp.lines().filter(|line| line.starts_with("Tcp:"));
    let (names, values) = (tcp.next()?, tcp.next()?);
    let column = names
        .split_whitespace()
        .position(|name| name == "PassiveOpens")?;
    values.split_whitespace().nth(column)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passive_opens_is_read_by_its_column_name() {
        let snmp = "\
Ip: Forwarding DefaultTTL
Ip: 1 64
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails
Tcp: 1 200 120000 -1 17157 16948 119
Udp: InDatagrams
Udp: 0
";
        assert_eq!(passive_opens(snmp), Some(16948));
        assert_eq!(passive_opens("Ip: Forwarding\nIp: 1\n"), None);
    }
}
