import CLibSSH2
import Foundation
import ITVEngine

extension SSHConnection {
    /// TCP connect, handshake, host key check against known_hosts, public key authentication, all within
    /// the connect timeout. The host key is checked before any authentication is attempted.
    func connect(knownHosts: KnownHosts) -> SSHFailure? {
        let deadline = ContinuousClock.now + configuration.connectTimeout
        let file = configuration.knownHostsFile
        let lookup = knownHosts.lookup(address: host.address, port: host.port)
        let hostField = KnownHosts.hostField(address: host.address, port: host.port)
        if !lookup.unsupported.isEmpty {
            return SSHFailure(
                .hostkeyUnknown,
                "known_hosts \(file) names \(hostField) in \(lookup.unsupported.joined(separator: ", ")), which itv "
                    + "does not support (markers, wildcards, negations); pin the host with plain or hashed lines only")
        }
        if let failure = openSocket(deadline: deadline) { return failure }
        guard let session = itv_session_init() else {
            return SSHFailure(.protocolError, "cannot create an SSH session for \(endpoint)")
        }
        self.session = session
        libssh2_session_set_blocking(session, 0)
        let methods = lookup.hostKeyMethods
        if !methods.isEmpty {
            _ = libssh2_session_method_pref(session, LIBSSH2_METHOD_HOSTKEY, methods.joined(separator: ","))
        }
        guard let rc = retry(until: deadline, { libssh2_session_handshake(session, fd) }) else {
            drop(reason: "handshake timeout")
            return SSHFailure(
                .timeout,
                "\(endpoint) accepted TCP but did not complete the SSH handshake within "
                    + configuration.connectTimeout.secondsDescription)
        }
        guard rc == 0 else {
            let why = lastError
            drop(reason: "handshake failed")
            let hint = methods.isEmpty ? "" : " (known_hosts pins \(methods.joined(separator: ", ")) for it)"
            return SSHFailure(.protocolError, "SSH handshake with \(endpoint) failed\(hint): \(why)")
        }
        if let failure = checkHostKey(session: session, lookup: lookup, hostField: hostField) {
            drop(reason: "host key refused")
            return failure
        }
        if let failure = authenticate(session: session, deadline: deadline) {
            drop(reason: "authentication failed")
            return failure
        }
        return nil
    }

