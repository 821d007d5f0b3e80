/// Everything the daemon runs from: configuration, inventory and every playbook, checked together.
public struct LoadedSet: Sendable {
    public var config: DaemonConfig
    public var inventory: Inventory
    public var playbooks: [Playbook]

    public init(config: DaemonConfig, inventory: Inventory, playbooks: [Playbook]) {
        self.config = config
        self.inventory = inventory
        self.playbooks = playbooks
    }
}
