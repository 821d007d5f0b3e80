import Foundation
import ITVCore
import Testing

@testable import ITVPlaybookLoader

// `artifact:` in a playbook and `artifacts:` in itvd.yaml: what is accepted, and the exact diagnostic
// (file:line:column) for what is not. The block starts at line 22 of the playbook.

private func playbook(_ artifact: String) -> String { ValidSet.playbook + "\nartifact:\n" + artifact }

private let sums = "  checksums: {url: 'https://v.example/{{version}}/SHA256SUMS', format: sha256sum}\n"

let artifactCases: [MalformedCase] = [
    MalformedCase(
        "artifact: plain http", .playbook, playbook("  url: http://v.example/t-{{version}}.msi\n" + sums),
        [
            "playbooks/demo-app.yaml:23:8: artifact.url uses plain http; use https, or set artifact.allow_http: true "
                + "for an internal mirror"
        ]),
    MalformedCase(
        "artifact: another template variable", .playbook,
        playbook("  url: https://v.example/{{host}}/t.msi\n" + sums),
        ["playbooks/demo-app.yaml:23:8: artifact.url: {{version}} is the only variable a URL may use"]),
    MalformedCase(
        "artifact: no checksum source", .playbook, playbook("  url: https://v.example/t-{{version}}.msi\n"),
        [
            "playbooks/demo-app.yaml:23:3: artifact needs the expected SHA-256: checksums: {url: ..., format: "
                + "sha256sum} or {url: ..., format: json, select: ...}"
        ]),
    MalformedCase(
        "artifact: two checksum sources", .playbook,
        playbook("  url: https://v.example/t-{{version}}.msi\n" + sums + "  sha256_from_feed: sha256\n"),
        ["playbooks/demo-app.yaml:25:3: artifact: use either checksums or sha256_from_feed, not both"]),
    MalformedCase(
        "artifact: json checksums without select", .playbook,
        playbook("  url: https://v.example/t.msi\n  checksums: {url: 'https://v.example/sums.json', format: json}\n"),
        [
            "playbooks/demo-app.yaml:24:14: artifact.checksums.select is required for format json: the path of the "
                + "digest"
        ]),
    MalformedCase(
        "artifact: unknown checksum format", .playbook,
        playbook("  url: https://v.example/t.msi\n  checksums: {url: 'https://v.example/sums', format: md5}\n"),
        ["playbooks/demo-app.yaml:24:54: artifact.checksums.format must be one of sha256sum, json, found 'md5'"]),
    MalformedCase(
        "artifact: bad max_size", .playbook, playbook("  url: https://v.example/t.msi\n  max_size: 2 GB\n" + sums),
        ["playbooks/demo-app.yaml:24:13: artifact.max_size must be a size such as 2GiB, 500MiB or a number of bytes"]),
    MalformedCase(
        "artifact: unusable file name", .playbook,
        playbook("  url: https://v.example/dl/\n" + sums),
        [
            "playbooks/demo-app.yaml:23:3: the last path segment of artifact.url ('') is not a usable file "
                + "name; set artifact.name"
        ]),
    MalformedCase(
        "artifact: a URL whose decoded last segment no checksum entry can name", .playbook,
        playbook("  url: https://v.example/dl/a%2F..%2Ft.msi\n  name: t.msi\n" + sums),
        [
            "playbooks/demo-app.yaml:23:3: the last path segment of artifact.url ('a%2F..%2Ft.msi') does not name "
                + "a file once percent-decoded (empty, '..', a bad %-escape, '/', '\\' or a control character), so "
                + "no checksum list entry can name it; use checksums format json"
        ]),
    MalformedCase(
        "artifact: name with a slash", .playbook,
        playbook("  url: https://v.example/t.msi\n  name: ../../etc/passwd\n" + sums),
        [
            "playbooks/demo-app.yaml:24:9: artifact.name '../../etc/passwd' must be a file name: letters, digits and "
                + "._+-~ (and {{version}}), not starting with '.' or '-'"
        ]),
    MalformedCase(
        "artifact: minisign key that is not one", .playbook,
        playbook(
            "  url: https://v.example/t.msi\n" + sums
                + "  signature: {url: 'https://v.example/SHA256SUMS.minisig', kind: minisign, public_key: abc}\n"),
        [
            "playbooks/demo-app.yaml:25:88: artifact.signature.public_key must be a minisign public key (the base64 "
                + "line of minisign.pub, starting RW)"
        ]),
    MalformedCase(
        "artifact: gpg keyring missing", .playbook,
        playbook(
            "  url: https://v.example/t.msi\n" + sums
                + "  signature: {url: 'https://v.example/SHA256SUMS.asc', kind: gpg, keyring: vendor.gpg}\n"),
        [
            "playbooks/demo-app.yaml:25:76: artifact.signature.keyring: no keyring file at playbooks/vendor.gpg "
                + "(export one with gpg --export KEYID > FILE)"
        ]),
    MalformedCase(
        "artifact: unknown signature kind", .playbook,
        playbook(
            "  url: https://v.example/t.msi\n" + sums
                + "  signature: {url: 'https://v.example/SHA256SUMS.sig', kind: x509}\n"),
        ["playbooks/demo-app.yaml:25:62: artifact.signature.kind must be one of gpg, minisign, found 'x509'"]),
    MalformedCase(
        "artifact: unknown key", .playbook, playbook("  url: https://v.example/t.msi\n  sha256: abc\n" + sums),
        ["playbooks/demo-app.yaml:24:3: unknown key 'sha256' in artifact"]),
    MalformedCase(
        "artifact: sha256_from_feed with a signature", .playbook,
        playbook(
            "  url: https://v.example/t.msi\n  sha256_from_feed: sha256\n"
                + "  signature: {url: 'https://v.example/x.sig', kind: minisign, public_key: "
                + "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3}\n"),
        ["playbooks/demo-app.yaml:25:3: artifact.signature signs a checksum file; sha256_from_feed has none"]),
    MalformedCase(
        "artifact: empty sha256_from_feed", .playbook,
        playbook("  url: https://v.example/t.msi\n  sha256_from_feed: ''\n"),
        [
            "playbooks/demo-app.yaml:24:21: artifact.sha256_from_feed must be a json path of 1 to 200 printable "
                + "characters inside the feed entry (e.g. sha256 or hashes.sha256), found ''"
        ]),
    MalformedCase(
        "artifact: sha256_from_feed with a control character", .playbook,
        playbook("  url: https://v.example/t.msi\n  sha256_from_feed: \"sha\\e[2J256\"\n"),
        [
            "playbooks/demo-app.yaml:24:21: artifact.sha256_from_feed must be a json path of 1 to 200 printable "
                + "characters inside the feed entry (e.g. sha256 or hashes.sha256), found 'sha\\u{1B}[2J256'"
        ]),
    MalformedCase(
        "artifact: sha256_from_feed of a huge path", .playbook,
        playbook("  url: https://v.example/t.msi\n  sha256_from_feed: " + String(repeating: "a.", count: 150) + "b\n"),
        [
            "playbooks/demo-app.yaml:24:21: artifact.sha256_from_feed must be a json path of 1 to 200 printable "
                + "characters inside the feed entry (e.g. sha256 or hashes.sha256), found '"
                + String(repeating: "a.", count: 40) + "...'"
        ]),
    MalformedCase(
        "artifact: sha256_from_feed without a json feed", .playbook,
        ValidSet.playbook.replacingOccurrences(of: "kind: json", with: "kind: atom")
            .replacingOccurrences(of: "select: latest", with: "select: title")
            + "\nartifact:\n  url: https://v.example/t.msi\n  sha256_from_feed: sha256\n",
        [
            "playbooks/demo-app.yaml:22:1: artifact.sha256_from_feed needs a json feed (feed.kind: json, found atom); "
                + "otherwise use artifact.checksums"
        ]),
    MalformedCase(
        "artifact: sha256_from_feed with a feed select ending in an index", .playbook,
        ValidSet.playbook.replacingOccurrences(of: "select: latest", with: "select: 'versions[0]'")
            + "\nartifact:\n  url: https://v.example/t.msi\n  sha256_from_feed: sha256\n",
        [
            "playbooks/demo-app.yaml:22:1: artifact.sha256_from_feed needs feed.select to end with a key (e.g. "
                + "releases[*].version): the entry is the object holding it; 'versions[0]' ends with an index"
        ]),
    MalformedCase(
        "artifacts: bad max_bytes", .config, ValidSet.config + "\nartifacts: {max_bytes: lots}",
        ["itvd.yaml:6:24: artifacts.max_bytes must be a size such as 20GiB or a number of bytes, found 'lots'"]),
    MalformedCase(
        "artifacts: unknown key", .config, ValidSet.config + "\nartifacts: {max_size: 1GiB}",
        ["itvd.yaml:6:13: unknown key 'max_size' in artifacts"]),
]

