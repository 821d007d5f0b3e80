import Foundation
import ITVProtocol
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One answer of the control socket, as far as the concurrency harness reads it.
struct BurstAnswer: CustomStringConvertible {
    var status: Int
    var body: String

    /// `ok`, or the error kind of an error document (`?` when there is none).
    var outcome: String {
        if status == 200 { return "ok" }
        struct Body: Decodable { var error: APIError }
        return (try? JSONDecoder().decode(Body.self, from: Data(body.utf8)))?.error.kind.rawValue ?? "? \(status)"
    }

    var description: String { "\(status) \(body.prefix(300))" }
}

/// N identical requests released at the same instant: each on its own connection, sent whole but for its last
/// byte; once all are in, the last bytes go out one right after the other, so the daemon gets N complete
/// requests within microseconds, while earlier ones are still in their awaits.
func burst(_ socket: String, _ n: Int, _ method: String, _ path: String, body: String = "{}") throws -> [BurstAnswer] {
    let request = Array(
        ("\(method) \(path) HTTP/1.1\r\nHost: itvd\r\nConnection: close\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)").utf8)
    var fds: [Int32] = []
    defer { for fd in fds { close(fd) } }
    for _ in 0..<n {
        let fd = try connectUnix(socket)
        fds.append(fd)
        try sendAll(fd, request.dropLast())
    }
    for fd in fds { try sendAll(fd, request.suffix(1)) }
    return try fds.map { try BurstAnswer(parse: readAll($0)) }
}

func connectUnix(_ path: String) throws -> Int32 {
    let fd: Int32
    do {
        fd = try connectUnixSocket(path)
    } catch {
        throw E2EFailure(description: "\(error)")
    }
    var timeout = timeval(tv_sec: 60, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return fd
}

func sendAll(_ fd: Int32, _ bytes: some Collection<UInt8>) throws {
    let data = Array(bytes)
    var sent = 0
    while sent < data.count {
        let n = data[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        guard n > 0 else { throw E2EFailure(description: "send: \(String(cString: strerror(errno)))") }
        sent += n
    }
}

/// Reads until the daemon closes the connection (`Connection: close`).
func readAll(_ fd: Int32) throws -> [UInt8] {
    var all: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n == 0 { return all }
        guard n > 0 else { throw E2EFailure(description: "recv: \(String(cString: strerror(errno)))") }
        all += buffer[0..<n]
    }
}

extension BurstAnswer {
    /// Status line, headers, and a body with Content-Length or chunked transfer encoding.
    init(parse bytes: [UInt8]) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else {
            throw E2EFailure(description: "no complete answer: \(text.prefix(200))")
        }
        let head = text[..<end.lowerBound]
        let fields = head.split(separator: " ", maxSplits: 2)
        guard fields.count >= 2, let status = Int(fields[1]) else {
            throw E2EFailure(description: "bad status line: \(head.prefix(100))")
        }
        var body = String(text[end.upperBound...])
        if head.lowercased().contains("transfer-encoding: chunked") {
            var rest = Substring(body)
            var joined = ""
            while let line = rest.range(of: "\r\n"), let size = Int(rest[..<line.lowerBound], radix: 16), size > 0 {
                let start = line.upperBound
                let stop = rest.utf8.index(start, offsetBy: size)
                joined += rest[start..<stop]
                rest = rest[stop...].dropFirst(2)
            }
            body = joined
        }
        self.init(status: status, body: body)
    }
}

extension E2ETests {
    /// The concurrency harness: for every mutating route, N identical requests released at the same instant
    /// against the built itvd on a real SSH fleet. Invariants: one active rollout per procedure; each command
    /// reaches each host once (the fake installer's ledger); the extra requests get `conflict` (or their own
    /// proper refusal); the daemon stays healthy. Loopback range 127.0.66.
    @Suite("End to end: N identical requests at once on every mutating route", .serialized)
    struct E2EConcurrencyTests {
        static let n = 16

        /// Four procedures on the same four hosts, each for one part of the harness.
        static let playbooks: [String: String] = {
            var books: [String: String] = [:]
            books["race-ctl"] = try? fakeAppPlaybook(
                id: "race-ctl",
                waves: ["{name: first, size: 1, approval: operator}", "{name: rest, size: rest, approval: auto}"])
            books["race-eyes"] = try? fakeAppPlaybook(
                id: "race-eyes", waves: ["{name: all, size: rest, approval: operator, approvals: 2}"])
            books["race-back"] = try? fakeAppPlaybook(
                id: "race-back", waves: ["{name: all, size: rest, approval: auto}"])
            books["race-fix"] = try? fakeAppPlaybook(
                id: "race-fix", waves: ["{name: all, size: rest, approval: auto}"])
            books["race-win"] = try? fakeAppPlaybook(
                id: "race-win", waves: ["{name: night, size: rest, approval: window, parallel: 2}"], window: "evening")
            return books
        }()

