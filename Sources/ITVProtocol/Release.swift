/// The release of this build of itvd and itvctl, printed by `itvd --version` and `itvctl --version`.
///
/// One place for both binaries (each depends on ITVProtocol). The Debian package's version comes from the
/// top entry of `debian/changelog`; the package build refuses binaries that print another version.
public enum ITVRelease {
    /// The release version, as in the top entry of `debian/changelog`.
    public static let version = "0.1.0"
}
