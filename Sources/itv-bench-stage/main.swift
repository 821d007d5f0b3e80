// The stage step alone, for `make bench` (scripts/bench.d/60-stage.sh): itvd's own executor puts FILE on every
// host of an inventory (check, SFTP upload to a temporary name, hash on the host, rename), at most PARALLEL
// hosts at once. Prints one line: `ok=N hosts=M wall_ms=W uploaded=B transfer_ms=T check_ms=C upload_ms=U
// sync_ms=S commit_ms=H` (ok: hosts that hold the file under its final name with the right hash; uploaded: bytes
// sent over all hosts; transfer_ms: from the start until the last host had all bytes (acknowledged, fsynced and
// closed), before its hash and rename; check, upload, sync and commit: the mean per host of each phase of the
// stage: the host's check, the SFTP writes until the last acknowledgement, fsync and close, the host's hash and
// rename).
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

/// Connects, stages, closes: the bytes uploaded and where the time went, or nil when the host does not hold the
/// file at the end.
@Sendable func stageHost(_ host: RemoteHost) async -> (Int64, StagePhases)? {
    guard case .success(let session) = await executor.connect(to: host) else { return nil }
    let measured = await executor.measuredStage(request, on: session, timeout: .seconds(600))
    await session.close()
    if let (outcome, phases) = measured {
        if case .staged(let bytes, _) = outcome { return (bytes, phases) }
        FileHandle.standardError.write(Data("\(host.name): \(outcome)\n".utf8))
    }
    return nil
}

let start = ContinuousClock.now
let (outcomes, ms) = await fleet.fanOut { await stageHost($0) }
let staged = outcomes.compactMap { $0 }
let okCount = staged.count
let uploaded = staged.reduce(Int64(0)) { $0 + $1.0 }
let transferred = staged.map(\.1.transferred).max() ?? start
let sum = { (phase: KeyPath<StagePhases, Duration>) in staged.reduce(Duration.zero) { $0 + $1.1[keyPath: phase] } }
let mean = { (phase: KeyPath<StagePhases, Duration>) in milliseconds(sum(phase) / max(1, okCount)) }
print(
    "ok=\(okCount) hosts=\(hosts.count) wall_ms=\(ms) uploaded=\(uploaded)"
        + " transfer_ms=\(milliseconds(transferred - start)) check_ms=\(mean(\.check))"
        + " upload_ms=\(mean(\.upload)) sync_ms=\(mean(\.sync)) commit_ms=\(mean(\.commit))")
