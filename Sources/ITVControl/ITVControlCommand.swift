import ArgumentParser
import Foundation
import ITVProtocol

/// `itvctl`: the operators' client.
///
/// Shell completions: `itvctl --generate-completion-script bash` (or `zsh`, `fish`); `make install` installs
/// the bash and zsh scripts.
public struct ITVControlCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "itvctl",
        abstract: "Operate itvd: releases, rollouts, approvals, windows, audit.",
        discussion: """
            Exit codes: 0 done; 1 the daemon refused or the operation failed; 64 usage error; 69 itvd \
            unreachable; 77 permission denied. `rollout watch` exits 0 when the rollout succeeded, 1 when it \
            ended otherwise, 2 when it waits for an approval.
            """,
        version: "itvctl \(ITVRelease.version)",
        subcommands: [
            StatusCommand.self, ProcedureCommand.self, ReleaseCommand.self, FeedCommand.self, HostCommand.self,
            RolloutCommand.self, WindowCommand.self, ReloadCommand.self, AuditCommand.self, MetricsCommand.self,
            NotifyCommand.self, ReportCommand.self, ArtifactCommand.self,
        ]
    )

    public init() {}

    /// Runs itvctl with the process's arguments. `--socket` and `--json` may come before the command
    /// (`itvctl --json rollout list`), as docs/PRODUCT.md writes them; they are moved behind it for the parser.
    public static func main() async {
        await main(globalOptionsLast(Array(CommandLine.arguments.dropFirst())))
    }

    /// Moves `--json`, `--socket PATH` and `--socket=PATH` found before or between command names to the end.
    static func globalOptionsLast(_ arguments: [String]) -> [String] {
        let commandNames = Set(
            configuration.subcommands.flatMap { command in
                [command._commandName] + command.configuration.subcommands.map { $0._commandName }
            })
        var moved: [String] = []
        var rest: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--json" || argument.hasPrefix("--socket=") {
                moved.append(argument)
            } else if argument == "--socket", i + 1 < arguments.count {
                moved += [argument, arguments[i + 1]]
                i += 1
            } else if commandNames.contains(argument) {
                rest.append(argument)
            } else {
                rest += arguments[i...]
                break
            }
            i += 1
        }
        return rest + moved
    }
}

/// Options every command takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The control socket (default: $ITV_SOCKET, else /run/itvd/itvd.sock).")
    var socket: String?

    @Flag(name: .long, help: "Print one JSON document on stdout instead of tables.")
    var json = false

    var socketPath: String {
        if let socket { return socket }
        if let fromEnvironment = ProcessInfo.processInfo.environment["ITV_SOCKET"], !fromEnvironment.isEmpty {
            return fromEnvironment
        }
        return "/run/itvd/itvd.sock"
    }
}

/// A command that talks to itvd.
protocol ClientCommand: ParsableCommand {
    var global: GlobalOptions { get }
    /// Seconds to wait for the answer (0: no limit).
    var timeoutSeconds: Int { get }
    func execute(_ api: ControlAPI) throws(ClientFailure)
}

extension ClientCommand {
    var timeoutSeconds: Int { 300 }

    func run() throws {
        let api = ControlAPI(http: HTTPClient(socketPath: global.socketPath, timeoutSeconds: timeoutSeconds))
        do {
            try execute(api)
        } catch {
            if global.json, !error.documentPrinted { Output.json(error.errorBody) }
            Output.error(error.message)
            throw ExitCode(error.exitCode)
        }
    }
}

/// A host or feed value, or a duration, parsed as `1h30m`.
struct DurationArgument: ExpressibleByArgument {
    var seconds: Int64

    init?(argument: String) {
        let units: [(Character, Int64)] = [("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]
        var total: Int64 = 0
        var digits = ""
        var next = 0
        for ch in argument {
            if ch.isASCII, ch.isNumber {
                digits.append(ch)
                if digits.count > 9 { return nil }
                continue
            }
            guard let n = Int64(digits), let i = units[next...].firstIndex(where: { $0.0 == ch }) else { return nil }
            total += n * units[i].1
            next = i + 1
            digits = ""
        }
        guard digits.isEmpty, total > 0 else { return nil }
        seconds = total
    }

    static var defaultValueDescription: String { "a duration such as 30m, 4h or 1h30m" }
}
