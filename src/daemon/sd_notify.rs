//! systemd's notify protocol (`Type=notify`): `READY=1` once serving, `WATCHDOG=1` keep-alives
//! at a third of the `WatchdogSec` interval, `STOPPING=1` on the way out. Nothing happens when not run
//! by systemd (`NOTIFY_SOCKET` unset).

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends one notification; errors are logged, never fatal (the service works without them).
pub(super) fn notify(message: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let sent = UnixDatagram::unbound().and_then(|socket| {
        let path = path.to_string_lossy();
        match path.strip_prefix('@') {
            // An abstract socket name.
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
                socket.send_to_addr(message.as_bytes(), &addr)
            }
            None => socket.send_to(message.as_bytes(), path.as_ref()),
        }
    });
    if let Err(e) = sent {
        tracing::warn!(error = %e, message, "Cannot notify systemd.");
    }
}

/// The keep-alive interval, a third of `WATCHDOG_USEC` when systemd asks for keep-alives: its
/// advice is half, and the third leaves room for a late tick on a busy machine.
pub(super) fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec / 3))
}
