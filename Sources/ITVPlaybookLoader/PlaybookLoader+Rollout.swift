import ITVCore

extension PlaybookLoader {
    static func readSteps(
        _ node: YNode, _ r: YAMLReader, _ keyLocations: inout [String: SourceLocation], hasArtifact: Bool = false
    ) -> Steps? {
        guard let f = r.mapping(node, "steps", known: stepKeys) else { return nil }
        for key in stepKeys where f[key] != nil { keyLocations["steps.\(key)"] = f.keyLocation(key) }
        let before = r.problems
        let detect = required(f, "detect", r, in: "steps").flatMap { readCommand($0, "steps.detect", r) }
        let install = required(f, "install", r, in: "steps").flatMap { readCommand($0, "steps.install", r) }
        let verify = required(f, "verify", r, in: "steps").flatMap { readCommand($0, "steps.verify", r) }
        let rollback = f["rollback"].map { readCommand($0, "steps.rollback", r) }
        let timeout = f["timeout"].map { r.timeSpan($0, "steps.timeout") } ?? TimeSpan(seconds: 900)
        let idempotent = f["idempotent"].map { r.bool($0, "steps.idempotent") } ?? false
        if let timeout, timeout.seconds < 1, let node = f["timeout"] {
            r.error(node.location, "steps.timeout must be at least 1s")
        }
        let artifactDir = f["artifact_dir"].flatMap { readArtifactDir($0, r) }
        let commands: [(String, StepCommand?)] = [
            ("detect", detect), ("install", install), ("verify", verify), ("rollback", rollback ?? nil),
        ]
        for (name, command) in commands {
            guard let command, command.byOS.values.contains(where: { $0.variables.contains(.artifact) }) else {
                continue
            }
            let at = f[name]?.location ?? f.location
            if !hasArtifact {
                r.error(at, "steps.\(name) uses {{artifact}}, but the playbook has no artifact: block")
            } else if name == "detect" {
                r.error(at, "steps.detect cannot use {{artifact}}: the artifact is staged after detect")
            }
        }
        let reboot = readReboot(f, r)
        guard r.problems == before, let detect, let install, let verify, let timeout, let idempotent, let reboot
        else {
            return nil
        }
        return Steps(
            detect: detect, install: install, verify: verify, rollback: rollback ?? nil, timeout: timeout,
            idempotent: idempotent, artifactDir: artifactDir ?? [:], reboot: reboot)
    }

    /// `steps.artifact_dir`: a path (an absolute Linux path applies to Linux hosts, `C:\...` to Windows hosts),
    /// or `{linux: ..., windows: ...}`.
    static func readArtifactDir(_ node: YNode, _ r: YAMLReader) -> [OSFamily: String]? {
        var out: [OSFamily: String] = [:]
        if case .mapping = node {
            guard let f = r.mapping(node, "steps.artifact_dir", known: OSFamily.allCases.map(\.rawValue)) else {
                return nil
            }
            for os in OSFamily.allCases {
                guard let n = f[os.rawValue], let path = r.string(n, "steps.artifact_dir.\(os.rawValue)") else {
                    continue
                }
                if let problem = ArtifactPlacement.problem(withDirectory: path, for: os) {
                    r.error(n.location, "steps.artifact_dir.\(os.rawValue): \(problem)")
                    return nil
                }
                out[os] = path
            }
            return out
        }
        guard let path = r.string(node, "steps.artifact_dir") else { return nil }
        guard let os = ArtifactPlacement.family(ofDirectory: path) else {
            r.error(
                node.location,
                "steps.artifact_dir '\(escapedForMessage(path))' must be an absolute path: /... for Linux hosts, "
                    + "C:\\... for Windows hosts (or {linux: ..., windows: ...})")
            return nil
        }
        if let problem = ArtifactPlacement.problem(withDirectory: path, for: os) {
            r.error(node.location, "steps.\(problem)")
            return nil
        }
        return [os: path]
    }

