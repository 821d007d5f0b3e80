import Foundation
import ITVEngine
import ITVPlaybookLoader
import ITVSSH

/// What the SSH bench drivers share: the hosts of an inventory, itvd's own executor for them, a fan-out over
/// the hosts at most `parallel` at once, and the wall time it took.
public struct BenchFleet: Sendable {
    public let executor: LibSSH2Executor
    public let hosts: [RemoteHost]
    public let parallel: Int

    /// From the drivers' first arguments (INVENTORY IDENTITY KNOWN_HOSTS PARALLEL). An inventory that does not
    /// load ends the process (exit 1) with its diagnostics on stderr.
    public init(inventory path: String, identity: String, knownHosts: String, parallel: Int) {
        let loaded = InventoryLoader.load(file: path)
        guard let inventory = loaded.value else {
            for d in loaded.diagnostics { FileHandle.standardError.write(Data("\(d)\n".utf8)) }
            exit(1)
        }
        executor = LibSSH2Executor(
            configuration: SSHExecutorConfiguration(
                identityFile: identity, knownHostsFile: knownHosts, parallel: max(64, parallel)))
        hosts = inventory.hosts.map { RemoteHost($0) }
        self.parallel = parallel
    }

    /// Runs `body` on every host, at most `parallel` at once: the results (in the order the hosts finished)
    /// and the wall time in milliseconds.
    public func fanOut<R: Sendable>(_ body: @escaping @Sendable (RemoteHost) async -> R) async -> (
        results: [R], wallMilliseconds: Int64
    ) {
        let start = ContinuousClock.now
        var results: [R] = []
        await withTaskGroup(of: R.self) { group in
            var next = 0
            for _ in 0..<min(parallel, hosts.count) {
                let host = hosts[next]
                next += 1
                group.addTask { await body(host) }
            }
            for await result in group {
                results.append(result)
                if next < hosts.count {
                    let host = hosts[next]
                    next += 1
                    group.addTask { await body(host) }
                }
            }
        }
        let elapsed = ContinuousClock.now - start
        return (results, milliseconds(elapsed))
    }
}

/// A duration in whole milliseconds, as the bench drivers print their figures.
public func milliseconds(_ d: Duration) -> Int64 {
    d.components.seconds * 1000 + d.components.attoseconds / 1_000_000_000_000_000
}
