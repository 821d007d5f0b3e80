import Foundation
import ITVCore

/// When a detected release may become a rollout without an operator (`rollout.auto_plan`, `feed.min_age`).
public enum AutoPlan: Hashable, Sendable {
    /// The playbook does not plan automatically (or has no feed).
    case never
    /// Old enough: create the rollout (waiting for its first wave) now.
    case now
    /// Too young: check again at this time.
    case at(Date)

    /// The rule of docs/PRODUCT.md: `auto_plan: true` and the release is older than `min_age` (measured from when
    /// the watcher first saw it, never from a date the feed claims).
    public static func decide(_ playbook: Playbook, release: ReleaseRecord, now: Date) -> AutoPlan {
        guard playbook.rollout.autoPlan, let feed = playbook.feed else { return .never }
        let firstSeen = Date(timeIntervalSince1970: Double(release.firstSeen) / 1_000)
        let due = firstSeen.addingTimeInterval(Double(feed.minAge.seconds))
        return due <= now ? .now : .at(due)
    }
}
