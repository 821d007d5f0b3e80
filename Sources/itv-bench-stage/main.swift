// The stage step alone, for `make bench` (scripts/bench.d/60-stage.sh): itvd's own executor puts FILE on every
// host of an inventory (check, SFTP upload to a temporary name, hash on the host, rename), at most PARALLEL
// hosts at once. Prints one line: `ok=N hosts=M wall_ms=W uploaded=B` (ok: hosts that hold the file under its
// final name with the right hash; uploaded: bytes sent over all hosts).
//
// usage: itv-bench-stage INVENTORY IDENTITY KNOWN_HOSTS PARALLEL FILE SHA256 DIRECTORY
import Foundation
import ITVCore
import ITVEngine
import ITVPlaybookLoader
import ITVSSH

let arguments = CommandLine.arguments
guard arguments.count == 8, let parallel = Int(arguments[4]), parallel >= 1,
    let attributes = try? FileManager.default.attributesOfItem(atPath: arguments[5]),
    let size = (attributes[.size] as? NSNumber)?.int64Value
else {
    FileHandle.standardError.write(
        Data("usage: itv-bench-stage INVENTORY IDENTITY KNOWN_HOSTS PARALLEL FILE SHA256 DIRECTORY\n".utf8))
    exit(2)
}
let loaded = InventoryLoader.load(file: arguments[1])
guard let inventory = loaded.value else {
    for d in loaded.diagnostics { FileHandle.standardError.write(Data("\(d)\n".utf8)) }
    exit(1)
}
let executor = LibSSH2Executor(
    configuration: SSHExecutorConfiguration(
        identityFile: arguments[2], knownHostsFile: arguments[3], parallel: max(64, parallel)))
let hosts = inventory.hosts.map { RemoteHost($0) }
let name = (arguments[5] as NSString).lastPathComponent
let request = StageRequest(
    localPath: arguments[5], placement: ArtifactPlacement(os: .linux, directory: arguments[7], name: name), size: size,
    sha256: arguments[6])

/// Connects, stages, closes: the bytes uploaded, or nil when the host does not hold the file at the end.
func stageHost(_ host: RemoteHost) async -> Int64? {
    guard case .success(let session) = await executor.connect(to: host) else { return nil }
    let outcome = await session.stage(request, timeout: .seconds(600))
    await session.close()
    if case .staged(let bytes, _) = outcome { return bytes }
    FileHandle.standardError.write(Data("\(host.name): \(outcome)\n".utf8))
    return nil
}

let start = ContinuousClock.now
var okCount = 0
var uploaded: Int64 = 0
await withTaskGroup(of: Int64?.self) { group in
    var next = 0
    for _ in 0..<min(parallel, hosts.count) {
        let host = hosts[next]
        next += 1
        group.addTask { await stageHost(host) }
    }
    for await bytes in group {
        if let bytes {
            okCount += 1
            uploaded += bytes
        }
        if next < hosts.count {
            let host = hosts[next]
            next += 1
            group.addTask { await stageHost(host) }
        }
    }
}
let elapsed = ContinuousClock.now - start
let ms = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
print("ok=\(okCount) hosts=\(hosts.count) wall_ms=\(ms) uploaded=\(uploaded)")
