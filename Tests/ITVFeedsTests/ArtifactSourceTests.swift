import Foundation
import ITVCore
import ITVEngine
import ITVTestSupport
import Testing

@testable import ITVFeeds

/// The artifact path against real components: the feeds' HTTPS server (own CA) serving artifact, checksum
/// file and signature and counting requests; keys made by `gpg --quick-gen-key` and by `minisign`; `gpgv`.
private final class ArtifactWorld: @unchecked Sendable {
    let server: TestServer
    let fetcher: CurlFeedFetcher
    let cache: String
    let work: String

    init() throws {
        server = try TestServer()
        fetcher = CurlFeedFetcher(configuration: .init(caBundlePath: server.caPath))
        work = FileManager.default.temporaryDirectory.appendingPathComponent("itv-art-\(UUID().uuidString)").path
        cache = work + "/artifacts"
        try FileManager.default.createDirectory(
            atPath: server.directory.path + "/files", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
    }

    func stop() {
        fetcher.close()
        server.stop()
        if FileManager.default.fileExists(atPath: work + "/gnupg") {
            _ = try? run("/usr/bin/gpgconf", ["--kill", "gpg-agent"], env: ["GNUPGHOME": work + "/gnupg"])
        }
        try? FileManager.default.removeItem(atPath: work)
    }

    func source() throws -> CurlArtifactSource { try CurlArtifactSource(fetcher: fetcher, directory: cache) }

    @discardableResult
    func publish(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = server.directory.path + "/files/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func requests(_ name: String) throws -> Int { try server.stats().counts["/files/" + name] ?? 0 }

    /// Files with a final name in the cache, and leftovers (`.partial-*`, scratch directories).
    func cacheNames() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: cache + "/sha256")) ?? []).sorted()
    }

    @discardableResult
    func run(_ tool: String, _ args: [String], env: [String: String] = [:], input: Data? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        let inPipe = Pipe()
        p.standardInput = inPipe
        try p.run()
        if let input { inPipe.fileHandleForWriting.write(input) }
        try inPipe.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else {
            throw ArtifactSinkError("\(tool) \(args.joined(separator: " ")) failed: \(text)")
        }
        return text
    }

    /// A fresh OpenPGP key (made in this test) and its public keyring exported for gpgv.
    func gpgKey(_ name: String) throws -> (home: String, keyring: String) {
        let home = work + "/gnupg-" + name
        try FileManager.default.createDirectory(
            atPath: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let env = ["GNUPGHOME": home]
        try run(
            "/usr/bin/gpg",
            [
                "--batch", "--passphrase", "", "--quick-gen-key", "\(name) <\(name)@vendor.example>", "ed25519", "sign",
                "never",
            ], env: env)
        let keyring = work + "/\(name).gpg"
        try run("/usr/bin/gpg", ["--batch", "--output", keyring, "--export"], env: env)
        return (home, keyring)
    }

    func gpgSign(home: String, file: String, output: String) throws {
        try run(
            "/usr/bin/gpg", ["--batch", "--yes", "--output", output, "--detach-sign", file], env: ["GNUPGHOME": home])
    }

    func killAgent(_ home: String) {
        _ = try? run("/usr/bin/gpgconf", ["--kill", "gpg-agent"], env: ["GNUPGHOME": home])
    }

    /// A minisign key pair made by the minisign tool (no password); the public key's base64 line.
    func minisignKey(_ name: String) throws -> (secret: String, publicKey: String) {
        let secret = work + "/\(name).key"
        let pub = work + "/\(name).pub"
        try run("/usr/bin/minisign", ["-G", "-W", "-p", pub, "-s", secret])
        let line = try String(contentsOfFile: pub, encoding: .utf8).split(separator: "\n")[1]
        return (secret, String(line))
    }

    func minisignSign(secret: String, file: String) throws {
        try run("/usr/bin/minisign", ["-S", "-s", secret, "-m", file, "-t", "itv test"])
    }
}

private func digest(_ bytes: [UInt8]) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("itv-h-\(UUID().uuidString)").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try sha256OfFile(path)
}

