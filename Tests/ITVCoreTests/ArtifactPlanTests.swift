import Testing

@testable import ITVCore

// The artifact in the plan and its hash, the `artifact:` URL template and the checksum list reader.

private let artifact = PlannedArtifact(
    name: "Firefox-Setup-115.3.1esr.exe", size: 61_234_567, sha256: "ab" + String(repeating: "ab", count: 31))

private func plan(_ input: HashInput, _ artifact: PlannedArtifact?) throws -> RolloutPlan {
    try WavePlanner.plan(
        playbook: input.playbook, inventory: input.inventory, version: input.version, artifact: artifact
    ).get()
}

@Test func aPlanWithoutArtifactKeepsItsHash() throws {
    // The golden hash of PlanHashTests: plans made before artifacts existed keep their hash (and approvals).
    let p = try plan(HashInput.base, nil)
    #expect(p.hash == "153fd0071a6a59ac23812f914b212461c6bae023f669068945252905254ded21")
    #expect(p.artifact == nil)
}

/// The python script of `hashMatchesTheDocumentedEncoding`, with one line more:
/// `out += s('artifact') + s('Firefox-Setup-115.3.1esr.exe') + i(61234567) + s('ab'*32)`.
@Test func theArtifactIsAppendedToTheDocumentedEncoding() throws {
    let p = try plan(HashInput.base, artifact)
    #expect(p.hash == "51e7c13dc1f6ae6fd366c97a750dfa1b7709cdd578968f06c0c1ebeffc649643")
    #expect(p.artifact == artifact)
}

@Test(arguments: [
    PlannedArtifact(name: "Firefox-Setup-115.3.1esr.msi", size: 61_234_567, sha256: artifact.sha256),
    PlannedArtifact(name: artifact.name, size: 61_234_568, sha256: artifact.sha256),
    PlannedArtifact(name: artifact.name, size: artifact.size, sha256: "cd" + artifact.sha256.dropFirst(2)),
])
func everyFieldOfTheArtifactIsInTheHash(_ other: PlannedArtifact) throws {
    // A vendor that replaces the file under the same version changes the hash: approvals no longer count.
    #expect(try plan(HashInput.base, other).hash != plan(HashInput.base, artifact).hash)
    #expect(try plan(HashInput.base, other).hash != plan(HashInput.base, nil).hash)
}

@Test func theURLTemplateTakesOnlyTheVersion() {
    let spec = ArtifactSpec(
        url: "https://vendor.example/dl/{{version}}/tool-{{ version }}.tar.gz",
        checksums: .sha256sum(url: "https://vendor.example/dl/{{version}}/SHA256SUMS"))
    #expect(spec.url(for: "1.2.3") == "https://vendor.example/dl/1.2.3/tool-1.2.3.tar.gz")
    #expect(spec.fileName(for: "1.2.3") == "tool-1.2.3.tar.gz")
    #expect(spec.url(for: "1:2.0+b1") == "https://vendor.example/dl/1%3A2.0%2Bb1/tool-1%3A2.0%2Bb1.tar.gz")
    var named = spec
    named.name = "setup-{{version}}.exe"
    #expect(named.fileName(for: "2.0") == "setup-2.0.exe")
    #expect(ArtifactSpec.lastSegment(of: "https://v.example/a/b.msi?token=1#x") == "b.msi")
    #expect(ArtifactSpec.isValidFileName("7z2408-x64.msi"))
    for bad in ["", ".hidden", "-rf", "a/b", "a b", "a\\b", "x;rm", String(repeating: "a", count: 256)] {
        #expect(!ArtifactSpec.isValidFileName(bad), "\(bad)")
    }
}

@Test func byteSizes() {
    #expect(ByteSize.parse("2GiB") == 2 << 30)
    #expect(ByteSize.parse("20GiB") == 20 << 30)
    #expect(ByteSize.parse("512") == 512)
    #expect(ByteSize.parse("10MB") == 10_000_000)
    #expect(ByteSize.parse("0") == 0)
    for bad in ["", "GiB", "1.5GiB", "-1", "01MiB", "1 GiB", "99999999999TiB", "1Gb"] {
        #expect(ByteSize.parse(bad) == nil, "\(bad)")
    }
    #expect(ByteSize.describe(2 << 30) == "2GiB")
    #expect(ByteSize.describe(1_000) == "1000")
}

private let digestA = String(repeating: "a", count: 64)
private let digestB = String(repeating: "b", count: 64)

@Test func checksumListFindsTheEntryByName() {
    let list = Array(
        """
        # comment
        \(digestB)  other-1.0.tar.gz
        \(digestA.uppercased()) *tool-1.0.tar.gz
        SHA256 (tool-1.0.zip) = \(digestB)
        not a line at all
        \r
        """.utf8)
    #expect(ChecksumFile.sha256(for: "tool-1.0.tar.gz", in: list) == .success(digestA))
    #expect(ChecksumFile.sha256(for: "tool-1.0.zip", in: list) == .success(digestB))
    #expect(
        ChecksumFile.sha256(for: "tool-1.0", in: list)
            == .failure(.missingEntry(name: "tool-1.0", entries: 3, malformed: 1)))
}

@Test func checksumListRefusesTwoDifferentDigestsForOneName() {
    let list = Array("\(digestA)  t.msi\n\(digestB)  ./t.msi\n".utf8)
    #expect(ChecksumFile.sha256(for: "t.msi", in: list) == .failure(.conflictingEntries(name: "t.msi")))
    let same = Array("\(digestA)  t.msi\n\(digestA)  t.msi\n".utf8)
    #expect(ChecksumFile.sha256(for: "t.msi", in: same) == .success(digestA))
}

@Test func hostileChecksumListsAreReadInOnePass() {
    // 100,000 entries, then malformed lines of every kind, then the one wanted: linear, no surprises.
    var text = ""
    for i in 0..<100_000 { text += "\(digestB)  f\(i).bin\n" }
    text += String(repeating: "z", count: 200_000) + "\n"
    text += "\(digestA.dropLast())  short.bin\n\(digestA)\tt.bin\n\(digestA) t.bin\n\u{0}\u{1}\u{ff}\n"
    text += String(repeating: "\n", count: 10_000)
    text += "\(digestA)  wanted.bin"
    let bytes = Array(text.utf8)
    #expect(ChecksumFile.sha256(for: "wanted.bin", in: bytes) == .success(digestA))
    #expect(
        ChecksumFile.sha256(for: "t.bin", in: bytes)
            == .failure(.missingEntry(name: "t.bin", entries: 100_001, malformed: 5)))
}
