import ArgumentParser
import Foundation
import ITVCore
import ITVEngine
import ITVPlaybookLoader
import ITVSSH

/// `itvd probe`: the onboarding check for a new municipality.
struct ProbeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Connect to hosts, verify their host keys, authenticate and run a no-op.",
        discussion: """
            Runs `true` (`cmd /c exit 0` on Windows hosts) on every selected host and prints one line per host \
            (ok, or which failure, and the latency) and a summary. Exit 0 when every host is ok, 1 otherwise.
            """
    )

    @Option(help: "Daemon configuration file (default: /etc/itvd/itvd.yaml when it exists).") var config: String?
    @Option(help: "Inventory file (overrides the configuration).") var inventory: String?
    @Option(help: "Probe only hosts in this group (repeatable).") var group: [String] = []
    @Option(help: "Probe only this host (repeatable).") var host: [String] = []
    @Flag(help: "Print one JSON document.") var json = false
    @Option(help: "Hosts probed at once (default: the configuration's `parallel`).") var parallel: Int?
    @Option(help: "Private key file (overrides the configuration).") var identity: String?
    @Option(name: .customLong("known-hosts"), help: "known_hosts file (overrides the configuration).")
    var knownHosts: String?
    @Option(help: "Deadline of the probe command on each host, e.g. 30s.") var timeout: String = "30s"

    func run() async throws {
        guard let stepTimeout = TimeSpan.parse(timeout), stepTimeout.seconds > 0 else {
            throw ValidationError("--timeout must be a duration like 30s or 2m")
        }
        if let parallel, parallel < 1 { throw ValidationError("--parallel must be at least 1") }
        var daemonConfig = DaemonConfig()
        let configFile =
            config
            ?? (inventory == nil && FileManager.default.fileExists(atPath: "/etc/itvd/itvd.yaml")
                ? "/etc/itvd/itvd.yaml" : nil)
        if let configFile {
            let loaded = ConfigLoader.load(file: configFile)
            printDiagnostics(loaded.diagnostics)
            guard let value = loaded.value else { throw ExitCode(1) }
            daemonConfig = value
        }
        if let identity { daemonConfig.ssh.identity = identity }
        if let knownHosts { daemonConfig.ssh.knownHosts = knownHosts }
        let inventoryFile = inventory ?? daemonConfig.inventory
        let loaded = InventoryLoader.load(file: inventoryFile)
        printDiagnostics(loaded.diagnostics)
        guard let inventory = loaded.value else { throw ExitCode(1) }

        let selected: [ITVCore.Host]
        switch select(inventory) {
        case .success(let hosts): selected = hosts
        case .failure(let error):
            FileHandle.standardError.write(Data("itvd probe: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
        var executorConfig = SSHExecutorConfiguration(daemonConfig)
        let width = parallel ?? daemonConfig.parallel
        executorConfig.parallel = max(executorConfig.parallel, width)
        let executor = LibSSH2Executor(configuration: executorConfig)
        let clock = ContinuousClock()
        let start = clock.now
        let results = await Probe.run(
            hosts: selected.map { RemoteHost($0) }, executor: executor, parallel: width,
            timeout: .seconds(stepTimeout.seconds))
        let elapsed = clock.now - start
        let output = json ? Probe.formatJSON(results, elapsed: elapsed) : Probe.formatText(results, elapsed: elapsed)
        FileHandle.standardOutput.write(Data(output.utf8))
        if !results.allSatisfy({ $0.isOK }) { throw ExitCode(1) }
    }

    struct SelectionError: Error { var message: String }

    /// The hosts named by `--host` and `--group` (all hosts when neither is given), in inventory order.
    func select(_ inventory: Inventory) -> Result<[ITVCore.Host], SelectionError> {
        let unknownHosts = host.filter { inventory.host(named: $0) == nil }
        let unknownGroups = group.filter { !inventory.groups.contains($0) }
        if !unknownHosts.isEmpty || !unknownGroups.isEmpty {
            let names = unknownHosts.map { "host \($0)" } + unknownGroups.map { "group \($0)" }
            return .failure(SelectionError(message: "not in the inventory: \(names.joined(separator: ", "))"))
        }
        if host.isEmpty && group.isEmpty { return .success(inventory.hosts) }
        return .success(inventory.hosts(forTargets: host + group))
    }

    private func printDiagnostics(_ diagnostics: [Diagnostic]) {
        for d in diagnostics { FileHandle.standardError.write(Data("\(d)\n".utf8)) }
    }
}
