/// Checks what no single file can check alone: references between playbooks, the inventory and the
/// configuration. Returns every problem found.
public enum SetValidator {
    public static func validate(config: DaemonConfig, inventory: Inventory, playbooks: [Playbook]) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        func error(_ at: SourceLocation, _ message: String) { diagnostics.append(Diagnostic(at, message)) }

        var ids: [String: SourceLocation] = [:]
        let groups = inventory.groups
        let known = Array(groups) + inventory.hosts.map(\.name)
        for playbook in playbooks {
            let before = diagnostics.count
            defer {
                // A plan is checked only when everything it is made of is valid, so that its error is not
                // a consequence of another one.
                if diagnostics.count == before,
                    case .failure(let e) = WavePlanner.plan(playbook: playbook, inventory: inventory, version: "0")
                {
                    error(playbook.location(of: "rollout.waves"), "rollout.waves: \(e.message)")
                }
            }
            if let first = ids[playbook.id] {
                error(playbook.location(of: "id"), "procedure id '\(playbook.id)' is already used by \(first.file)")
            } else {
                ids[playbook.id] = playbook.location(of: "id")
            }
            let unknownTargets = playbook.targets.filter {
                inventory.host(named: $0.value) == nil && !groups.contains($0.value)
            }
            for target in unknownTargets {
                error(
                    target.location,
                    "target '\(Suggest.printable(target.value))' is neither a group nor a host of the inventory"
                        + Suggest.didYouMean(target.value, known))
            }
            let hosts = inventory.hosts(forTargets: playbook.targets.map(\.value))
            if hosts.isEmpty, !playbook.targets.isEmpty, unknownTargets.isEmpty {
                error(playbook.location(of: "targets"), "targets select no host of the inventory")
            }
            let names = Set(hosts.map(\.name))
            for (i, wave) in playbook.rollout.waves.enumerated() {
                let at = playbook.location(of: "rollout.waves[\(i)]")
                switch wave.size {
                case .hosts(let list):
                    for h in list where !names.contains(h) {
                        if inventory.host(named: h) == nil {
                            error(
                                at,
                                "wave '\(wave.name)': unknown host '\(Suggest.printable(h))'"
                                    + Suggest.didYouMean(h, inventory.hosts.map(\.name)))
                        } else {
                            error(
                                at,
                                "wave '\(wave.name)': host '\(Suggest.printable(h))' is not among the procedure's targets"
                            )
                        }
                    }
                case .group(let g):
                    if !groups.contains(g) {
                        error(
                            at,
                            "wave '\(wave.name)': unknown group '\(Suggest.printable(g))'"
                                + Suggest.didYouMean(g, Array(groups)))
                    } else if !hosts.contains(where: { $0.groups.contains(g) }) {
                        error(
                            at,
                            "wave '\(wave.name)': group '\(Suggest.printable(g))' has no host among the procedure's targets"
                        )
                    }
                default:
                    break
                }
            }
            if let window = playbook.rollout.window, config.windows[window] == nil {
                let declared = config.windows.keys.sorted()
                error(
                    playbook.location(of: "rollout.window"),
                    "unknown window '\(Suggest.printable(window))'; windows are declared in "
                        + "itvd.yaml under windows: (declared: \(declared.isEmpty ? "none" : declared.joined(separator: ", ")))"
                )
            }
            let steps: [(String, StepCommand?)] = [
                ("detect", playbook.steps.detect), ("install", playbook.steps.install),
                ("verify", playbook.steps.verify), ("rollback", playbook.steps.rollback),
            ]
            for os in OSFamily.allCases {
                guard let host = hosts.first(where: { $0.os == os }) else { continue }
                for (name, command) in steps {
                    if let command, command.template(for: os) == nil {
                        error(
                            playbook.location(of: "steps.\(name)"),
                            "steps.\(name) has no \(os.rawValue) command, but "
                                + "target host '\(host.name)' runs \(os.rawValue)")
                    }
                }
            }
        }
        return diagnostics
    }
}
