/// Checks what no single file can check alone: references between playbooks, the inventory and the
/// configuration. Returns every problem found (the first `maxPerPlaybook` of each playbook, then a count).
public enum SetValidator {
    /// Diagnostics per playbook, as per file in the loader: a list of 50,000 unknown targets costs 100 lines
    /// (and 100 searches for a close name among the inventory's), not 50,000.
    public static let maxPerPlaybook = 100
    /// Unknown names per list for which a close name is looked for among all of the inventory's.
    static let maxSuggestions = 10

    public static func validate(config: DaemonConfig, inventory: Inventory, playbooks: [Playbook]) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var problems = 0
        var shown = 0
        var hidden = 0
        func error(_ at: SourceLocation, _ message: @autoclosure () -> String) {
            problems += 1
            if shown < maxPerPlaybook {
                shown += 1
                diagnostics.append(Diagnostic(at, message()))
            } else {
                hidden += 1
            }
        }

        diagnostics += validateTenantWindows(config: config, inventory: inventory)
        var ids: [String: SourceLocation] = [:]
        let groups = inventory.groups
        let known = Array(groups) + inventory.hosts.map(\.name)
        for playbook in playbooks {
            let before = problems
            shown = 0
            hidden = 0
            defer {
                // A plan is checked only when everything it is made of is valid, so that its error is not
                // a consequence of another one.
                if problems == before,
                    case .failure(let e) = WavePlanner.plan(playbook: playbook, inventory: inventory, version: "0")
                {
                    error(playbook.location(of: "rollout.waves"), "rollout.waves: \(e.message)")
                }
                if hidden > 0 {
                    diagnostics.append(
                        Diagnostic(
                            playbook.location(of: "targets"),
                            "\(hidden) more problem(s) with this playbook's references are not shown (only the "
                                + "first \(maxPerPlaybook) are)"))
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
            for (n, target) in unknownTargets.enumerated() {
                // A close name is looked for among all of the inventory's for the first few only.
                error(
                    target.location,
                    "target '\(escapedForMessage(target.value))' is neither a group nor a host of the inventory"
                        + (n < maxSuggestions ? Suggest.didYouMean(target.value, known) : ""))
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
                    var unknownHosts = 0
                    for h in list where !names.contains(h) {
                        if inventory.host(named: h) == nil {
                            unknownHosts += 1
                            error(
                                at,
                                "wave '\(wave.name)': unknown host '\(escapedForMessage(h))'"
                                    + (unknownHosts <= maxSuggestions
                                        ? Suggest.didYouMean(h, inventory.hosts.map(\.name)) : ""))
                        } else {
                            error(
                                at,
                                "wave '\(wave.name)': host '\(escapedForMessage(h))' is not among the procedure's targets"
                            )
                        }
                    }
                case .group(let g):
                    if !groups.contains(g) {
                        error(
                            at,
                            "wave '\(wave.name)': unknown group '\(escapedForMessage(g))'"
                                + Suggest.didYouMean(g, Array(groups)))
                    } else if !hosts.contains(where: { $0.groups.contains(g) }) {
                        error(
                            at,
                            "wave '\(wave.name)': group '\(escapedForMessage(g))' has no host among the procedure's targets"
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
                    "unknown window '\(escapedForMessage(window))'; windows are declared in "
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

    /// A tenant's `windows` must be declared in itvd.yaml (at most `maxPerPlaybook` shown, then a count).
    static func validateTenantWindows(config: DaemonConfig, inventory: Inventory) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        var hidden = 0
        let declared = config.windows.keys.sorted()
        for tenant in inventory.tenants.values.sorted(by: { $0.id < $1.id }) {
            for window in tenant.windows where config.windows[window] == nil {
                guard diagnostics.count < maxPerPlaybook else {
                    hidden += 1
                    continue
                }
                diagnostics.append(
                    Diagnostic(
                        tenant.location ?? SourceLocation(file: "inventory", line: 0, column: 0),
                        "tenant '\(escapedForMessage(tenant.id))': unknown window '\(escapedForMessage(window))'; "
                            + "windows are declared in itvd.yaml under windows: (declared: "
                            + "\(declared.isEmpty ? "none" : declared.joined(separator: ", ")))"
                            + Suggest.didYouMean(window, declared)))
            }
        }
        if hidden > 0, let first = diagnostics.first {
            diagnostics.append(Diagnostic(first.location, "\(hidden) more unknown tenant window(s) are not shown"))
        }
        return diagnostics
    }
}
