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
    @Flag(
        help: ArgumentHelp(
            "Start with an empty state store on purpose: an unusable store is renamed aside (never deleted).",
            discussion: "Refused when the store is healthy. Without it, itvd never starts over by itself."))
    var initStore = false

    /// Exit codes of a start that did not get as far as serving (sysexits.h, which systemd names).
    enum StartFailure {
        /// The state store cannot be used as it is (missing, empty, damaged, replaced, too new): an operator
        /// must act; itvd.service does not restart on it (RestartPreventExitStatus=).
        static let storeUnusable: Int32 = 65
        /// Another itvd holds the state directory.
        static let storeLocked: Int32 = 75
        /// The state directory or store cannot be created or written (disk, permissions of the directory).
        static let storeIO: Int32 = 74
    }

    func run() async throws {
        let target = ITVLogging.Target(rawValue: log) ?? .automatic
        let writer = ITVLogging.bootstrap(target: target, logLevel: debug ? .debug : .info)
        defer { writer.shutdown(timeout: .seconds(2)) }
        var logger = Logger(label: "itvd")
        logger.logLevel = debug ? .debug : .info

        // Taken before the files are read: an unreachable directory is re-read by itself only while they stay so.
        let digest = SetLoader.filesDigest(configFile: options.configFile, overrides: options.overrides)
        let loaded = SetLoader.load(
            configFile: options.configFile, overrides: options.overrides, keptDirectoryReads: true)
        guard var set = loaded.value else {
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
            store = try await SQLiteRolloutStore.open(
                stateDirectory: set.config.state, mode: initStore ? .initialize : .existing)
        } catch let e as StoreError {
            let message =
                "itvd: not started: cannot use the state store in \(set.config.state): \(e.message) (\(e.kind))"
            FileHandle.standardError.write(Data((message + "\n").utf8))
            logger.critical(
                "\(message)", metadata: ["event": "\(ITVEvent.storeFailed.rawValue)", "kind": "\(e.kind)"])
            _ = Notifier().status(message)
            switch e.kind {
            case .locked: throw ExitCode(StartFailure.storeLocked)
            case .io: throw ExitCode(StartFailure.storeIO)
            default: throw ExitCode(StartFailure.storeUnusable)
            }
        }
        for path in store.openReport.setAside {
            logger.warning(
                "--init-store: set aside \(path)", metadata: ["event": "\(ITVEvent.storeInitialized.rawValue)"])
        }
        if store.openReport.created {
            logger.notice(
                "created an empty state store in \(set.config.state)",
                metadata: ["event": "\(ITVEvent.storeInitialized.rawValue)"])
        } else if store.openReport.markerRepaired {
            let message =
                "the state store in \(set.config.state) had no readable marker (itvd.state); it passed every check "
                + "and the marker was written again"
            logger.warning(
                "\(message)",
                metadata: ["event": "\(ITVEvent.storeMarkerRepaired.rawValue)"])
        }
        // The directories' fresh reads are kept once the state directory is in use (a first start creates it).
        set = Daemon.keepDirectoryReads(set, logger: logger)
        Daemon.journalWarnings(set, logger: logger)
        for warning in set.warnings { FileHandle.standardError.write(Data("itvd: \(warning)\n".utf8)) }
        let daemon = Daemon(
            set: set, configFile: options.configFile, overrides: options.overrides, store: store, logger: logger,
            filesDigestBeforeLoad: digest)
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
