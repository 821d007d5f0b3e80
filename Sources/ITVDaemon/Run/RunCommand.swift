import ArgumentParser
import Foundation
import ITVCore
import ITVEngine
import ITVPlaybookLoader
import ITVStore
import ITVSystemd
import Logging

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the daemon (the default): rollouts, feeds, the control socket.")

    @OptionGroup var options: ConfigOptions
    @Option(help: "Where to log: automatic (journal if present, else stderr), journal, or stderr.")
    var log: String = "automatic"
    @Flag(help: "Log debug messages too.") var debug = false

    func run() async throws {
        let target = ITVLogging.Target(rawValue: log) ?? .automatic
        let writer = ITVLogging.bootstrap(target: target, logLevel: debug ? .debug : .info)
        defer { writer.shutdown(timeout: .seconds(2)) }
        var logger = Logger(label: "itvd")
        logger.logLevel = debug ? .debug : .info

        let loaded = SetLoader.load(configFile: options.configFile, overrides: options.overrides)
        guard let set = loaded.value else {
            for d in loaded.diagnostics {
                FileHandle.standardError.write(Data("\(d)\n".utf8))
                logger.error("\(d)", metadata: ["event": "\(ITVEvent.reloadFailed.rawValue)"])
            }
            FileHandle.standardError.write(
                Data("itvd: not started: \(loaded.diagnostics.count) problem(s) in the configuration\n".utf8))
            throw ExitCode(1)
        }
        let store: SQLiteRolloutStore
        do {
            store = try await SQLiteRolloutStore.open(stateDirectory: set.config.state)
        } catch let e as StoreError {
            let message = "itvd: cannot open the state store in \(set.config.state): \(e.message) (\(e.kind))"
            FileHandle.standardError.write(Data((message + "\n").utf8))
            logger.critical("\(message)", metadata: ["event": "store.failed"])
            throw ExitCode(1)
        }
        let daemon = Daemon(
            set: set, configFile: options.configFile, overrides: options.overrides, store: store, logger: logger)
        do {
            try await daemon.run()
        } catch DaemonExit.storeFailed {
            throw ExitCode(1)
        } catch is CancellationError {
            // Graceful shutdown (SIGTERM): services end by cancellation.
        } catch {
            FileHandle.standardError.write(Data("itvd: \(error)\n".utf8))
            logger.critical("itvd stopped: \(error)")
            throw ExitCode(1)
        }
    }
}
