import Foundation
import ITVCore
import ITVEngine

/// What `itvd probe` found on one host.
public struct ProbeResult: Hashable, Sendable {
    public var host: String
    public var outcome: CommandOutcome
    /// From the start of the connection to the end of the probe command.
    public var latency: Duration

    public init(host: String, outcome: CommandOutcome, latency: Duration) {
        self.host = host
        self.outcome = outcome
        self.latency = latency
    }

    /// The host answered, its key matched, the key was accepted and the probe command exited 0.
    public var isOK: Bool {
        if case .ok(0, _, _, _) = outcome { return true }
        return false
    }

    /// `ok`, or the outcome kind (`command_failed` when the probe command itself exited non-zero).
    public var kind: String {
        if case .ok(let exit, _, _, _) = outcome, exit != 0 { return "command_failed" }
        return outcome.kind
    }

    /// One line of text, safe to print on a terminal.
    public var message: String { Probe.terminalSafe(Probe.message(of: outcome)) }

    public var latencyMilliseconds: Int {
        let c = latency.components
        return Int(c.seconds) * 1_000 + Int(c.attoseconds / 1_000_000_000_000_000)
    }
}

/// The onboarding check: connect, verify the host key, authenticate, run a no-op, on every host.
public enum Probe {
    /// The no-op each OS family runs.
    public static func command(for os: OSFamily) -> String { os == .windows ? "cmd /c exit 0" : "true" }

    /// Probes every host, at most `parallel` at once (the executor's global cap applies as well).
    /// Results come back in the order of `hosts`.
    public static func run(
        hosts: [RemoteHost], executor: any RemoteExecutor, parallel: Int, timeout: Duration = .seconds(30)
    ) async -> [ProbeResult] {
        var results = [ProbeResult?](repeating: nil, count: hosts.count)
        await withTaskGroup(of: (Int, ProbeResult).self) { group in
            var next = 0
            func startNext() {
                guard next < hosts.count else { return }
                let index = next
                let host = hosts[index]
                next += 1
                group.addTask { (index, await probe(host, executor: executor, timeout: timeout)) }
            }
            for _ in 0..<max(1, parallel) { startNext() }
            for await (index, result) in group {
                results[index] = result
                startNext()
            }
        }
        return results.compactMap { $0 }
    }

    static func probe(_ host: RemoteHost, executor: any RemoteExecutor, timeout: Duration) async -> ProbeResult {
        let clock = ContinuousClock()
        let start = clock.now
        let outcome: CommandOutcome
        switch await executor.connect(to: host) {
        case .failure(let error):
            outcome = error.outcome
        case .success(let session):
            outcome = await session.run(command(for: host.os), timeout: timeout)
            await session.close()
        }
        return ProbeResult(host: host.name, outcome: outcome, latency: clock.now - start)
    }

    /// The human part of an outcome.
    public static func message(of outcome: CommandOutcome) -> String {
        switch outcome {
        case .ok(let exit, _, let stderr, _):
            if exit == 0 { return "" }
            let detail = stderr.text.split(separator: "\n").first.map { ": \($0)" } ?? ""
            return "the probe command exited \(exit)\(detail)"
        case .connectFailed(let m), .timeout(let m), .authFailed(let m), .hostkeyUnknown(let m), .protocolError(let m),
            .noExitStatus(let m):
            return m
        case .hostkeyMismatch(let expected, let presented):
            return "HOST KEY CHANGED: known_hosts pins \(expected), the host presented \(presented)"
        case .killedBySignal(let signal, _, _):
            return "the probe command was killed by signal \(signal)"
        }
    }

    /// Replaces control characters (escape sequences from a hostile host) with `?`.
    public static func terminalSafe(_ text: String) -> String {
        String(
            String.UnicodeScalarView(
                text.unicodeScalars.map { scalar in
                    scalar.properties.generalCategory == .control || scalar.value == 0x7f ? "?" : scalar
                }))
    }

    /// One line per host, then a summary line.
    public static func formatText(_ results: [ProbeResult], elapsed: Duration) -> String {
        let width = results.map(\.host.count).max() ?? 0
        var lines: [String] = []
        for r in results {
            let name = terminalSafe(r.host).padding(toLength: max(width, 1), withPad: " ", startingAt: 0)
            let detail = r.message.isEmpty ? "" : "  \(r.message)"
            lines.append("\(name)  \(r.isOK ? "ok" : r.kind)  \(r.latencyMilliseconds) ms\(detail)")
        }
        lines.append(summary(results, elapsed: elapsed))
        return lines.joined(separator: "\n") + "\n"
    }

    static func summary(_ results: [ProbeResult], elapsed: Duration) -> String {
        let ok = results.filter(\.isOK).count
        var failures: [String: Int] = [:]
        for r in results where !r.isOK { failures[r.kind, default: 0] += 1 }
        let detail = failures.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
        let ms = ProbeResult(host: "", outcome: .timeout(""), latency: elapsed).latencyMilliseconds
        return "probe: \(ok) of \(results.count) hosts ok" + (detail.isEmpty ? "" : " (\(detail))") + " in \(ms) ms"
    }

    /// The `--json` document.
    public static func formatJSON(_ results: [ProbeResult], elapsed: Duration) -> String {
        struct HostJSON: Encodable {
            var host: String
            var ok: Bool
            var outcome: String
            var message: String
            var latency_ms: Int
        }
        struct Document: Encodable {
            var hosts: [HostJSON]
            var total: Int
            var ok: Int
            var failed: Int
            var elapsed_ms: Int
        }
        let hosts = results.map {
            HostJSON(
                host: $0.host, ok: $0.isOK, outcome: $0.kind, message: $0.message, latency_ms: $0.latencyMilliseconds)
        }
        let ok = results.filter(\.isOK).count
        let ms = ProbeResult(host: "", outcome: .timeout(""), latency: elapsed).latencyMilliseconds
        let document = Document(hosts: hosts, total: results.count, ok: ok, failed: results.count - ok, elapsed_ms: ms)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(document) else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