    /// `exit_codes`, `reboot`, `reboot_command`, `reboot_timeout`, `user_check` of `steps:`.
    static func readReboot(_ f: Fields, _ r: YAMLReader) -> RebootSpec? {
        let before = r.problems
        var spec = RebootSpec()
        if let node = f["exit_codes"] {
            var entries: [(key: YNode, value: YNode)] = []
            if case .mapping(let e, _) = node {
                entries = e
            } else if case .scalar(let s) = node, s.isNull {
                entries = []
            } else {
                r.error(
                    node.location, "steps.exit_codes must be a mapping of exit codes, found \(node.kindDescription)")
            }
            for (key, value) in entries {
                let location = key.location
                // Exit codes are numbers, written plain (3010: reboot_required) or quoted.
                guard case .scalar(let k) = key, !k.isNull, k.value.count <= 11,
                    let code = Int64(k.value), (Int64(Int32.min)...Int64(Int32.max)).contains(code)
                else {
                    let name = if case .scalar(let k) = key { k.value } else { key.kindDescription }
                    r.error(
                        location,
                        "steps.exit_codes: '\(escapedForMessage(name))' is not an exit code (a whole number)")
                    continue
                }
                guard let action = r.enumValue(value, "steps.exit_codes.\(code)", ExitCodeAction.self) else { continue }
                if spec.exitCodes[Int32(code)] != nil {
                    r.error(location, "steps.exit_codes: exit code \(code) is given twice")
                }
                spec.exitCodes[Int32(code)] = action
            }
        }
        if let node = f["reboot"], let policy = r.enumValue(node, "steps.reboot", RebootPolicy.self) {
            spec.policy = policy
        }
        if let node = f["reboot_command"] { spec.command = readCommand(node, "steps.reboot_command", r) }
        if let node = f["user_check"] { spec.userCheck = readCommand(node, "steps.user_check", r) }
        if let node = f["reboot_timeout"], let span = r.timeSpan(node, "steps.reboot_timeout") {
            if span.seconds < 1 {
                r.error(node.location, "steps.reboot_timeout must be at least 1s")
            }
            spec.timeout = span
        }
        return r.problems == before ? spec : nil
    }

    /// A command: one string for every OS, or `{linux: ..., windows: ...}`.
    static func readCommand(_ node: YNode, _ what: String, _ r: YAMLReader) -> StepCommand? {
        if case .mapping = node {
            guard let f = r.mapping(node, what, known: OSFamily.allCases.map(\.rawValue)) else { return nil }
            var byOS: [OSFamily: CommandTemplate] = [:]
            for os in OSFamily.allCases {
                guard let n = f[os.rawValue] else { continue }
                guard let t = readTemplate(n, "\(what).\(os.rawValue)", r) else { return nil }
                byOS[os] = t
            }
            if byOS.isEmpty {
                r.error(node.location, "\(what) needs a command for linux or windows")
                return nil
            }
            return StepCommand(byOS: byOS)
        }
        return readTemplate(node, what, r).map { StepCommand(all: $0) }
    }

    static func readTemplate(_ node: YNode, _ what: String, _ r: YAMLReader) -> CommandTemplate? {
        guard case .scalar(let s) = node, !s.isNull else {
            r.error(node.location, "\(what) must be a command (a string), found \(r.describe(node))")
            return nil
        }
        if s.value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            r.error(s.location, "\(what) is empty")
            return nil
        }
        switch CommandTemplate.parse(s.value) {
        case .success(let template):
            return template
        case .failure(let e):
            r.error(templateLocation(s, offset: e.offset), "\(what): \(e.message)")
            return nil
        }
    }

    /// Where character `offset` of a scalar's value was written, when that can be known exactly (a
    /// one-line plain or quoted scalar without escapes); else the scalar's start.
    static func templateLocation(_ s: YScalar, offset: Int) -> SourceLocation {
        guard !s.value.contains("\n"), s.style != .block, !s.value.contains("\\"), !s.value.contains("'") else {
            return s.location
        }
        var at = s.location
        let prefix = s.value.prefix(offset)
        at.column += prefix.unicodeScalars.count + (s.style == .quoted ? 1 : 0)
        return at
    }
}

