/// Wire types shared by itvd and itvctl. Routes live under `/v1/`.
public enum ITVProtocolVersion {
    public static let current = "1"
}
