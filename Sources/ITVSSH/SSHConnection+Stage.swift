import CLibSSH2
import Foundation
import ITVEngine

extension SSHConnection {
    /// `stage` on this connection: `check` (the host prints the hash of the file under its final name, if
    /// any), and only when that is not the expected hash: the bytes over SFTP to the temporary name, then
    /// `commit` (the host hashes them and renames, or removes them). The final name is only ever written by
    /// that rename, so it never holds a partial or unchecked file, whatever breaks in between.
    /// `phases` says where the time went (for the benchmark).
    func stage(
        _ request: StageRequest, timeout: Duration, rate: UploadRateLimiter?, phases: inout StagePhases
    ) -> StageOutcome {
        let start = ContinuousClock.now
        phases = StagePhases(started: start)
        let deadline = start + timeout
        let commands = StageCommands(placement: request.placement, sha256: request.sha256)
        let target = "\(request.placement.path) on \(endpoint)"

        let checked = hostCommand(commands.check, until: deadline)
        phases.check = .now - start
        switch checked {
        case .failure(let interruption): return interruption.outcome
        case .success(let (exit, stdout, stderr)):
            guard exit == 0 else {
                return .refused(
                    kind: "stage_failed",
                    message: "cannot prepare \(request.placement.directory) on \(endpoint): exited \(exit)"
                        + Self.lastLine(stderr))
            }
            if StageCommands.hash(in: stdout) == request.sha256 {
                return .staged(uploadedBytes: 0, duration: .now - start)
            }
        }
        if let failure = upload(request, to: commands.sftpTemporaryPath, until: deadline, rate: rate, phases: &phases) {
            return failure
        }
        let committing = ContinuousClock.now
        let committed = hostCommand(commands.commit, until: deadline)
        phases.commit = .now - committing
        switch committed {
        case .failure(let interruption): return interruption.outcome
        case .success(let (exit, stdout, stderr)):
            let found = StageCommands.hash(in: stdout)
            if exit == 0, found == request.sha256 {
                return .staged(uploadedBytes: request.size, duration: .now - start)
            }
            if exit == StageCommands.mismatchStatus {
                return .refused(
                    kind: "stage_hash_mismatch",
                    message: "the host found sha256 \(found ?? "?") in the uploaded file, not \(request.sha256); "
                        + "it was removed and \(target) was not written")
            }
            return .refused(
                kind: "stage_failed",
                message: "cannot check and rename \(target): exited \(exit)" + Self.lastLine(stderr))
        }
    }

    /// A helper command of `stage` within the stage's deadline: exit status and output, or the interruption.
    private func hostCommand(
        _ command: String, until deadline: ContinuousClock.Instant
    ) -> Result<(Int32, String, String), StageInterruption> {
        let remaining = deadline - .now
        guard remaining > .zero else {
            return .failure(StageInterruption(.interrupted(.timeout("stage on \(endpoint) ran out of time"))))
        }
        switch run(command, timeout: remaining) {
        case .ok(let exit, let stdout, let stderr, _): return .success((exit, stdout.text, stderr.text))
        case let other: return .failure(StageInterruption(.interrupted(other)))
        }
    }