    private func openSocket(deadline: ContinuousClock.Instant) -> SSHFailure? {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let gai = getaddrinfo(host.address, String(host.port), &hints, &list)
        guard gai == 0, let first = list else {
            return SSHFailure(.connectFailed, "cannot resolve \(host.address): \(String(cString: gai_strerror(gai)))")
        }
        defer { freeaddrinfo(list) }
        var lastFailure = SSHFailure(.connectFailed, "no address for \(host.address)")
        var current: UnsafeMutablePointer<addrinfo>? = first
        while let info = current {
            current = info.pointee.ai_next
            let sock = socket(
                info.pointee.ai_family,
                Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
                    | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard sock >= 0 else { continue }
            var one: Int32 = 1
            setsockopt(sock, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.connect(sock, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 {
                fd = sock
                return nil
            }
            guard errno == EINPROGRESS else {
                lastFailure = SSHFailure(
                    .connectFailed, "cannot connect to \(endpoint): \(String(cString: strerror(errno)))")
                Glibc.close(sock)
                continue
            }
            var pfd = pollfd(fd: sock, events: Int16(POLLOUT), revents: 0)
            var ready: Int32 = 0
            repeat {
                ready = poll(&pfd, 1, (deadline - .now).pollMilliseconds)
            } while ready < 0 && errno == EINTR && ContinuousClock.now < deadline
            if ready <= 0 {
                Glibc.close(sock)
                return SSHFailure(
                    .timeout,
                    "TCP connect to \(endpoint) did not complete within "
                        + configuration.connectTimeout.secondsDescription)
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(sock, SOL_SOCKET, SO_ERROR, &soError, &length)
            if soError == 0 {
                fd = sock
                return nil
            }
            lastFailure = SSHFailure(
                .connectFailed, "cannot connect to \(endpoint): \(String(cString: strerror(soError)))")
            Glibc.close(sock)
        }
        return lastFailure
    }

    private func checkHostKey(session: OpaquePointer, lookup: KnownHostsLookup, hostField: String) -> SSHFailure? {
        var keyLength = 0
        var keyType: Int32 = 0
        guard let key = libssh2_session_hostkey(session, &keyLength, &keyType), keyLength > 0,
            let hash = libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256)
        else { return SSHFailure(.protocolError, "\(endpoint) presented no host key") }
        let presented = KnownHosts.fingerprint(sha256: (0..<32).map { UInt8(bitPattern: hash[$0]) })
        let file = configuration.knownHostsFile
        guard let store = libssh2_knownhost_init(session) else {
            return SSHFailure(.protocolError, "cannot allocate a known_hosts store")
        }
        defer { libssh2_knownhost_free(store) }
        for entry in lookup.entries {
            _ = libssh2_knownhost_readline(store, entry.line, entry.line.utf8.count, LIBSSH2_KNOWNHOST_FILE_OPENSSH)
        }
        // `check`, not `checkp`: the name is already `[address]:port` for non-22 ports (docs/TECH-NOTES.md 3).
        let result = libssh2_knownhost_check(store, hostField, key, keyLength, itv_knownhost_typemask(keyType), nil)
        switch result {
        case LIBSSH2_KNOWNHOST_CHECK_MATCH:
            return nil
        case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
            let type = Self.keyTypeName(keyType)
            let expected = lookup.entries.first { $0.keyType == type } ?? lookup.entries.first
            return SSHFailure(
                outcome: .hostkeyMismatch(expected: expected?.fingerprint ?? "(none)", presented: presented))
        case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
            let pinned = lookup.entries.isEmpty ? "" : " (known_hosts pins only other key types for it)"
            return SSHFailure(
                .hostkeyUnknown,
                "host key \(presented) (\(Self.keyTypeName(keyType))) of \(hostField) is not in known_hosts "
                    + "\(file)\(pinned); refusing before authentication")
        default:
            return SSHFailure(.protocolError, "cannot check the host key of \(hostField): \(lastError)")
        }
    }

    static func keyTypeName(_ type: Int32) -> String {
        switch type {
        case LIBSSH2_HOSTKEY_TYPE_ED25519: return "ssh-ed25519"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return "ecdsa-sha2-nistp256"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return "ecdsa-sha2-nistp384"
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return "ecdsa-sha2-nistp521"
        case LIBSSH2_HOSTKEY_TYPE_RSA: return "ssh-rsa"
        case LIBSSH2_HOSTKEY_TYPE_DSS: return "ssh-dss"
        default: return "unknown"
        }
    }

    private func authenticate(session: OpaquePointer, deadline: ContinuousClock.Instant) -> SSHFailure? {
        let user = host.user
        if let identity = configuration.identityFile {
            guard let rc = retry(until: deadline, { itv_userauth_publickey_fromfile(session, user, identity) }) else {
                return SSHFailure(.timeout, "authentication on \(endpoint) did not finish within the connect timeout")
            }
            if rc == 0 { return nil }
            if rc == LIBSSH2_ERROR_FILE {
                return SSHFailure(.authFailed, "cannot use identity file \(identity): \(lastError)")
            }
            return SSHFailure(.authFailed, "\(endpoint) refused key \(identity) for user \(user): \(lastError)")
        }
        return authenticateWithAgent(session: session, deadline: deadline)
    }

    private func authenticateWithAgent(session: OpaquePointer, deadline: ContinuousClock.Instant) -> SSHFailure? {
        let user = host.user
        guard let socketPath = configuration.agentSocket ?? ProcessInfo.processInfo.environment["SSH_AUTH_SOCK"],
            !socketPath.isEmpty
        else {
            return SSHFailure(.authFailed, "no identity file configured and SSH_AUTH_SOCK is not set")
        }
        guard let agent = libssh2_agent_init(session) else {
            return SSHFailure(.authFailed, "cannot create an ssh-agent client")
        }
        defer {
            libssh2_agent_disconnect(agent)
            libssh2_agent_free(agent)
        }
        libssh2_agent_set_identity_path(agent, socketPath)
        guard libssh2_agent_connect(agent) == 0, libssh2_agent_list_identities(agent) == 0 else {
            return SSHFailure(.authFailed, "cannot use ssh-agent at \(socketPath): \(lastError)")
        }
        var previous: UnsafeMutablePointer<libssh2_agent_publickey>?
        var tried = 0
        while true {
            var identity: UnsafeMutablePointer<libssh2_agent_publickey>?
            guard libssh2_agent_get_identity(agent, &identity, previous) == 0, let current = identity else { break }
            previous = current
            tried += 1
            guard let rc = retry(until: deadline, { libssh2_agent_userauth(agent, user, current) }) else {
                return SSHFailure(.timeout, "authentication on \(endpoint) did not finish within the connect timeout")
            }
            if rc == 0 { return nil }
        }
        return SSHFailure(.authFailed, "\(endpoint) refused all \(tried) keys of ssh-agent for user \(user)")
    }
}