extension PlaybookLoader {
    /// Waves per rollout: a real one has three to five; each wave is planned and shown to operators.
    static let maxWaves = 100

    static func readRollout(
        _ node: YNode, _ r: YAMLReader, steps: Steps?, _ keyLocations: inout [String: SourceLocation]
    ) -> RolloutSpec? {
        guard let f = r.mapping(node, "rollout", known: rolloutKeys) else { return nil }
        for key in rolloutKeys where f[key] != nil { keyLocations["rollout.\(key)"] = f.keyLocation(key) }
        let before = r.problems
        let autoPlan = f["auto_plan"].map { r.bool($0, "rollout.auto_plan") } ?? false
        let maxFailures = f["max_failures"].map { readThreshold($0, r) } ?? .count(0)
        let maxUnreached = f["max_unreached"].map { readThreshold($0, r, key: "max_unreached") } ?? .percent(50)
        let retryUnreached = f["retry_unreached"].map { r.timeSpan($0, "rollout.retry_unreached") }
        let reachDeadline = f["reach_deadline"].map { r.timeSpan($0, "rollout.reach_deadline") }
        if let n = f["retry_unreached"], let t = retryUnreached ?? nil, t.seconds < 1 {
            r.error(n.location, "rollout.retry_unreached must be at least 1s")
        }
        let onFailure = f["on_failure"].map { r.enumValue($0, "rollout.on_failure", FailurePolicy.self) } ?? .halt
        let window: String?? = f["window"].map { r.string($0, "rollout.window") } ?? .some(nil)
        var waves: [WaveSpec] = []
        if let wavesNode = required(f, "waves", r, in: "rollout") {
            if case .sequence(let items, let location) = wavesNode {
                if items.isEmpty { r.error(location, "rollout.waves must list at least one wave") }
                if items.count > maxWaves {
                    r.error(location, "rollout.waves lists \(items.count) waves; a rollout has at most \(maxWaves)")
                }
                var names: [String: Int] = [:]
                for (i, item) in items.enumerated() {
                    guard let wave = readWave(item, index: i, r) else { continue }
                    if let first = names[wave.name] {
                        r.error(item.location, "wave name '\(wave.name)' is used twice (first at line \(first))")
                    }
                    names[wave.name] = item.location.line
                    if wave.size == .rest, i != items.count - 1 {
                        r.error(item.location, "wave '\(wave.name)' has size: rest, so it must be the last wave")
                    }
                    if wave.approval == .window, (window ?? nil) == nil {
                        r.error(
                            item.location,
                            "wave '\(wave.name)' has approval: window, but rollout.window names no "
                                + "patch window")
                    }
                    keyLocations["rollout.waves[\(i)]"] = item.location
                    waves.append(wave)
                }
            } else {
                r.error(wavesNode.location, "rollout.waves must be a list, found \(r.describe(wavesNode))")
            }
        }
        if onFailure == .rollback, let steps, steps.rollback == nil, let n = f["on_failure"] {
            r.error(n.location, "rollout.on_failure is rollback, but steps has no rollback command")
        }
        guard r.problems == before, let autoPlan, let maxFailures, let onFailure, let window, let maxUnreached
        else {
            return nil
        }
        var spec = RolloutSpec(
            autoPlan: autoPlan, waves: waves, maxFailures: maxFailures, onFailure: onFailure, window: window,
            maxUnreached: maxUnreached)
        if let t = retryUnreached ?? nil { spec.retryUnreached = t }
        if let t = reachDeadline ?? nil { spec.reachDeadline = t }
        return spec
    }

