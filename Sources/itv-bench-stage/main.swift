// The stage step alone, for `make bench` (scripts/bench.d/60-stage.sh): itvd's own executor puts FILE on every
// host of an inventory (check, SFTP upload to a temporary name, hash on the host, rename), at most PARALLEL
// hosts at once. Prints one line: `ok=N hosts=M wall_ms=W uploaded=B` (ok: hosts that hold the file under its
// final name with the right hash; uploaded: bytes sent over all hosts).
//
// usage: itv-bench-stage INVENTORY IDENTITY KNOWN_HOSTS PARALLEL FILE SHA256 DIRECTORY
import Foundation
import ITVBenchSupport
import ITVCore
import ITVEngine
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
let fleet = BenchFleet(inventory: arguments[1], identity: arguments[2], knownHosts: arguments[3], parallel: parallel)
let executor = fleet.executor
let hosts = fleet.hosts
let name = (arguments[5] as NSString).lastPathComponent
let request = StageRequest(
    localPath: arguments[5], placement: ArtifactPlacement(os: .linux, directory: arguments[7], name: name), size: size,
    sha256: arguments[6])

/// Connects, stages, closes: the bytes uploaded, or nil when the host does not hold the file at the end.
@Sendable func stageHost(_ host: RemoteHost) async -> Int64? {
    guard case .success(let session) = await executor.connect(to: host) else { return nil }
    let outcome = await session.stage(request, timeout: .seconds(600))
    await session.close()
    if case .staged(let bytes, _) = outcome { return bytes }
    FileHandle.standardError.write(Data("\(host.name): \(outcome)\n".utf8))
    return nil
}

let (outcomes, ms) = await fleet.fanOut { await stageHost($0) }
let okCount = outcomes.count { $0 != nil }
let uploaded = outcomes.reduce(Int64(0)) { $0 + ($1 ?? 0) }
print("ok=\(okCount) hosts=\(hosts.count) wall_ms=\(ms) uploaded=\(uploaded)")