        static func counts(_ answers: [BurstAnswer]) -> [String: Int] {
            answers.reduce(into: [:]) { $0[$1.outcome, default: 0] += 1 }
        }

        static func json(_ value: some Encodable) throws -> String {
            String(decoding: try ITVJSON.encode(value), as: UTF8.self)
        }

        /// Active rollouts of a procedure, as `itvctl --json rollout list` says.
        static func active(_ itvd: E2EDaemon, _ procedure: String) throws -> [Int64] {
            let list = try e2eDecode(RolloutListResponse.self, try itvd.ok(["--json", "rollout", "list"]))
            return list.rollouts.filter { $0.procedure == procedure }.map(\.id)
        }

        /// Each host's ledger for `app`: how many installs and rollbacks it ran.
        static func ledger(_ fleet: E2EFleet, _ app: String, _ kind: String) -> [String: Int] {
            var counts: [String: Int] = [:]
            for host in fleet.hostNames {
                counts[host] = fleet.ledger(host, app).filter { $0.kind == kind }.count
            }
            return counts
        }

        @Test(
            "start, approve, pause, resume, abort, rollback, retry, skip, window open and close, reload, scan, feed check"
        )
        func everyMutatingRoute() async throws {
            let n = Self.n
            try await E2EFleet.with(4, base: "127.0.66") { fleet in
                for host in fleet.hostNames {
                    for app in Self.playbooks.keys { try fleet.setVersion(host, app, "1.0") }
                }
                let once = Dictionary(uniqueKeysWithValues: fleet.hostNames.map { ($0, 1) })
                let never = Dictionary(uniqueKeysWithValues: fleet.hostNames.map { ($0, 0) })
                try await E2EDaemon.with(fleet: fleet, playbooks: Self.playbooks) { itvd in
                    let socket = itvd.socket
                    func post(_ route: Route, _ parameters: [String], _ body: some Encodable) throws -> [BurstAnswer] {
                        try burst(socket, n, "POST", route.target(parameters, query: []), body: try Self.json(body))
                    }

                    // start: two versions asked for at once; one rollout, the others conflict.
                    var answers = try burst(
                        socket, n, "POST", Route.rolloutStart.path(),
                        body: try Self.json(RolloutStartRequest(procedure: "race-ctl", version: "2.0")))
                    #expect(Self.counts(answers) == ["ok": 1, "conflict": n - 1], "start: \(answers)")
                    let ctl = try #require(try Self.active(itvd, "race-ctl").first)
                    #expect(try Self.active(itvd, "race-ctl") == [ctl])
                    var detail = try await itvd.waitForApproval(ctl, wave: 0)

                    // pause, resume: one each.
                    answers = try post(.rolloutPause, [String(ctl)], RolloutControlRequest(reason: "race"))
                    #expect(Self.counts(answers) == ["ok": 1, "conflict": n - 1], "pause: \(answers)")
                    answers = try post(.rolloutResume, [String(ctl)], RolloutControlRequest())
                    #expect(Self.counts(answers) == ["ok": 1, "conflict": n - 1], "resume: \(answers)")
                    #expect(try itvd.show(ctl).phase == "waiting_approval")

                    // approve: N times; the first approval starts the wave, the others find it running.
                    answers = try post(
                        .rolloutApprove, [String(ctl)], ApproveRequest(wave: 0, planHash: detail.rollout.planHash))
                    #expect(Self.counts(answers) == ["ok": 1, "conflict": n - 1], "approve: \(answers)")
                    detail = try await itvd.waitForPhase(ctl, "succeeded")
                    #expect(detail.approvals.filter { $0.source == "operator" }.count == 1)
                    #expect(Self.ledger(fleet, "race-ctl", "install") == once)

                    // Four eyes: the same operator N times at once counts once, the others are already_approved.
                    let eyes = try itvd.startRollout("race-eyes", "2.0")
                    let waiting = try await itvd.waitForApproval(eyes, wave: 0)
                    answers = try post(
                        .rolloutApprove, [String(eyes)], ApproveRequest(wave: 0, planHash: waiting.rollout.planHash))
                    #expect(Self.counts(answers) == ["ok": 1, "already_approved": n - 1], "four eyes: \(answers)")
                    detail = try itvd.show(eyes)
                    #expect(detail.phase == "waiting_approval" && detail.waves[0].approvalsGiven == 1)
                    try itvd.ok(["rollout", "abort", String(eyes)])
                    #expect(Self.ledger(fleet, "race-eyes", "install") == never)

                    // A newer rollout waits: a rollback of the old one is refused, naming it.
                    let newer = try itvd.startRollout("race-ctl", "3.0")
                    try await itvd.waitForApproval(newer, wave: 0)
                    let refused = try itvd.ctl(["--json", "rollout", "rollback", String(ctl)])
                    #expect(refused.status == 1)
                    let refusal = try e2eDecode(E2EError.self, refused.stdout).error
                    #expect(refusal.kind == "conflict" && refusal.message.contains("rollout \(newer)"), "\(refusal)")
                    #expect(Self.ledger(fleet, "race-ctl", "rollback") == never)

                    // abort: one; the wave that waited is no longer listed as waiting for approval.
                    answers = try post(.rolloutAbort, [String(newer)], RolloutControlRequest(reason: "race"))
                    #expect(Self.counts(answers) == ["ok": 1, "conflict": n - 1], "abort: \(answers)")
                    detail = try await itvd.waitForPhase(newer, "aborted")
                    #expect(detail.waves.map(\.phase) == ["pending", "pending"], "\(detail.waves.map(\.phase))")
                    let shown = try itvd.ok(["rollout", "show", String(newer)])
                    #expect(!shown.contains("waiting for approval"), "\(shown)")

                    // itvctl itself, N processes released together: one start, the others print conflict.
                    let results = try Self.itvctlTogether(
                        itvd, n: 8, ["rollout", "start", "race-ctl", "--version", "4.0"])
                    #expect(results.filter { $0.status == 0 }.count == 1, "\(results.map(\.stderr))")
                    #expect(
                        results.filter { $0.status == 1 && $0.stderr.contains("conflict: ") }.count == 7,
                        "\(results.map(\.stderr))")
                    let fourth = try #require(try Self.active(itvd, "race-ctl").first)
                    try itvd.ok(["rollout", "abort", String(fourth)])

                    // rollback of an ended rollout: one, and rollback runs once per host.
                    let back = try itvd.startRollout("race-back", "2.0")
                    try await itvd.waitForPhase(back, "succeeded")
                    answers = try post(.rolloutRollback, [String(back)], RolloutControlRequest(reason: "race"))
                    #expect(Self.counts(answers) == ["ok": 1, "conflict": n - 1], "rollback: \(answers)")
                    try await itvd.waitForPhase(back, "rolled_back")
                    #expect(Self.ledger(fleet, "race-back", "rollback") == once)
                    for host in fleet.hostNames { #expect(fleet.version(host, "race-back") == "1.0") }

                    // retry and skip: two hosts fail their install; one is retried N times, one skipped N times.
                    let (bad, skipped) = (fleet.hostNames[0], fleet.hostNames[1])
                    try fleet.marker(bad, "fail-race-fix", "")
                    try fleet.marker(skipped, "fail-race-fix", "")
                    let fix = try itvd.startRollout("race-fix", "2.0")
                    try await itvd.waitFor(fix, "halted with two failed hosts") {
                        $0.phase == "halted" && $0.hosts(in: "failed") == [bad, skipped].sorted()
                            && $0.hosts(in: "running").isEmpty
                    }
                    try fleet.marker(bad, "fail-race-fix", nil)
                    answers = try post(.rolloutRetry, [String(fix)], HostActionRequest(host: bad, comment: "fixed"))
                    #expect(Self.counts(answers) == ["ok": 1, "conflict": n - 1], "retry: \(answers)")
                    answers = try post(.rolloutSkip, [String(fix)], HostActionRequest(host: skipped))
                    #expect(Self.counts(answers) == ["ok": 1, "conflict": n - 1], "skip: \(answers)")
                    try itvd.ok(["rollout", "resume", String(fix)])
                    detail = try await itvd.waitForPhase(fix, "succeeded")
                    #expect(detail.run(skipped)?.phase == "skipped")
                    var installs = once
                    installs[skipped] = 0
                    #expect(Self.ledger(fleet, "race-fix", "install") == installs)

                    // window open: all accepted (each is an operator's act); the window wave starts once.
                    let win = try itvd.startRollout("race-win", "2.0")
                    try await itvd.waitForApproval(win, wave: 0)
                    answers = try post(.windowOpen, ["evening"], WindowOpenRequest(comment: "patch night"))
                    #expect(Self.counts(answers) == ["ok": n], "window open: \(answers)")
                    detail = try await itvd.waitForPhase(win, "succeeded")
                    #expect(detail.approvals.filter { $0.source == "window" }.count == 1)
                    #expect(Self.ledger(fleet, "race-win", "install") == once)
                    answers = try post(.windowClose, ["evening"], WindowCloseRequest(comment: "done"))
                    #expect(Self.counts(answers) == ["ok": n], "window close: \(answers)")
                    let windows = try e2eDecode(WindowListResponse.self, try itvd.ok(["--json", "window", "list"]))
                    #expect(windows.windows.allSatisfy { !$0.open })

                    // reload: all done, one after the other.
                    answers = try burst(socket, n, "POST", Route.reload.path())
                    #expect(Self.counts(answers) == ["ok": n], "reload: \(answers)")
                    for answer in answers {
                        #expect(try ITVJSON.decode(ReloadResponse.self, from: Data(answer.body.utf8)).ok)
                    }

                    // host scan and feed check (changes too: they run detect, they poll): all answered.
                    answers = try post(.hostScan, [], HostScanRequest(procedure: "race-back"))
                    #expect(Self.counts(answers) == ["ok": n], "host scan: \(answers)")
                    for answer in answers {
                        let scan = try ITVJSON.decode(HostScanResponse.self, from: Data(answer.body.utf8))
                        #expect(scan.results.map(\.host).sorted() == fleet.hostNames)
                        #expect(scan.results.allSatisfy { $0.version == "1.0" }, "\(scan.results)")
                    }
                    answers = try post(.feedCheck, [], FeedCheckRequest(procedures: ["race-back"]))
                    #expect(Self.counts(answers) == ["ok": n], "feed check: \(answers)")
                    for answer in answers {
                        let check = try ITVJSON.decode(FeedCheckResponse.self, from: Data(answer.body.utf8))
                        #expect(check.results.map(\.error?.kind) == [.invalidRequest], "no feed: \(check.results)")
                    }

                    // The audit trail has the comments; the daemon is healthy.
                    let audit = try e2eDecode(AuditResponse.self, try itvd.ok(["--json", "audit"]))
                    let opens = audit.entries.filter { $0.action == "window.open" && $0.outcome == "ok" }
                    #expect(opens.count == n && opens.allSatisfy { $0.comment?.contains("patch night") == true })
                    #expect(audit.entries.filter { $0.action == "window.close" && $0.comment == "done" }.count == n)
                    #expect(
                        audit.entries.contains { $0.action == "rollout.retry" && $0.comment == "fixed" },
                        "retry's comment reaches the audit trail")
                    #expect(try Self.active(itvd, "race-ctl").isEmpty)
                    #expect(itvd.pid != nil, "itvd still runs")
                    let status = try e2eDecode(StatusResponse.self, try itvd.ok(["--json", "status"]))
                    #expect(status.problems.isEmpty && status.activeRollouts == 0, "\(status)")
                    #expect(!itvd.logTail(1_000_000).contains("store.failed"))
                }
            }
        }

        /// Runs `itvctl ARGS` in `n` processes that wait for one file to appear, then creates it.
        static func itvctlTogether(_ itvd: E2EDaemon, n: Int, _ arguments: [String]) throws -> [RunResult] {
            let gate = itvd.dir + "/go-\(UUID().uuidString)"
            let script = "while [ ! -e \"$0\" ]; do sleep 0.005; done; exec \"$@\""
            let results = Mutex<[RunResult]>([])
            let group = DispatchGroup()
            for _ in 0..<n {
                DispatchQueue.global().async(group: group) {
                    let result =
                        (try? runProgram(
                            "/bin/sh", ["-c", script, gate, itvd.itvctl, "--socket", itvd.socket] + arguments,
                            timeout: 120)) ?? RunResult(status: -1, stdout: "", stderr: "not run")
                    results.withLock { $0.append(result) }
                }
            }
            usleep(500_000)  // every shell is up and polling
            _ = FileManager.default.createFile(atPath: gate, contents: nil)
            group.wait()
            return results.withLock { $0 }
        }
    }
}
