// The bare fan-out, for `make bench` (scripts/bench.d/25-engine.sh): on every host of an inventory, one
// libssh2 connection (the daemon's own executor) running the given commands one after another, at most
// PARALLEL hosts at once. No engine, no state store, no control socket: the baseline the engine's overhead
// is measured against. Prints one line: `ok=N hosts=M wall_ms=W` (ok: hosts where every command exited 0).
//
// usage: itv-bench-fanout INVENTORY IDENTITY KNOWN_HOSTS PARALLEL COMMAND...
import Foundation
import ITVCore
import ITVEngine
import ITVPlaybookLoader
import ITVSSH

let arguments = CommandLine.arguments
guard arguments.count >= 6, let parallel = Int(arguments[4]), parallel >= 1 else {
    FileHandle.standardError.write(
        Data("usage: itv-bench-fanout INVENTORY IDENTITY KNOWN_HOSTS PARALLEL COMMAND...\n".utf8))
    exit(2)
}
let commands = Array(arguments[5...])
let loaded = InventoryLoader.load(file: arguments[1])
guard let inventory = loaded.value else {
    for d in loaded.diagnostics { FileHandle.standardError.write(Data("\(d)\n".utf8)) }
    exit(1)
}
let executor = LibSSH2Executor(
    configuration: SSHExecutorConfiguration(
        identityFile: arguments[2], knownHostsFile: arguments[3], parallel: max(64, parallel)))
let hosts = inventory.hosts.map { RemoteHost($0) }

/// Connects, runs every command on the one connection (stopping at the first that does not exit 0), closes.
func runHost(_ host: RemoteHost) async -> Bool {
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

let start = ContinuousClock.now
var okCount = 0
await withTaskGroup(of: Bool.self) { group in
    var next = 0
    for _ in 0..<min(parallel, hosts.count) {
        let host = hosts[next]
        next += 1
        group.addTask { await runHost(host) }
    }
    for await ok in group {
        if ok { okCount += 1 }
        if next < hosts.count {
            let host = hosts[next]
            next += 1
            group.addTask { await runHost(host) }
        }
    }
}
let elapsed = ContinuousClock.now - start
let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
print("ok=\(okCount) hosts=\(hosts.count) wall_ms=\(ms)")