    static func readWave(_ node: YNode, index: Int, _ r: YAMLReader) -> WaveSpec? {
        let what = "wave \(index + 1)"
        guard let f = r.mapping(node, what, known: waveKeys) else { return nil }
        let before = r.problems
        let name = required(f, "name", r, in: what).flatMap { n -> String? in
            guard let name = r.string(n, "\(what) name") else { return nil }
            if !Playbook.isValidID(name) {
                r.error(n.location, "wave name '\(escapedForMessage(name))' must use lowercase letters, digits and '-'")
            }
            return name
        }
        let label = name.flatMap { Playbook.isValidID($0) ? "wave '\($0)'" : nil } ?? what
        let sizeKeys = ["size", "hosts", "group"].filter { f[$0] != nil }
        var size: WaveSize?
        if sizeKeys.count != 1 {
            r.error(
                f.location,
                sizeKeys.isEmpty
                    ? "\(label) needs one of size, hosts or group"
                    : "\(label) has \(sizeKeys.joined(separator: " and ")); give only one of size, hosts or group")
        } else if let n = f["size"] {
            size = readSize(n, label, r)
        } else if let n = f["hosts"], let hosts = r.stringList(n, "\(label) hosts") {
            if hosts.isEmpty { r.error(n.location, "\(label) hosts must name at least one host") }
            size = .hosts(hosts.map(\.value))
        } else if let n = f["group"], let g = r.string(n, "\(label) group") {
            size = .group(g)
        }
        let approval = f["approval"].map { r.enumValue($0, "\(label) approval", ApprovalKind.self) } ?? .operator
        let approvals = f["approvals"].map { r.int($0, "\(label) approvals", range: 1...5) } ?? 1
        if let approvals, approvals > 1, let approval, approval != .operator, let n = f["approvals"] {
            r.error(n.location, "\(label) approvals: \(approvals) needs approval: operator")
        }
        let bake = f["bake"].map { r.timeSpan($0, "\(label) bake") } ?? .zero
        let parallel = f["parallel"].map { r.int($0, "\(label) parallel", range: 1...10_000) }
        guard r.problems == before, let name, let size, let approval, let approvals, let bake else {
            return nil
        }
        return WaveSpec(
            name: name, size: size, approval: approval, approvals: approvals, bake: bake, parallel: parallel ?? nil)
    }

    /// `size:` is a count (`5`), a percentage (`10%`) or `rest`.
    static func readSize(_ node: YNode, _ label: String, _ r: YAMLReader) -> WaveSize? {
        guard case .scalar(let s) = node, !s.isNull else {
            r.error(node.location, "\(label) size must be a count, a percentage or rest, found \(r.describe(node))")
            return nil
        }
        if s.value == "rest" { return .rest }
        if s.value.hasSuffix("%") {
            let digits = s.value.dropLast()
            guard let p = Int(digits), digits.allSatisfy({ $0.asciiDigit != nil }), (1...100).contains(p) else {
                r.error(
                    s.location, "\(label) size '\(escapedForMessage(s.value))' must be a percentage from 1% to 100%")
                return nil
            }
            return .percent(p)
        }
        guard let n = r.int(node, "\(label) size", range: 1...100_000) else { return nil }
        return .count(n)
    }

    /// `max_failures:` (and `max_unreached:`) is a count (`2`) or a percentage (`5%`) of the wave's hosts.
    static func readThreshold(_ node: YNode, _ r: YAMLReader, key: String = "max_failures") -> FailureThreshold? {
        if case .scalar(let s) = node, s.value.hasSuffix("%") {
            let digits = s.value.dropLast()
            guard let p = Int(digits), digits.allSatisfy({ $0.asciiDigit != nil }), (0...100).contains(p) else {
                r.error(
                    s.location,
                    "rollout.\(key) '\(escapedForMessage(s.value))' must be a percentage "
                        + "from 0% to 100%")
                return nil
            }
            return .percent(p)
        }
        return r.int(node, "rollout.\(key)", range: 0...100_000).map { .count($0) }
    }
}
