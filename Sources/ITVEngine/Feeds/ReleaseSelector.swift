import Foundation
import ITVCore

/// What the selector needs of a parsed version (the version schemes of ITVCore provide it).
public protocol FeedVersion: Comparable, Hashable, Sendable {
    /// The text as the feed offered it (what reaches a command line, shell-quoted).
    var raw: String { get }
    var isPrerelease: Bool { get }
}

/// What a feed's candidates amount to, against what was seen before.
public struct ReleaseSelection<V: FeedVersion>: Sendable {
    /// Candidates that are not versions (journaled, never used).
    public var rejected: [RejectedCandidate] = []
    /// Valid pre-releases left out because the playbook does not take them.
    public var skippedPrereleases: [V] = []
    /// The highest acceptable version offered, whatever the feed's order or dates.
    public var highestOffered: V?
    /// The release to record and announce: higher than anything seen before and never seen itself.
    public var newRelease: V?
    /// Set when the feed now offers only versions older than one already seen (a possible rollback attack).
    public var rollbackSuspected: (offered: V, highestSeen: V)?
}

/// Picks the release a feed announces. Pure: the scheme's parser and what was seen are passed in.
public enum ReleaseSelector {
    /// Longest text taken as a version (docs/VERSIONS.md: longer is never a version).
    public static let maxLength = 64

    /// The characters any scheme's versions are made of; everything else (shell metacharacters, spaces,
    /// newlines, quotes, non-ASCII such as full-width digits or bidi overrides) is refused before parsing.
    public static func gate(_ candidate: String) -> String? {
        if candidate.isEmpty { return "empty" }
        if candidate.utf8.count > maxLength {
            return "longer than \(maxLength) characters (\(candidate.utf8.count) bytes)"
        }
        for u in candidate.unicodeScalars {
            let v = u.value
            let ok =
                (v >= 0x30 && v <= 0x39) || (v >= 0x41 && v <= 0x5A) || (v >= 0x61 && v <= 0x7A)
                || "._+~:-!".unicodeScalars.contains(u)
            if !ok {
                let shown = v < 0x20 || v > 0x7E ? escapedForMessage(String(u), asciiOnly: true) : "'\(Character(u))'"
                return "contains \(shown), which no version scheme allows"
            }
        }
        return nil
    }

    /// - Parameters:
    ///   - candidates: the strings the feed offered, in document order.
    ///   - parse: the procedure's scheme (`VersionScheme.parse`); its failure message is the rejection reason.
    ///   - prereleases: the playbook's `prereleases`.
    ///   - seen: every version of this procedure seen before.
    public static func select<V: FeedVersion, E: Error>(
        candidates: [String], parse: (String) -> Result<V, E>, prereleases: Bool, seen: Set<V>
    ) -> ReleaseSelection<V> {
        var selection = ReleaseSelection<V>()
        var accepted: [V] = []
        for candidate in candidates {
            if let reason = gate(candidate) {
                selection.rejected.append(RejectedCandidate(raw: candidate, reason: reason))
                continue
            }
            switch parse(candidate) {
            case .failure(let error):
                selection.rejected.append(RejectedCandidate(raw: candidate, reason: "\(error)"))
            case .success(let v):
                if v.isPrerelease, !prereleases { selection.skippedPrereleases.append(v) } else { accepted.append(v) }
            }
        }
        guard let highest = accepted.max() else { return selection }
        selection.highestOffered = highest
        let highestSeen = seen.max()
        if let highestSeen, highest < highestSeen {
            selection.rollbackSuspected = (highest, highestSeen)
        } else if !seen.contains(highest), highestSeen.map({ highest > $0 }) ?? true {
            selection.newRelease = highest
        }
        return selection
    }
}
