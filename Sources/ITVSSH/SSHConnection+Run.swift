import CLibSSH2
import Foundation
import ITVEngine

/// Keeps the first `cap` bytes of a stream and counts the rest.
struct OutputCapture {
    let cap: Int
    var bytes: [UInt8] = []
    var dropped = 0

    init(cap: Int) { self.cap = cap }

    mutating func append(_ chunk: UnsafeBufferPointer<CChar>) {
        let room = max(0, cap - bytes.count)
        let kept = min(room, chunk.count)
        if kept > 0 {
            chunk.withMemoryRebound(to: UInt8.self) { bytes.append(contentsOf: $0.prefix(kept)) }
        }
        dropped += chunk.count - kept
    }

    var captured: CapturedOutput { CapturedOutput(bytes: bytes, droppedBytes: dropped) }
}

/// How the remote side is told to stop a command at its deadline (docs/TECH-NOTES.md 6).
public enum CommandWrapper {
    /// `'...'` for a POSIX shell.
    public static func shellQuote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Linux: `exec timeout ... sh -c CMD` (exec, so that a signal that kills the command reaches sshd as an
    /// exit signal, not as a shell's 128+n). coreutils `timeout` stops the command one second after the local
    /// deadline (by then the connection is dropped) and kills it `killAfter` later. Windows: the command is sent
    /// as a PowerShell script in `-EncodedCommand` (`powershellEncoded`), so that it arrives byte for byte
    /// whatever the host's OpenSSH default shell and its re-escaping of quotes (docs/TECH-NOTES.md 35); the
    /// local deadline drops the connection, and Win32-OpenSSH's sshd ends the session's process tree when its
    /// connection goes away.
    public static func wrap(_ command: String, os: OSFamilyName, timeout: Duration, killAfter: Duration) -> String {
        switch os {
        case .windows:
            return powershellEncoded(command)
        case .linux:
            let seconds = max(1, timeout.components.seconds + 1)
            let grace = max(1, killAfter.components.seconds)
            return "exec timeout --kill-after=\(grace)s \(seconds)s sh -c \(shellQuote(command))"
        }
    }

    /// `powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand <base64 of the script
    /// in UTF-16LE>`: only `[A-Za-z0-9+/=]` and spaces cross the command line, which cmd.exe and PowerShell
    /// (either may be the default shell) pass on unchanged. The exit status is PowerShell's: `exit N` in the
    /// script, else 0 when its last command succeeded and 1 when it failed.
    public static func powershellEncoded(_ script: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(script.utf16.count * 2)
        for unit in script.utf16 {
            bytes.append(UInt8(truncatingIfNeeded: unit))
            bytes.append(UInt8(truncatingIfNeeded: unit >> 8))
        }
        return "powershell.exe -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "
            + Data(bytes).base64EncodedString()
    }

    /// The families `wrap` knows, mirrored from `ITVCore.OSFamily`.
    public enum OSFamilyName: Sendable { case linux, windows }
}

extension SSHConnection {
    /// Runs one command on its own channel, reading stdout and stderr apart until EOF, then reads the exit
    /// status only after close and wait_closed (docs/TECH-NOTES.md 4, 7). Drops the connection at the deadline.
    func run(_ command: String, timeout: Duration) -> CommandOutcome {
        let start = ContinuousClock.now
        let deadline = start + timeout
        guard let session, deadReason == nil else {
            return .connectFailed("connection to \(endpoint) is closed (\(deadReason ?? "not connected"))")
        }
        let wrapped = CommandWrapper.wrap(
            command, os: host.os == .windows ? .windows : .linux, timeout: timeout,
            killAfter: configuration.killAfter)
        guard let opened = retryPointer(until: deadline, { itv_channel_open_session(session) }) else {
            return timedOut(timeout, "opening a channel")
        }
        guard let channel = opened else {
            let why = lastError
            drop(reason: "channel open failed")
            return .protocolError("cannot open a channel on \(endpoint): \(why)")
        }
        defer {
            // After a drop the session freed its channels already.
            if self.session != nil { _ = retry(until: .now + .seconds(2)) { libssh2_channel_free(channel) } }
        }
        guard let rc = retry(until: deadline, { itv_channel_exec(channel, wrapped) }) else {
            return timedOut(timeout, "starting the command")
        }
        guard rc == 0 else { return .protocolError("\(endpoint) refused to start the command: \(lastError)") }
        _ = retry(until: deadline) { libssh2_channel_send_eof(channel) }

        var stdout = OutputCapture(cap: configuration.outputCap)
        var stderr = OutputCapture(cap: configuration.outputCap)
        while true {
            let outRead = drain(channel, stderr: false, into: &stdout)
            let errRead = drain(channel, stderr: true, into: &stderr)
            if let failure = outRead.failure ?? errRead.failure { return failure }
            if libssh2_channel_eof(channel) == 1 { break }
            if outRead.progressed || errRead.progressed { continue }
            if itv_channel_queued(channel, 0) == 1 || itv_channel_queued(channel, 1) == 1 { continue }
            if ContinuousClock.now >= deadline { return timedOut(timeout, "running the command") }
            waitSocket(until: deadline)
        }
        for step in [libssh2_channel_close, libssh2_channel_wait_closed] {
            guard let rc = retry(until: deadline, { step(channel) }) else {
                return timedOut(timeout, "waiting for the command's exit status")
            }
            if rc != 0 && rc != LIBSSH2_ERROR_CHANNEL_CLOSED {
                let why = lastError
                drop(reason: "connection lost")
                return .noExitStatus("connection to \(endpoint) failed before the exit status arrived: \(why)")
            }
        }
        var signal: UnsafeMutablePointer<CChar>?
        var signalLength = 0
        _ = libssh2_channel_get_exit_signal(channel, &signal, &signalLength, nil, nil, nil, nil)
        if let signal {
            let name = String(
                decoding: UnsafeBufferPointer(start: signal, count: signalLength).map { UInt8(bitPattern: $0) },
                as: UTF8.self)
            libssh2_free(session, signal)
            if !name.isEmpty {
                return .killedBySignal(signal: name, stdout: stdout.captured, stderr: stderr.captured)
            }
        }
        let status = libssh2_channel_get_exit_status(channel)
        return .ok(exit: status, stdout: stdout.captured, stderr: stderr.captured, duration: .now - start)
    }

    /// Reads one stream until libssh2 has nothing more for it right now.
    private func drain(
        _ channel: OpaquePointer, stderr: Bool, into capture: inout OutputCapture
    ) -> (progressed: Bool, failure: CommandOutcome?) {
        var progressed = false
        while true {
            let n = buffer.withUnsafeMutableBufferPointer { buf -> Int in
                let base = buf.baseAddress
                return stderr
                    ? itv_channel_read_stderr(channel, base, buf.count) : itv_channel_read(channel, base, buf.count)
            }
            if n > 0 {
                buffer.withUnsafeBufferPointer { capture.append(UnsafeBufferPointer(rebasing: $0[0..<n])) }
                progressed = true
                continue
            }
            if n == 0 || n == Int(itv_errno_eagain()) { return (progressed, nil) }
            let why = lastError
            drop(reason: "connection lost")
            return (
                progressed,
                .noExitStatus("connection to \(endpoint) dropped while the command ran; its result is unknown: \(why)")
            )
        }
    }

    private func timedOut(_ timeout: Duration, _ what: String) -> CommandOutcome {
        drop(reason: "deadline passed")
        return .timeout(
            "\(what) on \(endpoint) took longer than \(timeout.secondsDescription); connection dropped, "
                + "the remote command is stopped by timeout(1)")
    }
}
