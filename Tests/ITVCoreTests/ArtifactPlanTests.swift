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
/// `out += s('artifact') + s('Firefox-Setup-115.3.1esr.exe') + i(61234567) + s('ab'*32)`
/// `+ s('/var/cache/itv') + s('C:\\ProgramData\\itv\\cache')` (the default artifact directories).
@Test func theArtifactIsAppendedToTheDocumentedEncoding() throws {
    let p = try plan(HashInput.base, artifact)
    #expect(p.hash == "bd9bd3c4aaae8e8ea908b751ff04ef9050bc06652c789ff234eecd2f715e3fcd")
    #expect(p.artifact == artifact)
}

/// `steps.artifact_dir` decides where the approved bytes land on the hosts: part of the hash with an artifact
/// (per OS, the default when unset; a trailing separator is the same directory), and of no plan without one.
@Test func theArtifactDirectoryIsInTheHashOnlyWithAnArtifact() throws {
    var moved = HashInput.base
    moved.playbook.steps.artifactDir[.linux] = "/opt/itv/cache"
    #expect(try plan(moved, artifact).hash != plan(HashInput.base, artifact).hash)
    #expect(try plan(moved, nil).hash == "153fd0071a6a59ac23812f914b212461c6bae023f669068945252905254ded21")
    var windows = HashInput.base
    windows.playbook.steps.artifactDir[.windows] = #"D:\itv"#
    #expect(try plan(windows, artifact).hash != plan(HashInput.base, artifact).hash)
    #expect(try plan(windows, artifact).hash != plan(moved, artifact).hash)
    // The default written out, or with a trailing separator: the same place, the same plan.
    var explicit = HashInput.base
    explicit.playbook.steps.artifactDir = [.linux: "/var/cache/itv/", .windows: #"C:\ProgramData\itv\cache"#]
    #expect(try plan(explicit, artifact).hash == plan(HashInput.base, artifact).hash)
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

@Test func theEntryNameIsTheDecodedLastSegmentOfTheURL() {
    // Vendors list plain names: a space or a `+` (which `{{version}}` writes as %2B) is decoded.
    #expect(ChecksumFile.entryName(ofURL: "https://v.example/dl/7z%2024%20x64.msi?t=1#f") == "7z 24 x64.msi")
    let spec = ArtifactSpec(
        url: "https://v.example/dl/{{version}}/tool_{{version}}.deb", checksums: .sha256sum(url: "https://v.example/S"))
    #expect(ChecksumFile.entryName(ofURL: spec.url(for: "1.0+1")) == "tool_1.0+1.deb")
    #expect(ChecksumFile.entryName(ofURL: "https://v.example/%C3%A4pp.msi") == "äpp.msi")
    // Nothing that is not one plain file name: no entry is ever chosen for it.
    for bad in [
        "https://v.example/dl/", "https://v.example/a%2Fb.msi", "https://v.example/..", "https://v.example/%2e%2E",
        "https://v.example/.", "https://v.example/a%zz.msi", "https://v.example/a.msi%2", "https://v.example/a%ff.msi",
        "https://v.example/a%0A.msi", "https://v.example/a%0D", "https://v.example/a%00.msi", "https://v.example/a%5Cb",
        "https://v.example/a%E2%80%AE.msi", "https://v.example/a%7F.msi",
    ] {
        #expect(ChecksumFile.entryName(ofURL: bad) == nil, "\(bad)")
    }
}

@Test func hostileEntriesNeverStandForTheFile() {
    let bytes = Array(
        """
        \(digestB)  ../tool_1.0+1.deb
        \(digestB)  sub/tool_1.0+1.deb
        \(digestB)  /tmp/tool_1.0+1.deb
        \(digestB)  tool_1.0+1.deb\u{7}
        \(digestB)  tool_1.0+1.deb\u{20}
        \(digestB)   tool_1.0+1.deb
        \(digestB)  tool_1.0%2B1.deb
        \\\(digestB)  tool_1.0+1.deb
        \(digestB)  TOOL_1.0+1.DEB
        \(digestA) *./tool_1.0+1.deb
        \(digestB)  7z 24 x64.msi
        """.utf8)
    // Only the `./` entry is the file; `../`, directories, a bell, a trailing or a leading space, the encoded
    // name, GNU's escaped form and another case are other names.
    #expect(ChecksumFile.sha256(for: "tool_1.0+1.deb", in: bytes) == .success(digestA))
    #expect(ChecksumFile.sha256(for: "7z 24 x64.msi", in: bytes) == .success(digestB))
    #expect(
        ChecksumFile.sha256(for: "7z%2024%20x64.msi", in: bytes)
            == .failure(.missingEntry(name: "7z%2024%20x64.msi", entries: 10, malformed: 1)))
}

@Test func oneNameWithTwoDigestsIsAmbiguousInEveryForm() {
    // Plain and `./`, text and binary marker, GNU and BSD lines: one file, two answers: refused.
    for (first, second) in [
        ("\(digestA)  t 1.msi", "\(digestB)  t 1.msi"), ("\(digestA)  t 1.msi", "\(digestB) *t 1.msi"),
        ("\(digestA) *./t 1.msi", "\(digestB)  t 1.msi"), ("SHA256 (t 1.msi) = \(digestA)", "\(digestB)  t 1.msi"),
    ] {
        let list = Array("\(first)\n\(String(repeating: "\(digestA)  other\n", count: 1_000))\(second)\n".utf8)
        #expect(ChecksumFile.sha256(for: "t 1.msi", in: list) == .failure(.conflictingEntries(name: "t 1.msi")))
    }
    // The same answer twice (a list concatenated twice) is not ambiguous.
    let twice = Array("\(digestA)  t 1.msi\nSHA256 (./t 1.msi) = \(digestA.uppercased())\n".utf8)
    #expect(ChecksumFile.sha256(for: "t 1.msi", in: twice) == .success(digestA))
}
