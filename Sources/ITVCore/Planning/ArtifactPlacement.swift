/// Where `stage` puts a rollout's artifact on one host, and the name it uploads it under first.
///
/// The final name only ever holds a complete file whose SHA-256 the host itself checked: the bytes go to
/// ``temporaryPath`` (a dot file in the same directory, so that the rename stays within one file system),
/// and only a matching hash renames it to ``path``.
public struct ArtifactPlacement: Hashable, Sendable {
    public let os: OSFamily
    /// `steps.artifact_dir` for the host's OS, without a trailing separator.
    public let directory: String
    /// The artifact's file name (``PlannedArtifact/name``).
    public let name: String

    public init(os: OSFamily, directory: String, name: String) {
        self.os = os
        var dir = directory
        while dir.count > 1, let last = dir.last, last == ArtifactPlacement.separator(os) { dir.removeLast() }
        self.directory = dir
        self.name = name
    }

    /// `steps.artifact_dir` when the playbook does not set it.
    public static func defaultDirectory(for os: OSFamily) -> String {
        switch os {
        case .linux: return "/var/cache/itv"
        case .windows: return #"C:\ProgramData\itv\cache"#
        }
    }

    static func separator(_ os: OSFamily) -> Character { os == .windows ? "\\" : "/" }

    /// The file `{{artifact}}` names.
    public var path: String { directory + String(Self.separator(os)) + name }

    /// Where the bytes are written before the host checked them. One per artifact and directory, so that a
    /// retry (or a stage after a crash) overwrites what an interrupted one left instead of adding files.
    public func temporaryPath(sha256: String) -> String {
        directory + String(Self.separator(os)) + ".itv-stage-" + String(sha256.prefix(16)) + ".part"
    }

    /// Why `name` cannot be a file name in the artifact directory, or nil when it can: a single path
    /// segment (no `/`, `\`, `:`, not `.` or `..`, no control characters, no leading `-` or `.`), at most
    /// 255 bytes. Checked before anything is sent, whatever the loader already checked.
    public static func problem(withName name: String) -> String? {
        if name.isEmpty { return "the artifact name is empty" }
        if name.utf8.count > 255 { return "the artifact name is longer than 255 bytes" }
        if name.hasPrefix(".") || name.hasPrefix("-") {
            return "the artifact name '\(escapedForMessage(name))' starts with '.' or '-'"
        }
        for scalar in name.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F || "/\\:*?\"<>|".unicodeScalars.contains(scalar) {
                return "the artifact name '\(escapedForMessage(name))' is not a plain file name "
                    + "(no path separators, control characters or any of : * ? \" < > |)"
            }
        }
        return nil
    }

    /// Why `directory` cannot be `steps.artifact_dir` for `os`, or nil: an absolute path (`/...` on Linux,
    /// `X:\...` on Windows), no `..` segment, no control characters, no quotes, at most 1024 bytes.
    public static func problem(withDirectory directory: String, for os: OSFamily) -> String? {
        let shown = escapedForMessage(directory)
        if directory.utf8.count > 1024 { return "artifact_dir is longer than 1024 bytes" }
        for scalar in directory.unicodeScalars where scalar.value < 0x20 || scalar.value == 0x7F {
            return "artifact_dir '\(shown)' contains a control character"
        }
        switch os {
        case .linux:
            guard directory.hasPrefix("/") else { return "artifact_dir '\(shown)' must be an absolute path (/...)" }
            if directory.split(separator: "/").contains("..") { return "artifact_dir '\(shown)' contains '..'" }
        case .windows:
            guard family(ofDirectory: directory) == .windows else {
                return #"artifact_dir '\#(shown)' must be an absolute Windows path (C:\...)"#
            }
            if directory.split(separator: "\\").contains("..") { return "artifact_dir '\(shown)' contains '..'" }
            if directory.contains("/") || directory.contains("\"") || directory.contains("'") {
                return "artifact_dir '\(shown)' must use \\ and no quotes"
            }
        }
        return nil
    }

    /// The OS family whose form `directory` has: `/...` Linux, `X:\...` Windows; nil for neither.
    public static func family(ofDirectory directory: String) -> OSFamily? {
        if directory.hasPrefix("/") { return .linux }
        let chars = Array(directory.unicodeScalars)
        if chars.count >= 3, ("A"..."Z").contains(chars[0]) || ("a"..."z").contains(chars[0]), chars[1] == ":",
            chars[2] == "\\"
        {
            return .windows
        }
        return nil
    }
}
