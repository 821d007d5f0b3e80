import ITVCore

extension Version: FeedVersion {}

extension ReleaseSelector {
    /// Selection under the feed's own scheme and `prereleases` setting.
    public static func select(candidates: [String], spec: FeedSpec, seen: Set<Version>) -> ReleaseSelection<Version> {
        select(candidates: candidates, parse: spec.scheme.parse, prereleases: spec.prereleases, seen: seen)
    }
}
