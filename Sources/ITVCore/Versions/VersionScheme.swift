/// A procedure's version scheme (`feed.scheme`); "newer" is decided by it. See VERSIONS.md.
/// PLACEHOLDER: the versions work replaces this file's contents (keep the enum and its raw values).
public enum VersionScheme: String, Hashable, Sendable, Codable, CaseIterable {
    case dotted
    case semver
    case debian
    case pep440
    case date
}