    /// Writes the local file to `path` over SFTP (created or truncated, 0644), a window of `configuration.uploadChunk`
    /// bytes in flight, within the rate, then fsyncs (where the server can) and closes. Nil when every byte was
    /// acknowledged. `phases` gets the time until the last acknowledgement (`upload`) and that of fsync and close
    /// (`sync`).
    private func upload(
        _ request: StageRequest, to path: String, until deadline: ContinuousClock.Instant, rate: UploadRateLimiter?,
        phases: inout StagePhases
    ) -> StageOutcome? {
        let uploading = ContinuousClock.now
        var acknowledged: ContinuousClock.Instant?
        defer { phases.upload = (acknowledged ?? .now) - uploading }
        guard let session, deadReason == nil else {
            return .interrupted(
                .connectFailed("connection to \(endpoint) is closed (\(deadReason ?? "not connected"))"))
        }
        let fd = open(request.localPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return .refused(
                kind: "artifact_missing",
                message: "cannot open the cached artifact \(request.localPath): \(String(cString: strerror(errno)))")
        }
        defer { Glibc.close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            return .refused(
                kind: "artifact_missing",
                message: "cannot read the cached artifact \(request.localPath): \(String(cString: strerror(errno)))")
        }
        guard Int64(info.st_size) == request.size else {
            return .refused(
                kind: "artifact_missing",
                message:
                    "the cached artifact \(request.localPath) has \(info.st_size) bytes, the plan says \(request.size)")
        }

        guard let opened = retryPointer(until: deadline, { libssh2_sftp_init(session) }) else {
            return timedOutStage("starting SFTP")
        }
        guard let sftp = opened else { return lostStage("cannot start SFTP") }
        var sftpOpen = true
        defer {
            if sftpOpen, self.session != nil {
                _ = retry(until: .now + .seconds(2)) { libssh2_sftp_shutdown(sftp) }
            }
        }
        guard let openedFile = retryPointer(until: deadline, { itv_sftp_open_write(sftp, path, 0o644) }) else {
            return timedOutStage("opening \(path)")
        }
        guard let handle = openedFile else {
            let code = libssh2_sftp_last_error(sftp)
            if lastErrno == itv_error_sftp_protocol() {
                return .refused(
                    kind: "stage_failed", message: "\(endpoint) refused to create \(path) (SFTP status \(code))")
            }
            return lostStage("cannot open \(path)")
        }
        var handleOpen = true
        defer {
            if handleOpen, self.session != nil { _ = retry(until: .now + .seconds(2)) { itv_sftp_close(handle) } }
        }

        switch send(fd, request, handle: handle, path: path, until: deadline, rate: rate) {
        case .some(let failure): return failure
        case .none: break
        }
        let syncing = ContinuousClock.now
        acknowledged = syncing
        defer { phases.sync = .now - syncing }
        // fsync@openssh.com: the bytes are on the host's disk before the rename can make them the final name.
        // A server without the extension answers an SFTP error, which is not a failure of the upload.
        guard let synced = retry(until: deadline, { libssh2_sftp_fsync(handle) }) else {
            return timedOutStage("syncing \(path)")
        }
        if synced != 0 && synced != itv_error_sftp_protocol() { return lostStage("fsync of \(path) failed") }
        handleOpen = false
        guard let closed = retry(until: deadline, { itv_sftp_close(handle) }) else {
            return timedOutStage("closing \(path)")
        }
        if closed != 0 { return lostStage("closing \(path) failed") }
        sftpOpen = false
        _ = retry(until: deadline) { libssh2_sftp_shutdown(sftp) }
        return nil
    }

