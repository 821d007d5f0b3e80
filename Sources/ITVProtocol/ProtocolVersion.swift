/// The control protocol spoken over itvd's Unix socket: HTTP/1.1 with JSON bodies, routes under `/v1/`.
///
/// Rules (add-only, like tailscale's `tailcfg`):
/// - JSON keys are snake_case and never renamed; enum raw values never change.
/// - New fields are optional or have a default; a client ignores fields it does not know.
/// - Times are integers: milliseconds since the Unix epoch (UTC) in keys ending in `_at`; lengths of time
///   are whole seconds in keys ending in `_seconds`. One unambiguous integer needs no time-zone or
///   fractional-second parsing in shell scripts (`jq`), and matches what the state store keeps.
/// - Absent optional values are left out of the document (not `null`).
/// - Every response carries the header `ITV-Protocol: 1`; a client refuses any other value.
public enum ITVProtocolVersion {
    /// The protocol version this build speaks.
    public static let current = "1"
    /// The header that carries it on every request and response.
    public static let headerName = "ITV-Protocol"
    /// Content type of JSON bodies.
    public static let jsonContentType = "application/json"
    /// Content type of streamed event bodies (one JSON document per line).
    public static let ndjsonContentType = "application/x-ndjson"
    /// `GET /v1/metrics`: the Prometheus text exposition format.
    public static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"
    /// The path prefix of every route.
    public static let pathPrefix = "/v1/"
}
