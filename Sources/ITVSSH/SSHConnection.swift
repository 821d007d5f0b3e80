import CLibSSH2
import Foundation
import ITVEngine

/// One libssh2 session and its socket, in non-blocking mode. Owned by one `SessionThread`: every method
/// runs on that thread, which is why the type is not Sendable-checked.
final class SSHConnection: @unchecked Sendable {
    let host: RemoteHost
    let configuration: SSHExecutorConfiguration
    var fd: Int32 = -1
    var session: OpaquePointer?
    /// Why the connection can no longer be used, once it was dropped.
    var deadReason: String?
    /// Read buffer reused by every command of the session.
    var buffer = [CChar](repeating: 0, count: 32 * 1024)

    init(host: RemoteHost, configuration: SSHExecutorConfiguration) {
        self.host = host
        self.configuration = configuration
    }

    deinit { drop(reason: "released") }

    var endpoint: String { host.port == 22 ? host.address : "\(host.address):\(host.port)" }

    // MARK: Waiting

    /// Waits until the socket is ready in the directions libssh2 is blocked on, or the deadline passes.
    func waitSocket(until deadline: ContinuousClock.Instant) {
        let remaining = deadline - .now
        guard remaining > .zero else { return }
        var events: Int16 = 0
        if let session {
            let directions = libssh2_session_block_directions(session)
            if directions & itv_block_inbound() != 0 { events |= Int16(POLLIN) }
            if directions & itv_block_outbound() != 0 { events |= Int16(POLLOUT) }
        }
        if events == 0 { events = Int16(POLLIN) }
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        _ = poll(&pfd, 1, remaining.pollMilliseconds)
    }

    /// Calls `body` until it stops returning `LIBSSH2_ERROR_EAGAIN`; nil when the deadline passed first.
    func retry(until deadline: ContinuousClock.Instant, _ body: () -> Int32) -> Int32? {
        while true {
            let rc = body()
            if rc != itv_errno_eagain() { return rc }
            if ContinuousClock.now >= deadline { return nil }
            waitSocket(until: deadline)
        }
    }

    /// Same for calls that return a pointer and report EAGAIN through `libssh2_session_last_errno`.
    func retryPointer(
        until deadline: ContinuousClock.Instant, _ body: () -> OpaquePointer?
    ) -> OpaquePointer?? {
        while true {
            if let pointer = body() { return .some(pointer) }
            guard let session, libssh2_session_last_errno(session) == itv_errno_eagain() else { return .some(nil) }
            if ContinuousClock.now >= deadline { return nil }
            waitSocket(until: deadline)
        }
    }

    /// libssh2's last error message for the session.
    var lastError: String {
        guard let session else { return "no session" }
        var message: UnsafeMutablePointer<CChar>?
        var length: Int32 = 0
        let code = libssh2_session_last_error(session, &message, &length, 0)
        let text = message.map { String(cString: $0) } ?? "unknown error"
        return "\(text) (libssh2 error \(code))"
    }

    var lastErrno: Int32 { session.map { libssh2_session_last_errno($0) } ?? 0 }

    // MARK: Teardown

    /// Drops the TCP connection at once, without a goodbye: used after a deadline passed or on errors.
    func drop(reason: String) {
        if deadReason == nil { deadReason = reason }
        if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) }
        if let session {
            // With the socket shut down, libssh2 cannot wait on it: a few calls free everything.
            var attempts = 0
            while libssh2_session_free(session) == itv_errno_eagain() && attempts < 8 { attempts += 1 }
            self.session = nil
        }
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// Says goodbye (SSH disconnect) within a short deadline, then frees everything.
    func close() {
        if let session, deadReason == nil {
            let deadline = ContinuousClock.now + .seconds(2)
            _ = retry(until: deadline) { itv_session_disconnect(session, "itv done") }
        }
        drop(reason: "closed")
    }
}
