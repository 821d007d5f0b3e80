import Foundation
import ITVCore
import Testing

@testable import ITVPlaybookLoader

/// `SetLoader.filesDigest`: what the daemon compares before it re-reads an unreachable directory by itself.
/// Any change an operator makes to the files changes it; reading them again without a change does not.
@Suite struct FilesDigestTests {
    @Test func everyEditOfTheFilesChangesTheDigestAndNothingElseDoes() throws {
        let dir = try DisclosureTests.set()
        let config = dir.path + "/itvd.yaml"
        let first = try #require(SetLoader.filesDigest(configFile: config))
        #expect(SetLoader.filesDigest(configFile: config) == first)
        // A file touched without a change (an editor that saved again) is the same.
        let playbook = dir.path + "/playbooks/demo-app.yaml"
        try FileManager.default.setAttributes([.modificationDate: Date()], ofItemAtPath: playbook)
        #expect(SetLoader.filesDigest(configFile: config) == first)

        var previous = first
        func changed(_ what: String, _ edit: () throws -> Void) throws {
            try edit()
            let digest = try #require(SetLoader.filesDigest(configFile: config), "\(what)")
            #expect(digest != previous, "\(what) did not change the digest")
            previous = digest
        }
        let original = try String(contentsOfFile: playbook, encoding: .utf8)
        try changed("a playbook edited") { try dir.write("playbooks/demo-app.yaml", original + "# edited\n") }
        try changed("a playbook added") { try dir.write("playbooks/other.yaml", original) }
        try changed("a playbook renamed") {
            try FileManager.default.moveItem(
                atPath: dir.path + "/playbooks/other.yaml", toPath: dir.path + "/playbooks/zother.yaml")
        }
        try changed("a playbook removed") {
            try FileManager.default.removeItem(atPath: dir.path + "/playbooks/zother.yaml")
        }
        // Back as they were: the digest of then (the files are what counts, not their history).
        try dir.write("playbooks/demo-app.yaml", original)
        #expect(SetLoader.filesDigest(configFile: config) == first)
        try changed("the inventory edited") { try dir.write("inventory.yaml", ValidSet.inventory + "\n# edited\n") }
        try changed("the inventory removed") {
            try FileManager.default.removeItem(atPath: dir.path + "/inventory.yaml")
        }
        try changed("itvd.yaml edited") { try dir.write("itvd.yaml", ValidSet.config + "\n# edited\n") }
        // A playbook file that is not a regular file, or too large to read, still gives a digest.
        try changed("a fifo") { #expect(mkfifo(dir.path + "/playbooks/fifo.yaml", 0o600) == 0) }
        // An itvd.yaml that cannot be read: no digest (the daemon then never re-reads by itself).
        try dir.write("itvd.yaml", "playbooks: [unclosed\n")
        #expect(SetLoader.filesDigest(configFile: config) == nil)
    }
}
