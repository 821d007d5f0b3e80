import ArgumentParser

/// `itvctl`: the operators' client.
public struct ITVControlCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "itvctl",
        abstract: "Operate itvd: releases, rollouts, approvals, windows, audit."
    )

    public init() {}
}