    /// The file's bytes through an open SFTP handle, a sliding window of `configuration.uploadChunk` bytes (a
    /// quarter second's worth under a rate) always in flight: libssh2 1.10 packs what it is given into 30,000-byte
    /// SFTP writes and returns as soon as the first is acknowledged (docs/TECH-NOTES.md 22, 23), so each call
    /// offers the window again from the first unacknowledged byte and libssh2 queues only the new end. Writing
    /// whole chunks instead drains the pipe before every refill. The buffer holds two windows, so that moving
    /// what is unacknowledged to its front costs at most one copy per byte. Nil when every byte was acknowledged.
    private func send(
        _ fd: Int32, _ request: StageRequest, handle: OpaquePointer, path: String,
        until deadline: ContinuousClock.Instant, rate: UploadRateLimiter?
    ) -> StageOutcome? {
        // No bigger than the file (in whole SFTP packets): a small artifact does not cost a full buffer per host.
        let packets = max(1, Int((request.size + 29_999) / 30_000))
        let window = min(
            packets * 30_000,
            UploadRateLimiter.chunk(rate: rate.map { Int64($0.rate) } ?? 0, chunk: configuration.uploadChunk))
        var buffer = [UInt8](repeating: 0, count: 2 * window)
        var bufferStart: Int64 = 0  // the file offset of buffer[0]
        var filled = 0  // bytes of the file in the buffer
        var acknowledged: Int64 = 0  // bytes libssh2 returned: the host has them
        var offered: Int64 = 0  // bytes handed to libssh2 so far (each reserved once under the rate)
        return buffer.withUnsafeMutableBytes { raw -> StageOutcome? in
            guard let base = raw.baseAddress else { return lostStage("no upload buffer") }
            while acknowledged < request.size {
                let consumed = Int(acknowledged - bufferStart)
                if consumed >= window {
                    memmove(base, base + consumed, filled - consumed)
                    filled -= consumed
                    bufferStart = acknowledged
                }
                let end = min(request.size, acknowledged + Int64(window))
                while bufferStart + Int64(filled) < end {
                    let n = read(fd, base + filled, raw.count - filled)
                    if n < 0 && errno == EINTR { continue }
                    if n < 0 {
                        return .refused(
                            kind: "artifact_missing",
                            message: "cannot read the cached artifact \(request.localPath): "
                                + String(cString: strerror(errno)))
                    }
                    if n == 0 {
                        return .refused(
                            kind: "artifact_missing",
                            message: "the cached artifact \(request.localPath) ended after "
                                + "\(bufferStart + Int64(filled)) bytes, the plan says \(request.size)")
                    }
                    filled += n
                }
                if let rate, end > offered {
                    guard let wait = rate.reserve(Int(end - offered), limit: deadline - .now) else {
                        return timedOutStage("waiting for the upload rate")
                    }
                    if wait > .zero {
                        Thread.sleep(
                            forTimeInterval: Double(wait.components.seconds) + Double(wait.components.attoseconds)
                                / 1e18)
                    }
                }
                offered = max(offered, end)
                let from = Int(acknowledged - bufferStart)
                let written = libssh2_sftp_write(
                    handle, (base + from).assumingMemoryBound(to: CChar.self), Int(end - acknowledged))
                if written > 0 {
                    acknowledged += Int64(written)
                } else if written == 0 || written == Int(itv_errno_eagain()) {
                    // 0: nothing acknowledged yet and the channel's window is full (libssh2 then waits inbound).
                    if ContinuousClock.now >= deadline { return timedOutStage("uploading to \(path)") }
                    waitSocket(until: deadline)
                } else {
                    return lostStage("upload to \(path) failed after \(acknowledged) bytes")
                }
            }
            return nil
        }
    }

    private func timedOutStage(_ what: String) -> StageOutcome {
        drop(reason: "deadline passed")
        return .interrupted(.timeout("\(what) on \(endpoint) took longer than the step's timeout; connection dropped"))
    }

    private func lostStage(_ what: String) -> StageOutcome {
        let why = lastError
        drop(reason: "connection lost")
        return .interrupted(.noExitStatus("\(what) on \(endpoint): \(why)"))
    }

    static func lastLine(_ text: String) -> String {
        let last = text.split(whereSeparator: \.isNewline).last.map(String.init) ?? ""
        let trimmed = last.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty ? "" : ": \(String(trimmed.prefix(300)))"
    }
}

/// Where the time of one `stage` went, for the benchmark (scripts/bench.d/60-stage.sh): the host's check, the
/// upload until the last byte was acknowledged, fsync and close of the uploaded file, and the host's hash and
/// rename. A phase that was not reached stays zero.
public struct StagePhases: Sendable, Equatable {
    public var started: ContinuousClock.Instant
    public var check: Duration = .zero
    public var upload: Duration = .zero
    public var sync: Duration = .zero
    public var commit: Duration = .zero

    public init(started: ContinuousClock.Instant) { self.started = started }

    /// When the bytes were on the host (after fsync and close): the end of the transfer.
    public var transferred: ContinuousClock.Instant { started + check + upload + sync }
}

/// A stage helper command that did not run to an exit status.
struct StageInterruption: Error {
    let outcome: StageOutcome
    init(_ outcome: StageOutcome) { self.outcome = outcome }
}
