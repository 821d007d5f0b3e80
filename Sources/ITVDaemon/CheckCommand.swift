import ArgumentParser
import Foundation
import ITVCore
import ITVPlaybookLoader

/// Options shared by every subcommand that reads the configuration.
struct ConfigOptions: ParsableArguments {
    @Option(help: "Daemon configuration file (default: /etc/itvd/itvd.yaml when it exists).")
    var config: String?
    @Option(help: "Directory of playbooks (overrides the configuration).")
    var playbooks: String?
    @Option(help: "Inventory file (overrides the configuration).")
    var inventory: String?
    @Option(help: "State directory (overrides the configuration).")
    var state: String?
    @Option(help: "Control socket path (overrides the configuration).")
    var socket: String?

    var overrides: ConfigOverrides {
        ConfigOverrides(playbooks: playbooks, inventory: inventory, state: state, socket: socket)
    }

    /// The configuration file to read: the one given, else the system one if it exists and nothing
    /// else was given.
    var configFile: String? {
        if let config { return config }
        if playbooks == nil, inventory == nil, FileManager.default.fileExists(atPath: SetLoader.defaultConfigFile) {
            return SetLoader.defaultConfigFile
        }
        return nil
    }
}

struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the configuration, the inventory and every playbook.",
        discussion: "Prints file:line:column: message for every problem on stderr. Exit 0 when clean, 1 otherwise."
    )

    @OptionGroup var options: ConfigOptions
    @Flag(help: "Print nothing on success.") var quiet = false

    func run() throws {
        let loaded = SetLoader.load(configFile: options.configFile, overrides: options.overrides)
        for d in loaded.diagnostics {
            FileHandle.standardError.write(Data("\(d)\n".utf8))
        }
        guard let set = loaded.value else {
            FileHandle.standardError.write(Data("itvd check: \(loaded.diagnostics.count) problem(s)\n".utf8))
            throw ExitCode(1)
        }
        if !quiet {
            print(
                "ok: \(set.playbooks.count) playbooks, \(set.inventory.hosts.count) hosts, "
                    + "\(set.inventory.tenants.count) tenants, \(set.config.windows.count) windows")
        }
    }
}
