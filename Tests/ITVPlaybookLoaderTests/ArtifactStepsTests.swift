import ITVCore
import Testing

@testable import ITVPlaybookLoader

/// `steps.artifact_dir` and `{{artifact}}` (the `artifact:` block itself is read elsewhere).
@Suite struct ArtifactStepsTests {
    static func steps(_ yaml: String, hasArtifact: Bool) -> (Steps?, [String]) {
        guard case .success(let node) = YAMLComposer.compose(Array(yaml.utf8), file: "p.yaml") else {
            return (nil, ["does not compose"])
        }
        let r = YAMLReader()
        var locations: [String: ITVCore.SourceLocation] = [:]
        let steps = PlaybookLoader.readSteps(node, r, &locations, hasArtifact: hasArtifact)
        return (steps, r.diagnostics.map(\.description))
    }

    @Test("artifact_dir per OS, a bare path for the OS of its form, and the defaults otherwise")
    func directories() throws {
        let both = Self.steps(
            #"""
            detect: v
            install: i {{artifact}}
            verify: c
            artifact_dir: {linux: /srv/itv, windows: 'D:\itv'}
            """#, hasArtifact: true)
        #expect(both.1 == [])
        #expect(both.0?.artifactDir == [.linux: "/srv/itv", .windows: #"D:\itv"#])
        let bare = Self.steps("detect: v\ninstall: i\nverify: c\nartifact_dir: /opt/cache\n", hasArtifact: false)
        #expect(bare.0?.artifactDir == [.linux: "/opt/cache"])
        let windows = Self.steps("detect: v\ninstall: i\nverify: c\nartifact_dir: 'E:\\cache'\n", hasArtifact: false)
        #expect(windows.0?.artifactDir == [.windows: #"E:\cache"#])
        let none = Self.steps("detect: v\ninstall: i\nverify: c\n", hasArtifact: false)
        #expect(none.0?.artifactDir == [:])
    }

    @Test("{{artifact}} needs the artifact block and is refused in detect, which runs before the stage")
    func artifactVariable() {
        let with = Self.steps(
            "detect: v\ninstall: i {{artifact}}\nverify: c {{artifact}}\nrollback: r {{artifact}}\n", hasArtifact: true)
        #expect(with.1 == [] && with.0 != nil)
        let without = Self.steps("detect: v\ninstall: i {{artifact}}\nverify: c\n", hasArtifact: false)
        #expect(without.0 == nil)
        #expect(without.1 == ["p.yaml:2:10: steps.install uses {{artifact}}, but the playbook has no artifact: block"])
        let inDetect = Self.steps("detect: v {{artifact}}\ninstall: i\nverify: c\n", hasArtifact: true)
        #expect(inDetect.0 == nil)
        #expect(
            inDetect.1 == ["p.yaml:1:9: steps.detect cannot use {{artifact}}: the artifact is staged after detect"])
        let perOS = Self.steps(
            "detect: v\ninstall: {windows: 'msiexec /i {{artifact}}'}\nverify: c\n", hasArtifact: false)
        #expect(perOS.1.count == 1)
    }
}