private func installer(_ size: Int, seed: UInt8 = 7) -> [UInt8] {
    var state = UInt32(seed) &* 2_654_435_761
    return (0..<size).map { _ in
        state = state &* 1_664_525 &+ 1_013_904_223
        return UInt8(truncatingIfNeeded: state >> 24)
    }
}

private func spec(
    _ world: ArtifactWorld, artifact: String = "/files/tool-{{version}}.bin", sums: String = "/files/SHA256SUMS",
    signature: ArtifactSignature? = nil, maxSize: Int64 = ArtifactSpec.defaultMaxSize
) -> ArtifactSpec {
    ArtifactSpec(
        url: world.server.https(artifact), maxSize: maxSize, checksums: .sha256sum(url: world.server.https(sums)),
        signature: signature)
}

private func rejection(_ outcome: ArtifactOutcome) -> ArtifactRejection? {
    if case .rejected(let r) = outcome { return r }
    return nil
}

@Suite(.serialized) struct ArtifactSourceTests {
    @Test func downloadsOnceVerifiesAndKeepsTheBytesUnderTheirHash() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let bytes = installer(3 << 20)
        let sha = try digest(bytes)
        try world.publish("tool-1.0.bin", bytes)
        try world.publish(
            "SHA256SUMS", Array("\(String(repeating: "0", count: 64))  other.bin\n\(sha)  tool-1.0.bin\n".utf8))
        let source = try world.source()
        let request = ArtifactRequest(procedure: "tool", version: "1.0", spec: spec(world))
        guard case .verified(let first) = await source.obtain(request) else {
            Issue.record("not verified")
            return
        }
        #expect(
            first
                == VerifiedArtifact(
                    url: world.server.https("/files/tool-1.0.bin"), name: "tool-1.0.bin", size: Int64(bytes.count),
                    sha256: sha,
                    verifiedBy: "sha256sum", downloaded: true))
        #expect(world.cacheNames() == [sha])
        #expect(try sha256OfFile(world.cache + "/sha256/" + sha) == sha)
        #expect(source.cachedFile(sha256: sha) == world.cache + "/sha256/" + sha)
        // Again, and from a new source over the same cache (a restart): the checksums are read again, the
        // artifact is not downloaded again.
        guard case .verified(let second) = await source.obtain(request),
            case .verified(let third) = await (try world.source()).obtain(request)
        else {
            Issue.record("not verified the second time")
            return
        }
        #expect(!second.downloaded && !third.downloaded && second.sha256 == sha && third.sha256 == sha)
        #expect(try world.requests("tool-1.0.bin") == 1)
        #expect(try world.requests("SHA256SUMS") == 3)
    }

    @Test func aTamperedArtifactIsRejectedWithBothHashesAndLeavesNothing() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let bytes = installer(1 << 20)
        let sha = try digest(bytes)
        var tampered = bytes
        tampered[500_000] ^= 0x01
        let actual = try digest(tampered)
        try world.publish("tool-1.0.bin", tampered)
        try world.publish("SHA256SUMS", Array("\(sha)  tool-1.0.bin\n".utf8))
        let outcome = await (try world.source()).obtain(
            ArtifactRequest(procedure: "tool", version: "1.0", spec: spec(world)))
        let r = try #require(rejection(outcome))
        #expect(r.kind == "checksum_mismatch")
        #expect(r.expected == sha && r.actual == actual)
        #expect(r.message.contains(sha) && r.message.contains(actual))
        #expect(world.cacheNames() == [], "no file under a final name, no partial file")
    }

    @Test func aMissingEntryAndConflictingEntriesAreRejectedBeforeAnyDownload() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let bytes = installer(1_000)
        try world.publish("tool-1.0.bin", bytes)
        try world.publish("SHA256SUMS", Array("\(try digest(bytes))  tool-0.9.bin\nmalformed line\n".utf8))
        let source = try world.source()
        let request = ArtifactRequest(procedure: "tool", version: "1.0", spec: spec(world))
        let r = try #require(rejection(await source.obtain(request)))
        #expect(r.kind == "missing_entry")
        #expect(r.message.contains("no entry for tool-1.0.bin (1 entries, 1 lines not entries)"))
        try world.publish(
            "SHA256SUMS",
            Array("\(try digest(bytes))  tool-1.0.bin\n\(String(repeating: "e", count: 64))  tool-1.0.bin\n".utf8))
        #expect(rejection(await source.obtain(request))?.kind == "conflicting_entries")
        #expect(try world.requests("tool-1.0.bin") == 0)
        #expect(world.cacheNames() == [])
    }

    /// A vendor lists the plain file name; the URL percent-encodes it (a space, and the `+` that `{{version}}`
    /// writes as %2B): the entry is the decoded name, and `../`, a directory or the encoded form are not it.
    @Test func theEntryIsTheDecodedFileNameOfTheURL() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let bytes = installer(2_000)
        let sha = try digest(bytes)
        let other = String(repeating: "e", count: 64)
        try world.publish("tool 1.0+b1.bin", bytes)
        try world.publish(
            "SHA256SUMS",
            Array(
                "\(other)  ../tool 1.0+b1.bin\n\(other)  x/tool 1.0+b1.bin\n\(other)  tool%201.0%2Bb1.bin\n\(sha) *tool 1.0+b1.bin\n"
                    .utf8))
        let source = try world.source()
        let named = spec(world, artifact: "/files/tool%20{{version}}.bin")
        guard
            case .verified(let a) = await source.obtain(ArtifactRequest(procedure: "t", version: "1.0+b1", spec: named))
        else {
            Issue.record("the decoded name's entry was not found")
            return
        }
        #expect(a.sha256 == sha && a.downloaded)
        // Only hostile look-alikes: no entry.
        try world.publish("SHA256SUMS", Array("\(sha)  ../tool 1.0+b1.bin\n\(sha)  tool%201.0%2Bb1.bin\n".utf8))
        let r = try #require(
            rejection(await source.obtain(ArtifactRequest(procedure: "t", version: "1.0+b1", spec: named))))
        #expect(r.kind == "missing_entry" && r.message.contains("no entry for tool 1.0+b1.bin"), "\(r.message)")
    }

    @Test func hostileChecksumFilesAreBounded() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let bytes = installer(1_000)
        try world.publish("tool-1.0.bin", bytes)
        // Over the 1 MiB cap: refused as a whole, nothing downloaded.
        try world.publish(
            "SHA256SUMS", Array(String(repeating: "\(String(repeating: "a", count: 64))  f.bin\n", count: 20_000).utf8))
        let source = try world.source()
        let request = ArtifactRequest(procedure: "tool", version: "1.0", spec: spec(world))
        #expect(rejection(await source.obtain(request))?.kind == "too_large")
        // 10,000 entries and junk within the cap: the entry is found.
        var text = ""
        for i in 0..<10_000 { text += "\(String(repeating: "b", count: 64))  f\(i).bin\n" }
        text += "\u{0}\u{7f}garbage\n  \n\(try digest(bytes)) *tool-1.0.bin\n"
        try world.publish("SHA256SUMS", Array(text.utf8))
        guard case .verified(let a) = await source.obtain(request) else {
            Issue.record("not verified")
            return
        }
        #expect(a.size == 1_000)
    }

    @Test func anOversizedArtifactIsRefusedAtTheCap() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let bytes = installer(2 << 20)
        try world.publish("tool-1.0.bin", bytes)
        try world.publish("SHA256SUMS", Array("\(try digest(bytes))  tool-1.0.bin\n".utf8))
        let outcome = await (try world.source()).obtain(
            ArtifactRequest(procedure: "tool", version: "1.0", spec: spec(world, maxSize: 1 << 20)))
        let r = try #require(rejection(outcome))
        #expect(r.kind == "too_large")
        #expect(r.message.contains("max_size (1MiB)"))
        #expect(world.cacheNames() == [])
    }

    @Test func aRedirectToPlainHTTPIsRefusedAndAnHTTPSRedirectFollowed() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let bytes = installer(10_000)
        try world.publish("tool-1.0.bin", bytes)
        try world.publish("SHA256SUMS", Array("\(try digest(bytes))  tool-1.0.bin\n".utf8))
        let source = try world.source()
        // The checksum entry is chosen by the artifact URL's last segment; the redirect target serves the file.
        let down = spec(world, artifact: "/files-to-http/tool-{{version}}.bin")
        let r = try #require(
            rejection(await source.obtain(ArtifactRequest(procedure: "t", version: "1.0", spec: down))))
        #expect(r.kind == "redirect_refused")
        #expect(world.cacheNames() == [])
        let same = spec(world, artifact: "/files-redirect/tool-{{version}}.bin")
        guard case .verified = await source.obtain(ArtifactRequest(procedure: "t", version: "1.0", spec: same)) else {
            Issue.record("an https redirect on the same server was not followed")
            return
        }
    }

    @Test func gpgSignaturesAreCheckedWithGpgvAgainstThePlaybooksKeyring() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let vendor = try world.gpgKey("vendor")
        let mallory = try world.gpgKey("mallory")
        defer {
            world.killAgent(vendor.home)
            world.killAgent(mallory.home)
        }
        let bytes = installer(50_000)
        try world.publish("tool-1.0.bin", bytes)
        let sums = try world.publish("SHA256SUMS", Array("\(try digest(bytes))  tool-1.0.bin\n".utf8))
        try world.gpgSign(home: vendor.home, file: sums, output: world.server.directory.path + "/files/SHA256SUMS.sig")
        let signed = spec(
            world, signature: .gpg(url: world.server.https("/files/SHA256SUMS.sig"), keyring: vendor.keyring))
        let source = try world.source()
        let request = ArtifactRequest(procedure: "tool", version: "1.0", spec: signed)
        guard case .verified(let a) = await source.obtain(request) else {
            Issue.record("a good gpg signature was not accepted")
            return
        }
        #expect(a.verifiedBy == "sha256sum+gpg")
        // A tampered checksum file under the vendor's signature.
        try world.publish("SHA256SUMS", Array("\(String(repeating: "c", count: 64))  tool-1.0.bin\n".utf8))
        let tampered = try #require(rejection(await source.obtain(request)))
        #expect(tampered.kind == "bad_signature")
        #expect(tampered.message.contains("BADSIG"))
        // A valid signature by a key that is not the playbook's.
        try world.publish("SHA256SUMS", Array("\(try digest(bytes))  tool-1.0.bin\n".utf8))
        try world.gpgSign(home: mallory.home, file: sums, output: world.server.directory.path + "/files/SHA256SUMS.sig")
        let wrongKey = try #require(rejection(await source.obtain(request)))
        #expect(wrongKey.kind == "bad_signature")
        #expect(wrongKey.message.contains("NO_PUBKEY") || wrongKey.message.contains("ERRSIG"))
        #expect(world.cacheNames() == [a.sha256], "no gpg scratch directory left behind")
    }

    @Test func minisignSignaturesAreCheckedWithOpenSSL() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let vendor = try world.minisignKey("vendor")
        let mallory = try world.minisignKey("mallory")
        let bytes = installer(50_000)
        try world.publish("tool-1.0.bin", bytes)
        let sums = try world.publish("SHA256SUMS", Array("\(try digest(bytes))  tool-1.0.bin\n".utf8))
        try world.minisignSign(secret: vendor.secret, file: sums)
        let signed = spec(
            world,
            signature: .minisign(url: world.server.https("/files/SHA256SUMS.minisig"), publicKey: vendor.publicKey))
        let source = try world.source()
        let request = ArtifactRequest(procedure: "tool", version: "1.0", spec: signed)
        guard case .verified(let a) = await source.obtain(request) else {
            Issue.record("a good minisign signature was not accepted")
            return
        }
        #expect(a.verifiedBy == "sha256sum+minisign")
        // The signature file with one bit of the signature flipped, and a tampered checksum file.
        let sigPath = sums + ".minisig"
        let good = try String(contentsOfFile: sigPath, encoding: .utf8)
        var lines = good.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var raw = Array(Data(base64Encoded: lines[1])!)
        raw[20] ^= 0x01
        lines[1] = Data(raw).base64EncodedString()
        try lines.joined(separator: "\n").write(toFile: sigPath, atomically: true, encoding: .utf8)
        #expect(rejection(await source.obtain(request))?.message.contains("does not match the document") == true)
        try good.write(toFile: sigPath, atomically: true, encoding: .utf8)
        try world.publish("SHA256SUMS", Array("\(String(repeating: "d", count: 64))  tool-1.0.bin\n".utf8))
        #expect(rejection(await source.obtain(request))?.kind == "bad_signature")
        // A changed trusted comment.
        try world.publish("SHA256SUMS", Array("\(try digest(bytes))  tool-1.0.bin\n".utf8))
        try good.replacingOccurrences(of: "trusted comment: itv test", with: "trusted comment: itv tost")
            .write(toFile: sigPath, atomically: true, encoding: .utf8)
        #expect(rejection(await source.obtain(request))?.message.contains("trusted comment") == true)
        // Signed by another key.
        try world.minisignSign(secret: mallory.secret, file: sums)
        #expect(rejection(await source.obtain(request))?.message.contains("another key") == true)
    }

    @Test func jsonChecksumsAreSelectedByPath() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let bytes = installer(4_096)
        try world.publish("tool-2.0.bin", bytes)
        try world.publish(
            "sums.json", Array(#"{"files": {"tool-2.0.bin": {"sha256": "\#(try digest(bytes).uppercased())"}}}"#.utf8))
        let json = ArtifactSpec(
            url: world.server.https("/files/tool-{{version}}.bin"),
            checksums: .json(
                url: world.server.https("/files/sums.json"), select: #"files["tool-{{version}}.bin"].sha256"#))
        guard
            case .verified(let a) = await (try world.source()).obtain(
                ArtifactRequest(procedure: "t", version: "2.0", spec: json))
        else {
            Issue.record("not verified")
            return
        }
        #expect(a.verifiedBy == "json" && a.size == 4_096)
    }

    /// A real process (`itv-feedbench artifact`, the production source) killed with SIGKILL in the middle of a
    /// download: the cache holds only its `.partial-*` file, never a file under a final name; the next start
    /// removes it, and the next attempt downloads and verifies in full.
    @Test func killNineDuringADownloadLeavesNothingUnderAFinalName() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let bytes = installer(4 << 20)
        let sha = try digest(bytes)
        try world.publish("big-1.0.bin", bytes)
        try world.publish("SHA256SUMS", Array("\(sha)  big-1.0.bin\n".utf8))
        let bin = ProcessInfo.processInfo.environment["ITV_BIN_DIR"] ?? ServerProcess.repository + "/.build/debug"
        let p = try ServerProcess(
            bin + "/itv-feedbench",
            [
                "artifact", world.server.https("/files-slow/big-1.0.bin"), world.server.https("/files/SHA256SUMS"),
                world.server.caPath, world.cache,
            ])
        func partialBytes() -> Int {
            world.cacheNames().filter { $0.hasPrefix(".partial-") }.reduce(0) { total, name in
                let size = try? FileManager.default.attributesOfItem(atPath: world.cache + "/sha256/" + name)[.size]
                return total + ((size as? NSNumber)?.intValue ?? 0)
            }
        }
        let deadline = Date().addingTimeInterval(60)
        while partialBytes() < 256 * 1024, Date() < deadline, p.isRunning {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(p.isRunning, "the download ended before it could be killed")
        p.kill9()
        let left = world.cacheNames()
        #expect(!left.isEmpty && left.allSatisfy { $0.hasPrefix(".partial-") }, "\(left)")
        #expect(partialBytes() < bytes.count)
        // The next start removes the partial file; nothing unverified is ever used.
        let source = try world.source()
        #expect(world.cacheNames() == [])
        #expect(source.cachedFile(sha256: sha) == nil)
        let request = ArtifactRequest(
            procedure: "big", version: "1.0", spec: spec(world, artifact: "/files/big-{{version}}.bin"))
        guard case .verified(let a) = await source.obtain(request) else {
            Issue.record("not verified after the restart")
            return
        }
        #expect(a.downloaded && a.size == Int64(bytes.count))
        #expect(world.cacheNames() == [sha])
        #expect(try sha256OfFile(world.cache + "/sha256/" + sha) == sha)
    }

    /// 300 procedures' artifacts (the cooperative's field size), each its own release: one download each,
    /// every file under its hash, and a second pass downloads nothing.
    @Test func threeHundredProceduresEachDownloadOnce() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        var sums = ""
        var digests: [String] = []
        for i in 0..<300 {
            let bytes = installer(8_192 + i, seed: UInt8(truncatingIfNeeded: i))
            try world.publish("app\(i)-1.0.bin", bytes)
            let d = try digest(bytes)
            digests.append(d)
            sums += "\(d)  app\(i)-1.0.bin\n"
        }
        try world.publish("SHA256SUMS", Array(sums.utf8))
        let source = try world.source()
        for pass in 0..<2 {
            let outcomes = await withTaskGroup(of: ArtifactOutcome.self) { group in
                for i in 0..<300 {
                    let s = spec(world, artifact: "/files/app\(i)-{{version}}.bin")
                    group.addTask {
                        await source.obtain(ArtifactRequest(procedure: "app\(i)", version: "1.0", spec: s))
                    }
                }
                var all: [ArtifactOutcome] = []
                for await o in group { all.append(o) }
                return all
            }
            let verified = outcomes.compactMap { o -> VerifiedArtifact? in
                if case .verified(let a) = o { return a }
                return nil
            }
            #expect(
                verified.count == 300,
                "pass \(pass): \(outcomes.filter { if case .verified = $0 { false } else { true } }.prefix(3))")
            #expect(verified.filter(\.downloaded).count == (pass == 0 ? 300 : 0))
        }
        #expect(Set(world.cacheNames()) == Set(digests))
        let counts = try world.server.stats().counts
        #expect((0..<300).allSatisfy { counts["/files/app\($0)-1.0.bin"] == 1 })
    }

    /// `artifacts.max_bytes`: the oldest files go first, kept ones never, leftovers are not counted.
    @Test func trimRemovesTheOldestFilesButNeverTheKeptOnes() throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let source = try world.source()
        var names: [String] = []
        for i in 0..<5 {
            let name = String(repeating: "\(i)", count: 64)
            let path = world.cache + "/sha256/" + name
            try Data(count: 1_000).write(to: URL(fileURLWithPath: path))
            // Oldest first: file 0 is the oldest.
            try FileManager.default.setAttributes(
                [.modificationDate: Date(timeIntervalSince1970: 1_700_000_000 + Double(i) * 60)], ofItemAtPath: path)
            names.append(name)
        }
        try Data(count: 5_000).write(to: URL(fileURLWithPath: world.cache + "/sha256/.partial-1"))
        try Data(count: 7).write(to: URL(fileURLWithPath: world.cache + "/sha256/not-a-digest"))
        // What `itvctl artifact list` counts: the verified files only, one listing.
        #expect(source.cachedSizes() == Dictionary(uniqueKeysWithValues: names.map { ($0, Int64(1_000)) }))
        #expect(source.trim(maxBytes: 10_000, keep: []) == ([], 5_000))
        let result = source.trim(maxBytes: 2_500, keep: [names[0]])
        #expect(result.removed == [names[1], names[2], names[3]])
        #expect(result.bytes == 2_000)
        #expect(world.cacheNames() == [".partial-1", names[0], names[4], "not-a-digest"])
        #expect(source.cachedSizes() == [names[0]: 1_000, names[4]: 1_000])
        // Everything kept: the cache may stay above the bound.
        #expect(source.trim(maxBytes: 0, keep: [names[0], names[4]]) == ([], 2_000))
    }

    @Test func leftoversOfAnInterruptedDownloadAreRemovedAtStart() throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        _ = try world.source()
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: world.cache + "/sha256/.partial-123"))
        try FileManager.default.createDirectory(
            atPath: world.cache + "/sha256/.gpg-9", withIntermediateDirectories: true)
        _ = try world.source()
        #expect(world.cacheNames() == [])
    }
}

