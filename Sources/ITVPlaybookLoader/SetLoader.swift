import Foundation
import ITVCore

/// Command-line values that replace configuration keys.
public struct ConfigOverrides: Sendable {
    public var playbooks: String?
    public var inventory: String?
    public var state: String?
    public var socket: String?

    public init(playbooks: String? = nil, inventory: String? = nil, state: String? = nil, socket: String? = nil) {
        self.playbooks = playbooks
        self.inventory = inventory
        self.state = state
        self.socket = socket
    }
}

public enum SetLoader {
    public static let defaultConfigFile = "/etc/itvd/itvd.yaml"

    /// Loads the configuration (`configFile`, or the defaults), applies the overrides, then the inventory and
    /// every `*.yaml`/`*.yml` file in the playbooks directory. The set is returned only when there is no
    /// problem at all, so that a bad file never replaces a good set. `keptDirectoryReads` (the daemon): an
    /// `ldap:` source whose directory cannot be reached gives the hosts read last (kept in the state
    /// directory, `DirectoryCache`; the set's `warnings` say so), and the fresh reads come with the set.
    public static func load(
        configFile: String?, overrides: ConfigOverrides = ConfigOverrides(), keptDirectoryReads: Bool = false
    ) -> Loaded<LoadedSet> {
        var diagnostics: [Diagnostic] = []
        var config = DaemonConfig()
        if let configFile {
            let loaded = ConfigLoader.load(file: configFile)
            diagnostics += loaded.diagnostics
            guard let c = loaded.value else { return Loaded(value: nil, diagnostics: diagnostics) }
            config = c
        }
        if let p = overrides.playbooks { config.playbooks = p }
        if let p = overrides.inventory { config.inventory = p }
        if let p = overrides.state { config.state = p }
        if let p = overrides.socket { config.socket = p }

        let inventory = InventoryLoader.load(
            file: config.inventory, cache: keptDirectoryReads ? DirectoryCache(stateDirectory: config.state) : nil)
        diagnostics += inventory.diagnostics
        var playbooks: [Playbook] = []
        switch playbookFiles(in: config.playbooks) {
        case .failure(let d):
            diagnostics.append(d)
        case .success(let files):
            for file in files {
                let loaded = PlaybookLoader.load(file: file, within: config.playbooks)
                diagnostics += loaded.diagnostics
                if let p = loaded.value { playbooks.append(p) }
            }
        }
        if let inv = inventory.value {
            diagnostics += SetValidator.validate(config: config, inventory: inv, playbooks: playbooks)
        }
        guard diagnostics.isEmpty, let inv = inventory.value else {
            return Loaded(value: nil, diagnostics: bounded(diagnostics.sortedByLocation()))
        }
        var set = LoadedSet(config: config, inventory: inv, playbooks: playbooks)
        set.warnings = inventory.warnings.map(\.description)
        set.directoryReads = inventory.directoryReads
        return Loaded(value: set, diagnostics: [])
    }

    /// The configuration file, the inventory file and every playbook file as they are now (names and bytes) as
    /// a SHA-256, or nil when the configuration cannot be read. The daemon compares it with the one taken before
    /// its last load: only when nothing changed does it re-read an unreachable directory by itself, so that an
    /// automatic re-read never applies files an operator is still editing.
    public static func filesDigest(configFile: String?, overrides: ConfigOverrides = ConfigOverrides()) -> String? {
        var hash = SHA256()
        func add(_ path: String) {
            hash.update(Array(path.utf8) + [0])
            switch FileInput.read(path, maxBytes: 64 << 20) {
            case .success(let bytes):
                hash.update(Array(String(bytes.count).utf8) + [0])
                hash.update(bytes)
            case .failure(let d): hash.update(Array("unreadable: \(d.message)".utf8) + [0])
            }
        }
        var config = DaemonConfig()
        if let configFile {
            guard let c = ConfigLoader.load(file: configFile).value else { return nil }
            config = c
            add(configFile)
        }
        if let p = overrides.playbooks { config.playbooks = p }
        if let p = overrides.inventory { config.inventory = p }
        add(config.inventory)
        switch playbookFiles(in: config.playbooks) {
        case .success(let files): files.forEach(add)
        case .failure(let d): hash.update(Array("playbooks: \(d.message)".utf8))
        }
        return SHA256.hex(hash.finalize())
    }

    /// Diagnostics of one load, over every file: what `itvd check` prints, `itvctl reload` answers and a
    /// failed reload journals stays readable (and bounded) when a whole directory is broken.
    public static let maxDiagnostics = 1_000

    static func bounded(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        guard diagnostics.count > maxDiagnostics else { return diagnostics }
        let kept = Array(diagnostics.prefix(maxDiagnostics))
        return kept + [
            Diagnostic(
                kept[kept.count - 1].location,
                "\(diagnostics.count - maxDiagnostics) more problem(s) are not shown (only the first "
                    + "\(maxDiagnostics) are)")
        ]
    }

    /// Playbook files per directory: ten times the cooperative's 300 procedures, and more.
    public static let maxPlaybooks = 10_000

    /// The playbook files of a directory, sorted by name; hidden files are skipped.
    public static func playbookFiles(in directory: String) -> Result<[String], Diagnostic> {
        let here = SourceLocation(file: directory, line: 1, column: 1)
        do {
            let names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { !$0.hasPrefix(".") && ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) }
            guard names.count <= maxPlaybooks else {
                return .failure(
                    Diagnostic(
                        here,
                        "the playbooks directory holds \(names.count) playbook files; itvd reads at most "
                            + "\(maxPlaybooks)"))
            }
            return .success(names.sorted().map { (directory as NSString).appendingPathComponent($0) })
        } catch {
            return .failure(Diagnostic(here, "cannot read the playbooks directory: \(error.localizedDescription)"))
        }
    }
}
