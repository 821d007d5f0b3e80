/// The installer bytes a rollout puts on its hosts: what the operators approve with the plan hash.
///
/// Made by the daemon from a verified download (see `artifact:` in the playbook reference). The file itself
/// lives in the state directory's content-addressed cache at `artifacts/sha256/<sha256>`; only a complete,
/// verified file ever has that name.
public struct PlannedArtifact: Hashable, Sendable, Codable {
    /// The file name on the host (the `artifact.name` setting, default the URL's last path segment).
    public let name: String
    /// Size in bytes.
    public let size: Int64
    /// Lowercase hex SHA-256 of the bytes.
    public let sha256: String

    public init(name: String, size: Int64, sha256: String) {
        self.name = name
        self.size = size
        self.sha256 = sha256
    }
}
