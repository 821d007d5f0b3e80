import ITVEngine
import Testing

/// A minimal numeric version for testing the selection rules apart from the schemes (which have their own
/// tests in ITVCore): digits and dots, an optional `-pre` suffix marking a pre-release.
private struct NumericVersion: FeedVersion {
    var raw: String
    var parts: [Int]
    var isPrerelease: Bool

    static func < (a: Self, b: Self) -> Bool {
        if a.parts != b.parts { return a.parts.lexicographicallyPrecedes(b.parts) }
        return a.isPrerelease && !b.isPrerelease
    }

    static func == (a: Self, b: Self) -> Bool { a.parts == b.parts && a.isPrerelease == b.isPrerelease }
    func hash(into h: inout Hasher) {
        h.combine(parts)
        h.combine(isPrerelease)
    }

    struct Bad: Error, CustomStringConvertible { var description: String }

    static func parse(_ s: String) -> Result<NumericVersion, Bad> {
        let pre = s.hasSuffix("-pre")
        let body = pre ? String(s.dropLast(4)) : s
        let parts = body.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { return .failure(Bad(description: "not numeric")) }
        return .success(NumericVersion(raw: s, parts: parts.compactMap { $0 }, isPrerelease: pre))
    }
}

@Suite struct ReleaseSelectorTests {
    private func select(_ c: [String], pre: Bool = false, seen: [String] = []) -> ReleaseSelection<NumericVersion> {
        let seenSet = Set(seen.compactMap { try? NumericVersion.parse($0).get() })
        return ReleaseSelector.select(candidates: c, parse: NumericVersion.parse, prereleases: pre, seen: seenSet)
    }

    @Test func highestWinsWhateverTheOrder() {
        let s = select(["1.2", "1.10", "1.9", "0.99"])
        #expect(s.highestOffered?.raw == "1.10")
        #expect(s.newRelease?.raw == "1.10")
    }

    @Test func hostileCandidatesAreRejectedWithAReason() {
        let hostile = [
            "1.2;reboot", "1.2 && reboot", "$(reboot)", "`x`", "1.2\n3", "1.2\u{0}", "' OR 1=1",
            "\u{FF11}.\u{FF12}", "1.2\u{202E}", String(repeating: "1", count: 10_240), "",
        ]
        let s = select(hostile + ["2.0"])
        #expect(s.rejected.count == hostile.count)
        #expect(s.rejected.allSatisfy { !$0.reason.isEmpty && $0.shown.count < 120 })
        // What the journal shows is plain ASCII: no newline, no bidi override, escapes instead.
        #expect(s.rejected.allSatisfy { $0.shown.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F } })
        #expect(s.rejected.map(\.shown).contains("1.2\\n3"))
        #expect(s.rejected.map(\.shown).contains("\\u{FF11}.\\u{FF12}"))
        #expect(s.newRelease?.raw == "2.0")
        let only = select(hostile)
        #expect(only.newRelease == nil && only.highestOffered == nil)
    }

    @Test func prereleasesOnlyWhenAllowed() {
        #expect(select(["1.0", "2.0-pre"]).newRelease?.raw == "1.0")
        #expect(select(["1.0", "2.0-pre"]).skippedPrereleases.map(\.raw) == ["2.0-pre"])
        #expect(select(["1.0", "2.0-pre"], pre: true).newRelease?.raw == "2.0-pre")
    }

    @Test func seenIsNotNewAndOlderIsARollbackSuspicion() {
        #expect(select(["1.0", "1.1"], seen: ["1.1"]).newRelease == nil)
        #expect(select(["1.0", "1.1"], seen: ["1.1"]).rollbackSuspected == nil)
        let back = select(["1.0", "0.9"], seen: ["1.0", "1.1"])
        #expect(back.newRelease == nil)
        #expect(back.rollbackSuspected?.offered.raw == "1.0")
        #expect(back.rollbackSuspected?.highestSeen.raw == "1.1")
        #expect(select(["1.2"], seen: ["1.1"]).newRelease?.raw == "1.2")
    }

    @Test func unparseableAreRejectedByTheScheme() {
        let s = select(["abc", "1.x", "3"])
        #expect(s.rejected.map(\.reason) == ["not numeric", "not numeric"])
        #expect(s.newRelease?.raw == "3")
    }
}
