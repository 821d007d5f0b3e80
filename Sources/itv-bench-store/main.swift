// The state store's commit throughput, for `make bench` (scripts/bench.d/40-store.sh): commits per second
// with group commit at 1, 16 and 64 concurrent writers, next to one transaction per commit in the same
// run. Each commit is what the engine commits most: one host run update, durable (WAL, synchronous=FULL).
//
// usage: itv-bench-store DIR [COMMITS]   (DIR: an empty scratch directory on the disk to measure)
import Foundation
import ITVCore
import ITVEngine
import ITVStore

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: itv-bench-store DIR [COMMITS]\n".utf8))
    exit(2)
}
let scratch = arguments[1]
let commitCount = arguments.count > 2 ? Int(arguments[2]) ?? 960 : 960

func rollout() throws -> RolloutRecord {
    let recipeJSON = """
        {"steps":{"install":{"linux":"install {{version}}"}},"timeoutSeconds":600,"idempotent":false,
        "maxFailures":"5%","onFailure":"halt","scheme":"semver"}
        """
    let recipe = try JSONDecoder().decode(RolloutRecipe.self, from: Data(recipeJSON.utf8))
    return RolloutRecord(
        id: 1, procedure: "app", version: "2.0.0", phase: .running, planHash: "bench", recipe: recipe, createdAt: 0,
        createdBy: "bench", updatedAt: 0)
}

/// Commits per second for `writers` tasks sharing `commitCount` commits.
func measure(writers: Int, groupCommit: Bool, run: Int) async throws -> Double {
    let dir = scratch + "/run-\(run)"
    let options = SQLiteRolloutStore.Options(maxCommitsPerTransaction: groupCommit ? 1024 : 1)
    let store = try await SQLiteRolloutStore.open(stateDirectory: dir, options: options)
    let hosts = (0..<writers).map { "host-\($0)" }
    try await store.commit(
        [.rollout(try rollout())] + hosts.map { .hostRun(HostRunRecord(rolloutID: 1, host: $0, wave: 0, updatedAt: 0)) }
    )
    let perWriter = commitCount / writers
    let start = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { group in
        for host in hosts {
            group.addTask {
                for attempt in 0..<perWriter {
                    let run = HostRunRecord(
                        rolloutID: 1, host: host, wave: 0, phase: .running, step: .install, stepInFlight: true,
                        installAttempts: attempt, updatedAt: EpochMillis(attempt))
                    try await store.commit([.hostRun(run)])
                }
            }
        }
        try await group.waitForAll()
    }
    let elapsed = ContinuousClock.now - start
    await store.close()
    try? FileManager.default.removeItem(atPath: dir)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    return Double(perWriter * writers) / seconds
}

/// The median of three runs, alternating with the baseline, so that a burst of disk load from elsewhere
/// moves one sample rather than a whole figure.
func medians(writers: Int) async throws -> (grouped: Double, baseline: Double) {
    var run = writers * 100
    var grouped: [Double] = []
    var baseline: [Double] = []
    for _ in 0..<3 {
        run += 1
        baseline.append(try await measure(writers: writers, groupCommit: false, run: run))
        run += 1
        grouped.append(try await measure(writers: writers, groupCommit: true, run: run))
    }
    return (grouped.sorted()[1], baseline.sorted()[1])
}

print("store: durable commits per second (one host run update each), median of 3 runs of \(commitCount) commits")
print("writers   group commit   one transaction per commit (baseline)   ratio")
for writers in [1, 16, 64] {
    let (grouped, baseline) = try await medians(writers: writers)
    let line =
        String(repeating: " ", count: max(0, 7 - "\(writers)".count)) + "\(writers)"
        + String(format: "   %10.0f/s   %36.0f/s   %5.1fx", grouped, baseline, grouped / baseline)
    print(line)
}
