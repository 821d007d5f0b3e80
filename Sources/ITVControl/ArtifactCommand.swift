import ArgumentParser
import Foundation
import ITVProtocol

struct ArtifactCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "artifact", abstract: "The verified installers itvd downloaded.", subcommands: [List.self])

    struct List: ClientCommand {
        static let configuration = CommandConfiguration(
            abstract: "The artifact cache: each release's artifact (verified or rejected) and the cache's size.")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Only this procedure.") var procedure: String?
        @Option(help: "At most this many records (1 to 5000, default 1000).") var limit: Int?

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let request = ArtifactListRequest(procedure: procedure, limit: limit)
            let (list, raw) = try api.get(ArtifactListResponse.self, .artifactList, query: request.queryItems)
            if let total = list.total, total > list.artifacts.count {
                // Never silent about what the answer leaves out.
                FileHandle.standardError.write(
                    Data(
                        ("more: \(total - list.artifacts.count) of \(total) records not listed; narrow with "
                            + "--procedure or raise --limit (at most \(ArtifactListRequest.maxLimit))\n").utf8))
            }
            if global.json { return Output.json(raw) }
            Output.table(
                ["PROCEDURE", "VERSION", "SIZE", "SHA256", "VERIFIED-BY", "STATE"], list.artifacts.map(artifactRow))
            print(cacheLine(list))
        }
    }
}

/// One row of `artifact list`: the digest shortened to 16 hex digits (the JSON has it whole).
func artifactRow(_ a: ArtifactInfo) -> [String] {
    let state: String
    if a.state == "rejected" {
        state = "REJECTED (\(a.rejection ?? "?"))"
    } else if !a.cached {
        state = "verified, not cached"
    } else {
        state = "cached" + (a.keptBecause.map { ", kept: \($0)" } ?? "")
    }
    return [
        a.procedure, a.version, a.size.map(Output.bytes) ?? "-",
        a.sha256.map { String($0.prefix(16)) } ?? "-", a.verifiedBy ?? "-", state,
    ]
}

/// `cache: 1.2 GiB (1288490188 bytes) of max_bytes 20.0 GiB, 6%`.
func cacheLine(_ list: ArtifactListResponse) -> String {
    let percent = list.maxBytes > 0 ? ", \(list.cacheBytes / max(1, list.maxBytes / 100))%" : ""
    return "cache: \(Output.bytes(list.cacheBytes)) (\(list.cacheBytes) bytes) of max_bytes "
        + "\(Output.bytes(list.maxBytes))\(percent)"
}

extension Output {
    /// `512 B`, `1.5 KiB`, `12.3 MiB`, `2.0 GiB`.
    static func bytes(_ n: Int64) -> String {
        var value = Double(n)
        for unit in ["B", "KiB", "MiB", "GiB", "TiB"] {
            if value < 1024 || unit == "TiB" {
                return unit == "B" ? "\(n) B" : String(format: "%.1f", value) + " " + unit
            }
            value /= 1024
        }
        return "\(n) B"
    }
}