@Suite struct ArtifactBlockTests {
    @Test(arguments: artifactCases)
    func badArtifactBlockGetsTheExactDiagnostic(_ c: MalformedCase) throws {
        let result = try diagnostics(for: c)
        #expect(result.lines == c.expected)
        if !c.expected.isEmpty { #expect(result.set == nil) }
    }

    @Test func aFullArtifactBlockLoads() throws {
        let dir = try TempDir()
        try dir.write("playbooks/keys/vendor.gpg", "not checked here: gpgv reads it")
        let text = playbook(
            """
              url: https://v.example/dl/{{version}}/Setup-{{version}}.exe
              max_size: 500MiB
              name: setup-{{version}}.exe
              checksums: {url: 'https://v.example/dl/{{version}}/SHA256SUMS', format: sha256sum}
              signature: {url: 'https://v.example/dl/{{version}}/SHA256SUMS.asc', kind: gpg, keyring: keys/vendor.gpg}

            """)
        let file = try dir.write("playbooks/demo-app.yaml", text)
        let loaded = PlaybookLoader.load(file: file)
        #expect(loaded.diagnostics.map(\.description) == [])
        let spec = try #require(loaded.value?.artifact)
        #expect(spec.url(for: "2.1") == "https://v.example/dl/2.1/Setup-2.1.exe")
        #expect(spec.fileName(for: "2.1") == "setup-2.1.exe")
        #expect(spec.maxSize == 500 << 20)
        #expect(spec.checksums == .sha256sum(url: "https://v.example/dl/{{version}}/SHA256SUMS"))
        #expect(
            spec.signature
                == .gpg(
                    url: "https://v.example/dl/{{version}}/SHA256SUMS.asc",
                    keyring: dir.path + "/playbooks/keys/vendor.gpg"))
    }

