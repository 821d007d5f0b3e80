/// Bounds on what a request may carry. The daemon refuses a request beyond them with `invalid_request`
/// and changes nothing.
public enum ITVLimits {
    /// A comment or reason (`--comment`, `--reason`), in UTF-8 bytes: what operators write, never a
    /// document. Kept for ever in the audit trail, so bounded.
    public static let textBytes = 4_096
    /// A name in a request body (procedure id, host, version, plan hash), in characters; no control
    /// characters.
    public static let nameCharacters = 256
    /// Procedure ids in one `POST /v1/feeds/check`.
    public static let procedures = 10_000
}
