import CSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// Something systemd handed over that cannot be used.
public struct SystemdError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Stable kinds.
    public enum Kind: String, Sendable {
        case listenFDsInvalid = "listen_fds_invalid"
        case notAListeningSocket = "not_a_listening_socket"
    }

    public var kind: Kind
    public var message: String

    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Sockets passed in by systemd socket activation (`itvd.socket`, or `systemd-socket-activate -l PATH`).
public enum ListenFDs {
    /// The first passed descriptor (`SD_LISTEN_FDS_START`).
    public static let firstDescriptor: Int32 = 3

    /// The descriptors passed to this process (`LISTEN_FDS` with `LISTEN_PID` naming this process), marked
    /// close-on-exec. With `unsetEnvironment` the variables are removed so that children do not see them.
    public static func inherited(unsetEnvironment: Bool = true) throws(SystemdError) -> [Int32] {
        let count = sd_listen_fds(unsetEnvironment ? 1 : 0)
        guard count >= 0 else {
            let reason = String(cString: strerror(-count))
            throw SystemdError(
                kind: .listenFDsInvalid,
                message: "cannot use the sockets systemd passed: LISTEN_FDS is invalid (\(reason))"
            )
        }
        return (0..<count).map { firstDescriptor + $0 }
    }

    /// Whether `fd` is a listening `AF_UNIX` stream socket (bound to `path`, when given).
    public static func isListeningUnixStreamSocket(_ fd: Int32, path: String? = nil) -> Bool {
        let type = Int32(SOCK_STREAM.rawValue)
        guard let path else { return sd_is_socket_unix(fd, type, 1, nil, 0) > 0 }
        return sd_is_socket_unix(fd, type, 1, path, path.utf8.count) > 0
    }

    /// The control socket passed by systemd, or nil when none was passed (then itvd binds its own).
    /// Throws when sockets were passed but none of them is a listening AF_UNIX stream socket.
    public static func controlSocket(unsetEnvironment: Bool = true) throws(SystemdError) -> Int32? {
        let fds = try inherited(unsetEnvironment: unsetEnvironment)
        if fds.isEmpty { return nil }
        guard let fd = fds.first(where: { isListeningUnixStreamSocket($0) }) else {
            throw SystemdError(
                kind: .notAListeningSocket,
                message: "cannot use the \(fds.count) socket(s) systemd passed: none is a listening AF_UNIX stream "
                    + "socket (check ListenStream= in itvd.socket)"
            )
        }
        return fd
    }
}
