import ArgumentParser
import ITVProtocol

/// `itvd`: the daemon and its offline subcommands.
public struct ITVDaemonCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "itvd",
        abstract: "Keeps business applications up to date on the fleet, in staged rollouts over SSH.",
        version: "itvd \(ITVRelease.version)",
        subcommands: [RunCommand.self, CheckCommand.self, ProbeCommand.self, VersionCommand.self],
        defaultSubcommand: RunCommand.self
    )

    public init() {}
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the version.")
    func run() { print("itvd \(ITVRelease.version)") }
}
