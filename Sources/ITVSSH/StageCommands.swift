import Foundation
import ITVCore
import ITVEngine

/// The commands `stage` runs on a host around its SFTP upload, for the host's OS: `check` creates the
/// artifact directory, removes the temporary files of stages abandoned more than ``leftoverMinutes`` ago, and
/// prints the SHA-256 of the file under its final name (nothing when there is none);
/// `commit` hashes the uploaded temporary file and renames it to the final name only when the hash is the
/// expected one (else it removes it, prints the hash it found and exits 3). Every path is quoted for the
/// host's shell; the hash is checked by the host's own tool (`openssl dgst`, else `sha256sum`; `Get-FileHash`): OpenSSH's SFTP
/// server has no hash extension (docs/TECH-NOTES.md 24).
///
/// Both are what a step's command is: a shell command line on Linux, a PowerShell script on Windows. They go
/// through `SSHConnection.run`, which sends them like every step (`CommandWrapper.wrap`): on Windows once as
/// `-EncodedCommand` with `-ExecutionPolicy Bypass` (`CommandWrapper.powershellEncoded`), so that
/// `Get-FileHash` (a script module's cmdlet in Windows PowerShell 5.1) loads under a `Restricted` policy.
public struct StageCommands: Hashable, Sendable {
    public let placement: ArtifactPlacement
    public let sha256: String

    /// `commit`'s exit status when the host found another hash than the expected one.
    public static let mismatchStatus: Int32 = 3

    /// A temporary file (`.itv-stage-*.part`) not written for this long belongs to a stage that was abandoned
    /// (its host failed, its rollout was halted or cancelled): an upload in flight writes it all the time, and
    /// a stage sent again truncates it. `check` removes such files, so that every abandoned stage costs the
    /// host's disk for at most a day. A failure to remove them does not fail the check.
    public static let leftoverMinutes = 1_440

    public init(placement: ArtifactPlacement, sha256: String) {
        self.placement = placement
        self.sha256 = sha256
    }

    var temporaryPath: String { placement.temporaryPath(sha256: sha256) }

    /// The temporary file's path as the host's SFTP server names it (`/C:/dir/file` on Windows).
    public var sftpTemporaryPath: String {
        switch placement.os {
        case .linux: return temporaryPath
        case .windows: return "/" + temporaryPath.replacingOccurrences(of: "\\", with: "/")
        }
    }

    public var check: String {
        switch placement.os {
        case .linux:
            let d = ShellQuote.posix(placement.directory)
            let f = ShellQuote.posix(placement.path)
            return "mkdir -p -- \(d) && { find \(d) -maxdepth 1 -type f -name '.itv-stage-*.part' "
                + "-mmin +\(Self.leftoverMinutes) -exec rm -f -- {} + 2>/dev/null || :; } "
                + "&& if [ -f \(f) ]; then \(Self.posixHash(f)); fi"
        case .windows:
            let d = ShellQuote.powershell(placement.directory)
            let f = ShellQuote.powershell(placement.path)
            return """
                $ErrorActionPreference = 'Stop'
                [System.IO.Directory]::CreateDirectory(\(d)) | Out-Null
                try {
                    $cutoff = [DateTime]::UtcNow.AddMinutes(-\(Self.leftoverMinutes))
                    Get-ChildItem -LiteralPath \(d) -Filter '.itv-stage-*.part' -File -Force |
                        Where-Object { $_.LastWriteTimeUtc -lt $cutoff } | Remove-Item -Force
                } catch {}
                if ([System.IO.File]::Exists(\(f))) {
                    (Get-FileHash -LiteralPath \(f) -Algorithm SHA256).Hash.ToLowerInvariant()
                }
                """
        }
    }

    public var commit: String {
        switch placement.os {
        case .linux:
            let t = ShellQuote.posix(temporaryPath)
            let f = ShellQuote.posix(placement.path)
            return "h=$(\(Self.posixHash(t))) || exit 4; h=${h%% *}; "
                + "if [ \"$h\" != \(ShellQuote.posix(sha256)) ]; then rm -f -- \(t); echo \"$h\"; "
                + "exit \(Self.mismatchStatus); fi; mv -f -- \(t) \(f) && echo \"$h\""
        case .windows:
            let t = ShellQuote.powershell(temporaryPath)
            let f = ShellQuote.powershell(placement.path)
            return """
                $ErrorActionPreference = 'Stop'
                $h = (Get-FileHash -LiteralPath \(t) -Algorithm SHA256).Hash.ToLowerInvariant()
                if ($h -ne \(ShellQuote.powershell(sha256))) {
                    Remove-Item -LiteralPath \(t) -Force
                    Write-Output $h
                    exit \(Self.mismatchStatus)
                }
                if ([System.IO.File]::Exists(\(f))) {
                    [System.IO.File]::Replace(\(t), \(f), [NullString]::Value)
                } else {
                    [System.IO.File]::Move(\(t), \(f))
                }
                Write-Output $h
                """
        }
    }

    /// The lowercase hex SHA-256 at the start of a hash tool's output, or nil when it does not start with one.
    /// The SHA-256 of the quoted file `file` on a POSIX host, as `HEX *stdin` or `HEX  -`: OpenSSL's `dgst`
    /// where the host has it (SHA-NI: about 1.3 GB/s on the bench machine), else coreutils' `sha256sum` (about
    /// 200 MB/s on the same machine: coreutils has no hardware SHA). The host's hash is the part of a stage that
    /// costs the host most CPU (`make bench`, the stage section). A missing or failing `openssl` falls back; a
    /// failing `sha256sum` fails the command.
    static func posixHash(_ file: String) -> String {
        "{ openssl dgst -sha256 -r < \(file) 2>/dev/null || sha256sum < \(file); }"
    }

    public static func hash(in output: String) -> String? {
        let text = output.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        let hex = text.prefix(64)
        guard hex.count == 64, hex.allSatisfy({ $0.isHexDigit }) else { return nil }
        if let next = text.dropFirst(64).first, next.isHexDigit { return nil }
        return String(hex)
    }
}
