import Foundation
import ITVCore
import ITVEngine
import Testing

@testable import ITVStore

/// The `artifacts` table (migration `v_artifacts`): one record per procedure and version, upserted, kept
/// across a reopen of the real SQLite file.
@Suite struct ArtifactRecordTests {
    @Test func artifactRecordsRoundTripAndAreUpserted() async throws {
        try await withTemporaryDirectory { root in
            let sha = String(repeating: "a", count: 64)
            let verified = ArtifactRecord(
                procedure: "7zip", version: "24.08", url: "https://www.7-zip.org/a/7z2408-x64.msi", state: .verified,
                name: "7z2408-x64.msi", size: 1_605_632, sha256: sha, verifiedBy: "sha256sum+gpg", at: 10)
            let rejected = ArtifactRecord(
                procedure: "7zip", version: "24.09", url: "https://www.7-zip.org/a/7z2409-x64.msi", state: .rejected,
                name: "7z2409-x64.msi", rejection: "checksum_mismatch", message: "bytes differ", expected: sha,
                actual: String(repeating: "b", count: 64), at: 20)
            try await withStore(in: root) { store in
                try await store.commit([.artifact(verified), .artifact(rejected)])
                #expect(try await store.artifacts() == [verified, rejected])
            }
            // Reopened: kept; a later record of the same release replaces it (the vendor replaced the file).
            var replaced = verified
            replaced.sha256 = String(repeating: "c", count: 64)
            replaced.at = 30
            try await withStore(in: root) { store in
                #expect(try await store.artifacts() == [verified, rejected])
                try await store.commit([.artifact(replaced)])
                #expect(try await store.artifacts() == [rejected, replaced].sorted { $0.at < $1.at })
            }
        }
    }

    /// `sha256_from_feed` (migration `v_release_feed_sha256`): the digest a feed entry announced is kept with the
    /// release across a reopen; releases without one read back as nil.
    @Test func aReleaseKeepsTheDigestItsFeedAnnounced() async throws {
        try await withTemporaryDirectory { root in
            let sha = String(repeating: "d", count: 64)
            let withDigest = ReleaseRecord(
                procedure: "tool", version: "2.0", firstSeen: 10, feedURL: "https://v.example/feed.json",
                feedSHA256: sha)
            let hostile = ReleaseRecord(
                procedure: "tool", version: "2.1", firstSeen: 20, feedURL: "https://v.example/feed.json",
                feedSHA256: "'); DROP TABLE releases; --\u{1b}[2J")
            let without = ReleaseRecord(procedure: "tool", version: "2.2", firstSeen: 30, feedURL: "https://v/f")
            try await withStore(in: root) { store in
                try await store.commit([.release(withDigest), .release(hostile), .release(without)])
            }
            try await withStore(in: root) { store in
                let releases = try await store.releases(procedure: "tool")
                #expect(releases == [withDigest, hostile, without])
            }
        }
    }
}
