// Bench driver for `make bench` (scripts/bench.d/30-feeds.sh): polls N feeds through the production watcher
// (scheduler, libcurl fetcher, parser) twice and prints wall and CPU time of each pass.
// Usage: itv-feedbench BASE_URL COUNT [CA_BUNDLE]   (feeds are BASE_URL/feed/f0 ... f{COUNT-1}, kind github)
import Foundation
import ITVCore
import ITVEngine
import ITVFeeds

actor PassCounter: FeedWatcherDelegate {
    var polled = 0
    var offered = 0
    var failed = 0
    var candidates: Set<String> = []
    private var waiter: (target: Int, continuation: CheckedContinuation<Void, Never>)?

    func feed(_ procedure: String, spec: FeedSpec, offered extraction: FeedExtraction, at: Date) -> Bool {
        offered += 1
        candidates.formUnion(extraction.candidates)
        return true
    }
    func feed(_ procedure: String, broke error: FeedPollError, at: Date) {
        FileHandle.standardError.write(Data("\(procedure): \(error)\n".utf8))
    }
    func feedRecovered(_ procedure: String, at: Date) {}
    func feedPolled(_ procedure: String, outcome: FeedPollOutcome, at: Date) {
        polled += 1
        if case .failed = outcome { failed += 1 }
        if let w = waiter, polled >= w.target {
            waiter = nil
            w.continuation.resume()
        }
    }
    func wait(untilPolled target: Int) async {
        if polled >= target { return }
        await withCheckedContinuation { waiter = (target, $0) }
    }
    func snapshot() -> (Int, Int, Int) { (polled, offered, failed) }
}

func cpuSeconds() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
}

let args = CommandLine.arguments

// `itv-feedbench hash FILE`: SHA-256 of a file through OpenSSL as the artifact cache computes it.
// `itv-feedbench artifact URL SUMS_URL CA_BUNDLE [CACHE_DIR]`: one artifact download (stream, hash, fsync, rename) through
// the production source, into a temporary cache (or CACHE_DIR, a sixth argument, kept).
if args.count == 3, args[1] == "hash" {
    let cpu0 = cpuSeconds()
    let t0 = ContinuousClock.now
    let digest = try sha256OfFile(args[2])
    let wall = ContinuousClock.now - t0
    let seconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
    let size = (try FileManager.default.attributesOfItem(atPath: args[2])[.size] as? NSNumber)?.doubleValue ?? 0
    print(
        String(
            format: "itv hash (OpenSSL EVP): %.0f MB/s, %.3f s wall, %.3f CPU-s, %@", size / 1e6 / seconds, seconds,
            cpuSeconds() - cpu0, digest))
    exit(0)
}
// With a sixth argument the cache is that directory and is kept (the kill -9 test looks at it).
if args.count == 5 || args.count == 6, args[1] == "artifact" {
    let cache =
        args.count == 6
        ? args[5] : FileManager.default.temporaryDirectory.appendingPathComponent("itv-bench-\(UUID().uuidString)").path
    defer { if args.count == 5 { try? FileManager.default.removeItem(atPath: cache) } }
    let fetcher = CurlFeedFetcher(configuration: .init(caBundlePath: args[4]))
    let source = try CurlArtifactSource(fetcher: fetcher, directory: cache)
    let spec = ArtifactSpec(url: args[2], checksums: .sha256sum(url: args[3]))
    let cpu0 = cpuSeconds()
    let t0 = ContinuousClock.now
    let outcome = await source.obtain(ArtifactRequest(procedure: "bench", version: "1", spec: spec))
    let wall = ContinuousClock.now - t0
    let seconds = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
    guard case .verified(let a) = outcome else {
        print("itv artifact download failed: \(outcome)")
        exit(1)
    }
    print(
        String(
            format: "itv artifact download (https, hash while streaming, fsync, rename): %.0f MB/s, %.3f s wall, "
                + "%.3f CPU-s, %@", Double(a.size) / 1e6 / seconds, seconds, cpuSeconds() - cpu0, a.sha256))
    fetcher.close()
    exit(0)
}
guard args.count == 3 || args.count == 4, let count = Int(args[2]), count > 0 else {
    FileHandle.standardError.write(Data("usage: itv-feedbench BASE_URL COUNT [CA_BUNDLE]\n".utf8))
    exit(64)
}
let base = args[1]
let counter = PassCounter()
let fetcher = CurlFeedFetcher(configuration: .init(caBundlePath: args.count == 4 ? args[3] : nil))
let watcher = FeedWatcher(fetcher: fetcher, parser: FeedExtractor(), delegate: counter)
var specs: [String: FeedSpec] = [:]
for i in 0..<count {
    specs["f\(i)"] = FeedSpec(
        kind: .github, url: "\(base)/feed/f\(i)", every: TimeSpan(seconds: 3_600),
        allowHTTP: base.hasPrefix("http://"))
}
await watcher.setFeeds(specs)
let loop = Task { await watcher.run() }
let clock = ContinuousClock()
for (pass, label) in [(1, "full"), (2, "304")] {
    let (polledBefore, offeredBefore, failedBefore) = await counter.snapshot()
    let cpu0 = cpuSeconds()
    let t0 = clock.now
    await watcher.pollNow()
    await counter.wait(untilPolled: pass * count)
    let wall = clock.now - t0
    let cpu = cpuSeconds() - cpu0
    let (polled, offered, failed) = await counter.snapshot()
    let w = Double(wall.components.seconds) + Double(wall.components.attoseconds) / 1e18
    print(
        String(
            format: "itv %@ %@ pass: %.3f s wall, %.3f CPU-s (%d polled, %d documents read, %d failed)",
            base.hasPrefix("https") ? "https" : "http", label, w, cpu,
            polled - polledBefore, offered - offeredBefore, failed - failedBefore))
}
loop.cancel()
await loop.value
fetcher.close()
