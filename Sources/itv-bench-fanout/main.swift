// The bare fan-out, for `make bench` (scripts/bench.d/25-engine.sh): on every host of an inventory, one
// libssh2 connection (the daemon's own executor) running the given commands one after another, at most
// PARALLEL hosts at once. No engine, no state store, no control socket: the baseline the engine's overhead
// is measured against. Prints one line: `ok=N hosts=M wall_ms=W` (ok: hosts where every command exited 0).
//
// usage: itv-bench-fanout INVENTORY IDENTITY KNOWN_HOSTS PARALLEL COMMAND...
import Foundation
import ITVBenchSupport
import ITVCore
import ITVEngine
import ITVSSH

let arguments = CommandLine.arguments
guard arguments.count >= 6, let parallel = Int(arguments[4]), parallel >= 1 else {
    FileHandle.standardError.write(
        Data("usage: itv-bench-fanout INVENTORY IDENTITY KNOWN_HOSTS PARALLEL COMMAND...\n".utf8))
    exit(2)
}
let commands = Array(arguments[5...])
let fleet = BenchFleet(inventory: arguments[1], identity: arguments[2], knownHosts: arguments[3], parallel: parallel)
let executor = fleet.executor
let hosts = fleet.hosts

/// Connects, runs every command on the one connection (stopping at the first that does not exit 0), closes.
@Sendable func runHost(_ host: RemoteHost) async -> Bool {
    guard case .success(let session) = await executor.connect(to: host) else { return false }
    var ok = true
    for command in commands {
        guard case .ok(0, _, _, _) = await session.run(command, timeout: .seconds(60)) else {
            ok = false
            break
        }
    }
    await session.close()
    return ok
}

let (outcomes, ms) = await fleet.fanOut { await runHost($0) }
print("ok=\(outcomes.count { $0 }) hosts=\(hosts.count) wall_ms=\(ms)")
