import CSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// Checks on sockets passed in by systemd socket activation (`itvd.socket`, or `systemd-socket-activate -l
/// PATH`). `LISTEN_PID`/`LISTEN_FDS` themselves are read in one place only: the control server
/// (`ITVControlServer`'s `ListeningSocket.fromActivation`), which is the one that takes the socket.
public enum ListenFDs {
    /// Whether `fd` is a listening `AF_UNIX` stream socket (bound to `path`, when given).
    public static func isListeningUnixStreamSocket(_ fd: Int32, path: String? = nil) -> Bool {
        let type = Int32(SOCK_STREAM.rawValue)
        guard let path else { return sd_is_socket_unix(fd, type, 1, nil, 0) > 0 }
        return sd_is_socket_unix(fd, type, 1, path, path.utf8.count) > 0
    }
}