    @Test func minisignJSONAndFeedSourcesLoad() throws {
        let key = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"
        let a = PlaybookLoader.parse(
            Array(
                playbook(
                    "  url: https://v.example/t.msi\n  checksums: {url: 'https://v.example/s.json', format: json, "
                        + "select: 'files[0].sha256'}\n  signature: {url: 'https://v.example/s.json.minisig', kind: "
                        + "minisign, public_key: \(key)}\n"
                ).utf8), file: "p/demo-app.yaml")
        #expect(a.diagnostics.map(\.description) == [])
        #expect(a.value?.artifact?.checksums == .json(url: "https://v.example/s.json", select: "files[0].sha256"))
        #expect(a.value?.artifact?.signature == .minisign(url: "https://v.example/s.json.minisig", publicKey: key))
        #expect(a.value?.artifact?.maxSize == 2 << 30)
        let b = PlaybookLoader.parse(
            Array(playbook("  url: https://v.example/t.msi\n  sha256_from_feed: 'hashes[\"sha-256\"]'\n").utf8),
            file: "p/d.yaml")
        #expect(b.diagnostics.map(\.description) == [])
        #expect(b.value?.artifact?.checksums == .feed(select: #"hashes["sha-256"]"#))
        // The feed watcher reads the digest of each entry it takes a version from.
        #expect(b.value?.feed?.digestSelect == #"hashes["sha-256"]"#)
        #expect(b.value?.feed?.select == "latest")
    }

    @Test func theArtifactsConfigurationLoads() throws {
        let c = ConfigLoader.parse(
            Array("artifacts: {max_bytes: 5GiB, upload_rate: 10MiB}\n".utf8), file: "/x/itvd.yaml")
        #expect(c.diagnostics.map(\.description) == [])
        #expect(c.value?.artifacts == ArtifactsConfig(maxBytes: 5 << 30, uploadRate: 10 << 20))
        let d = ConfigLoader.parse(Array("parallel: 4\n".utf8), file: "/x/itvd.yaml")
        #expect(d.value?.artifacts == ArtifactsConfig(maxBytes: 20 << 30, uploadRate: 0))
    }
}
