/// Everything the daemon runs from: configuration, inventory and every playbook, checked together.
public struct LoadedSet: Sendable {
    public var config: DaemonConfig
    public var inventory: Inventory
    public var playbooks: [Playbook]
    /// What this set holds that is not fresh: an `ldap:` source whose directory could not be read, replaced by
    /// the entries read from it before. Said in the journal and in `itvctl status` while the set runs.
    public var warnings: [String] = []
    /// The entries the load read from each `ldap:` source, for the daemon to keep in its state directory; the
    /// daemon empties this once they are kept.
    public var directoryReads: [DirectoryRead] = []

    public init(config: DaemonConfig, inventory: Inventory, playbooks: [Playbook]) {
        self.config = config
        self.inventory = inventory
        self.playbooks = playbooks
    }
}

/// The entries one read of an `ldap:` source gave: what the daemon keeps so that it can start (and reload)
/// with them when the directory cannot be reached.
public struct DirectoryRead: Sendable, Hashable, Codable {
    public var source: String
    /// What was asked (URL, base, filter, attributes, bind DN) as a SHA-256: a kept read answers only the
    /// same search.
    public var fingerprint: String
    /// When it was read (ms since the epoch).
    public var readAt: Int64
    public var entries: [DirectoryEntry]

    public init(source: String, fingerprint: String, readAt: Int64, entries: [DirectoryEntry]) {
        self.source = source
        self.fingerprint = fingerprint
        self.readAt = readAt
        self.entries = entries
    }
}

/// One directory entry: its DN and its attributes (names lowercased) with their values.
public struct DirectoryEntry: Sendable, Hashable, Codable {
    public var dn: String
    public var attributes: [String: [String]]

    public init(dn: String, attributes: [String: [String]]) {
        self.dn = dn
        self.attributes = attributes
    }
}