/// `sha256_from_feed` end to end over the real HTTPS server: the json feed announces versions with their digests,
/// the watcher and the detector keep the announcing entry's digest with each release, and the artifact source
/// verifies the bytes against it.
@Suite(.serialized) struct FeedDigestTests {
    /// One watcher round over the current feed document: the release the detector recorded, if any.
    private func detect(
        _ world: ArtifactWorld, _ feed: String, spec: FeedSpec, detector: ReleaseDetector, ledger: MemoryLedger
    ) async throws -> ReleaseRecord? {
        try world.publish("feed.json", Array(feed.utf8))
        let before = await ledger.records.count
        var policy = FeedPolicy()
        policy.initialSpread = .milliseconds(10)
        let delegate = CountingDetector(detector)
        let watcher = FeedWatcher(fetcher: world.fetcher, parser: FeedExtractor(), delegate: delegate, policy: policy)
        await watcher.setFeeds(["tool": spec])
        await run(watcher, timeout: .seconds(60)) { await delegate.polled >= 1 }
        let records = await ledger.records
        return records.count > before ? records.last : nil
    }

    @Test("sha256_from_feed added after the release was seen: the next poll stores the digest, which then verifies")
    func aDigestAddedLaterVerifiesTheRecordedRelease() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let good = installer(1 << 20, seed: 5)
        let sha = try digest(good)
        try world.publish("tool-3.0.bin", good)
        let feed = #"{"releases": [{"version": "3.0", "hashes": {"sha256": "\#(sha)"}}]}"#
        var feedSpec = FeedSpec(kind: .json, url: world.server.https("/files/feed.json"), select: "releases[*].version")
        let ledger = MemoryLedger()
        let detector = ReleaseDetector(ledger: ledger, sink: EventLog())
        // Seen while the playbook had no sha256_from_feed: recorded without a digest, and its artifact refused.
        let seen = try #require(try await detect(world, feed, spec: feedSpec, detector: detector, ledger: ledger))
        #expect(seen.version == "3.0" && seen.feedSHA256 == nil)
        let artifact = ArtifactSpec(
            url: world.server.https("/files/tool-{{version}}.bin"), checksums: .feed(select: "hashes.sha256"))
        let source = try world.source()
        let refused = await source.obtain(ArtifactRequest(procedure: "tool", version: "3.0", spec: artifact))
        #expect(rejection(refused)?.kind == "missing_entry")
        // The playbook gains the key (a reload resets the detector's procedure): the next poll stores the digest
        // with the recorded release, as first seen; no new release.
        await detector.reset("tool")
        feedSpec.digestSelect = "hashes.sha256"
        #expect(try await detect(world, feed, spec: feedSpec, detector: detector, ledger: ledger) == nil)
        let records = await ledger.records
        #expect(records.count == 1 && records[0].feedSHA256 == sha && records[0].firstSeen == seen.firstSeen)
        let outcome = await source.obtain(
            ArtifactRequest(procedure: "tool", version: "3.0", spec: artifact, feedSHA256: records[0].feedSHA256))
        guard case .verified(let v) = outcome else {
            Issue.record("3.0 not verified: \(outcome)")
            return
        }
        #expect(v.verifiedBy == "feed" && v.sha256 == sha)
    }

    @Test("the feed's digest verifies the bytes; a tampered file, a missing or malformed digest reject the release")
    func theFeedsDigestVerifiesTheArtifact() async throws {
        let world = try ArtifactWorld()
        defer { world.stop() }
        let good = installer(1 << 20, seed: 3)
        let sha = try digest(good)
        // 2.1's real installer, and what the server serves instead (one bit differs).
        let fresh = installer(1 << 20, seed: 4)
        let freshSHA = try digest(fresh)
        var tampered = fresh
        tampered[4_096] ^= 0x80
        let tamperedSHA = try digest(tampered)
        try world.publish("tool-2.0.bin", good)
        try world.publish("tool-2.1.bin", tampered)
        try world.publish("tool-2.2.bin", good)
        try world.publish("tool-2.3.bin", good)
        let feedSpec = FeedSpec(
            kind: .json, url: world.server.https("/files/feed.json"), select: "releases[*].version",
            digestSelect: "hashes.sha256")
        let artifact = ArtifactSpec(
            url: world.server.https("/files/tool-{{version}}.bin"), checksums: .feed(select: "hashes.sha256"))
        let ledger = MemoryLedger()
        let detector = ReleaseDetector(ledger: ledger, sink: EventLog())
        let source = try world.source()
        func entry(_ version: String, _ hashes: String) -> String {
            #"{"version": "\#(version)", "url": "https://x/\#(version)", "hashes": \#(hashes)}"#
        }
        var entries = [
            entry("1.9", #"{"sha256": "\#(String(repeating: "1", count: 64))"}"#),
            entry("2.0", #"{"sha256": "\#(sha)"}"#),
        ]
        /// Publishes the feed with `entries`, lets the watcher and detector see it, and asks the artifact source
        /// for the release recorded, with the digest kept with it.
        func announce() async throws -> (ReleaseRecord, ArtifactOutcome) {
            let feed = #"{"releases": [\#(entries.joined(separator: ", "))]}"#
            let r = try #require(try await detect(world, feed, spec: feedSpec, detector: detector, ledger: ledger))
            let outcome = await source.obtain(
                ArtifactRequest(procedure: "tool", version: r.version, spec: artifact, feedSHA256: r.feedSHA256))
            return (r, outcome)
        }

        // 2.0: the entry's digest is the bytes' digest: verified "by feed", kept with the release.
        let (r20, verified) = try await announce()
        #expect(r20.version == "2.0" && r20.feedSHA256 == sha)
        guard case .verified(let v) = verified else {
            Issue.record("2.0 not verified: \(verified)")
            return
        }
        #expect(v.verifiedBy == "feed" && v.sha256 == sha && v.downloaded)

        // 2.1: the server's file was tampered with: the bytes differ from what the feed announced.
        entries.append(entry("2.1", #"{"sha256": "\#(freshSHA)"}"#))
        let (r21, tamperedOutcome) = try await announce()
        #expect(r21.version == "2.1" && r21.feedSHA256 == freshSHA)
        let mismatch = try #require(rejection(tamperedOutcome))
        #expect(
            mismatch.kind == "checksum_mismatch" && mismatch.expected == freshSHA && mismatch.actual == tamperedSHA)

        // 2.2: the entry has no digest at the path: rejected before any download, saying where it looked.
        entries.append(entry("2.2", #"{"md5": "abc"}"#))
        let (r22, missingOutcome) = try await announce()
        #expect(r22.version == "2.2" && r22.feedSHA256 == nil)
        let missing = try #require(rejection(missingOutcome))
        #expect(missing.kind == "missing_entry")
        #expect(missing.message == "the feed entry of 2.2 has no SHA-256 at 'hashes.sha256'")
        #expect(try world.requests("tool-2.2.bin") == 0)

        // 2.3: hostile values (an escape sequence, a number, an object; two entries that disagree): refused as
        // not a SHA-256, shown escaped, never downloaded.
        for (n, hashes) in [
            #"{"sha256": "\u001b[2J\#(String(repeating: "a", count: 60))"}"#, #"{"sha256": 12345}"#,
            #"{"sha256": {"hex": "\#(sha)"}}"#, #"{"sha256": "\#(sha.uppercased())x"}"#,
        ].enumerated() {
            let version = "2.3.\(n)"
            try world.publish("tool-\(version).bin", good)
            entries.append(entry(version, hashes))
            let (r, outcome) = try await announce()
            #expect(r.version == version)
            let bad = try #require(rejection(outcome))
            #expect(bad.kind == "bad_checksums", "\(hashes)")
            #expect(bad.message.hasPrefix("the feed entry of \(version) gives '"))
            #expect(!bad.message.contains("\u{1b}"))
            #expect(try world.requests("tool-\(version).bin") == 0)
        }
        entries.append(entry("2.4", #"{"sha256": "\#(sha)"}"#))
        entries.append(entry("2.4", #"{"sha256": "\#(tamperedSHA)"}"#))
        let (r24, twiceOutcome) = try await announce()
        #expect(r24.version == "2.4")
        let twice = try #require(rejection(twiceOutcome))
        #expect(twice.kind == "bad_checksums" && twice.message.contains("two entries of 2.4 give different values"))
        #expect(world.cacheNames() == [sha], "only the verified bytes are in the cache")
    }
}
