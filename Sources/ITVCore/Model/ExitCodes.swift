/// What an installer's exit code means (`steps.exit_codes`).
public enum ExitCodeAction: String, Hashable, Sendable, Codable, CaseIterable {
    /// The install worked: `verify` runs next.
    case ok
    /// The install worked, but the host must restart before the new version is in use (MSI 3010).
    case rebootRequired = "reboot_required"
    /// The install worked and the installer restarts the host itself (MSI 1641): itvd waits for it.
    case rebooted
    /// Nothing was done, send `install` again after a backoff (MSI 1618 "another installation is running").
    case retry
}

/// Whether itvd restarts a host whose installer said a restart is needed (`steps.reboot`).
public enum RebootPolicy: String, Hashable, Sendable, Codable, CaseIterable {
    /// Never: the host succeeds with "reboot pending".
    case never
    /// Run `steps.reboot_command`, wait for the host to come back, then `verify`.
    case ifRequired = "if_required"
    /// As `if_required`, but only when `steps.user_check` reports nobody logged on.
    case ifRequiredAndNoUser = "if_required_and_no_user"
}

/// The exit codes of `install` and what each means: the OS defaults with the playbook's entries over them.
public struct ExitCodeMap: Hashable, Sendable {
    public var entries: [Int32: ExitCodeAction]

    public init(_ entries: [Int32: ExitCodeAction]) { self.entries = entries }

    /// Windows: `{0: ok, 3010: reboot_required, 1641: rebooted, 1618: retry}` (MSI's codes); Linux `{0: ok}`.
    public static func defaults(for os: OSFamily) -> ExitCodeMap {
        switch os {
        case .linux: return ExitCodeMap([0: .ok])
        case .windows: return ExitCodeMap([0: .ok, 3010: .rebootRequired, 1641: .rebooted, 1618: .retry])
        }
    }

    /// The defaults of `os` with `overrides` (the playbook's `steps.exit_codes`) over them.
    public static func effective(for os: OSFamily, overrides: [Int32: ExitCodeAction]) -> ExitCodeMap {
        var map = defaults(for: os)
        for (code, action) in overrides { map.entries[code] = action }
        return map
    }

    /// What `code` means; nil: the install failed.
    public func action(for code: Int32) -> ExitCodeAction? { entries[code] }
}

/// The reboot settings of a playbook's `steps:` block.
public struct RebootSpec: Hashable, Sendable {
    /// `steps.exit_codes`: entries over the OS defaults.
    public var exitCodes: [Int32: ExitCodeAction]
    public var policy: RebootPolicy
    /// `steps.reboot_command`; nil: the OS default (`defaultRebootCommand`).
    public var command: StepCommand?
    /// `steps.reboot_timeout`: how long to wait for the host to come back.
    public var timeout: TimeSpan
    /// `steps.user_check`; nil: the OS default (`defaultUserCheck`).
    public var userCheck: StepCommand?

    public init(
        exitCodes: [Int32: ExitCodeAction] = [:], policy: RebootPolicy = .never, command: StepCommand? = nil,
        timeout: TimeSpan = TimeSpan(seconds: 1_200), userCheck: StepCommand? = nil
    ) {
        self.exitCodes = exitCodes
        self.policy = policy
        self.command = command
        self.timeout = timeout
        self.userCheck = userCheck
    }

    /// `shutdown /r /t 60` on Windows (a minute for the session to end), `systemctl reboot` on Linux.
    public static func defaultRebootCommand(for os: OSFamily) -> String {
        os == .windows ? "shutdown /r /t 60" : "systemctl reboot"
    }

    /// `quser` on Windows, `who` on Linux: each prints one line per logged-on session.
    public static func defaultUserCheck(for os: OSFamily) -> String { os == .windows ? "quser" : "who" }

    /// The users a `user_check` printed: `who` prints `NAME TTY DATE ...` per session, `quser` a header
    /// (`USERNAME SESSIONNAME ID STATE IDLE TIME LOGON TIME`) then ` NAME SESSION ID STATE ...` per session
    /// (`>` marks the current one). Blank lines and the header are ignored; the first word of every other
    /// line is a user, each once, in order. `quser` exits 1 with "No User exists for *" when nobody is on:
    /// the caller passes only the output of a check that exited 0.
    public static func loggedOnUsers(_ output: String) -> [String] {
        var users: [String] = []
        for line in output.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard var first = words.first.map(String.init) else { continue }
            if first.uppercased() == "USERNAME" { continue }
            if first.hasPrefix(">") { first.removeFirst() }
            if first.isEmpty || users.contains(first) { continue }
            users.append(first)
        }
        return users
    }
}
