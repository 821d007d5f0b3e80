import Testing

@testable import ITVCore

/// What a plan hash is computed from: a playbook, an inventory and a version.
struct HashInput: Sendable {
    var playbook: Playbook
    var inventory: Inventory
    var version: String

    /// Four hosts (h04 a Windows host on port 2222 as `admin`), three waves of every approval kind, per-OS
    /// install, a Linux-only rollback, a percent failure threshold and a window.
    static let base: HashInput = {
        let here = PlanFixture.here
        var inventory = PlanFixture.inventory(4)
        inventory.hosts[3].os = .windows
        inventory.hosts[3].port = 2222
        inventory.hosts[3].user = "admin"
        let t = PlanFixture.template
        let steps = Steps(
            detect: StepCommand(all: t("dpkg-query -W -f='${Version}' firefox-esr")),
            install: StepCommand(byOS: [
                .linux: t("apt-get install -y firefox-esr={{version}}"),
                .windows: t("winget install --id Mozilla.Firefox.ESR --version {{ version }}"),
            ]),
            verify: StepCommand(all: t("firefox-esr --version | grep -F {{version}}")),
            rollback: StepCommand(byOS: [.linux: t("apt-get install -y --allow-downgrades firefox-esr={{previous}}")]),
            timeout: TimeSpan(seconds: 900), idempotent: true)
        let waves = [
            WaveSpec(name: "canary", size: .hosts(["h02"]), approval: .auto),
            WaveSpec(name: "pilot", size: .count(1), approval: .operator, approvals: 2, bake: TimeSpan(seconds: 7_200)),
            WaveSpec(name: "broad", size: .rest, approval: .window, parallel: 50),
        ]
        let playbook = Playbook(
            id: "firefox-esr", name: "Mozilla Firefox ESR", vendor: "Mozilla", targets: [Located("all", at: here)],
            feed: FeedSpec(kind: .json, url: "https://vendor.example/v.json"), steps: steps,
            rollout: RolloutSpec(waves: waves, maxFailures: .percent(5), onFailure: .rollback, window: "evening"),
            origin: here)
        return HashInput(playbook: playbook, inventory: inventory, version: "115.3.1")
    }()

    func plan() throws -> RolloutPlan {
        try WavePlanner.plan(playbook: playbook, inventory: inventory, version: version).get()
    }
}

/// One change to one field the hash covers.
struct HashMutation: Sendable, CustomTestStringConvertible {
    let field: String
    let change: @Sendable (inout HashInput) -> Void
    var testDescription: String { field }

    init(_ field: String, _ change: @escaping @Sendable (inout HashInput) -> Void) {
        self.field = field
        self.change = change
    }
}

private let t = PlanFixture.template

let coveredFields: [HashMutation] = [
    HashMutation("procedure") { $0.playbook.id = "firefox" },
    HashMutation("version") { $0.version = "115.3.2" },
    HashMutation("wave name") { $0.playbook.rollout.waves[1].name = "pilots" },
    HashMutation("wave approval") { $0.playbook.rollout.waves[0].approval = .operator },
    HashMutation("wave approvals") { $0.playbook.rollout.waves[1].approvals = 1 },
    HashMutation("wave bake") { $0.playbook.rollout.waves[1].bake = TimeSpan(seconds: 7_201) },
    HashMutation("wave parallel set") { $0.playbook.rollout.waves[0].parallel = 50 },
    HashMutation("wave parallel value") { $0.playbook.rollout.waves[2].parallel = 51 },
    HashMutation("wave parallel unset") { $0.playbook.rollout.waves[2].parallel = nil },
    HashMutation("hosts of a wave") { $0.playbook.rollout.waves[1].size = .count(2) },
    HashMutation("wave order") { $0.playbook.rollout.waves.swapAt(0, 1) },
    HashMutation("host name") { $0.inventory.hosts[2].name = "h03b" },
    HashMutation("host added") {
        $0.inventory.hosts.append(
            Host(name: "h05", address: "10.0.0.5", tenant: "t", groups: ["all"], location: PlanFixture.here))
    },
    HashMutation("host address") { $0.inventory.hosts[0].address = "10.0.0.99" },
    HashMutation("host port") { $0.inventory.hosts[3].port = 22 },
    HashMutation("host user") { $0.inventory.hosts[2].user = "root" },
    HashMutation("host os") { $0.inventory.hosts[2].os = .windows },
    HashMutation("detect") { $0.playbook.steps.detect = StepCommand(all: t("dpkg-query -W firefox-esr")) },
    HashMutation("install windows") {
        $0.playbook.steps.install.byOS[.windows] = t("winget install --id Mozilla.Firefox.ESR --version {{version}}")
    },
    HashMutation("install without windows") { $0.playbook.steps.install.byOS[.windows] = nil },
    HashMutation("verify") {
        $0.playbook.steps.verify = StepCommand(all: t("firefox-esr --version | grep {{version}}"))
    },
    HashMutation("rollback removed") { $0.playbook.steps.rollback = nil },
    HashMutation("rollback for windows") {
        $0.playbook.steps.rollback?.byOS[.windows] = t("choco install {{previous}}")
    },
    HashMutation("timeout") { $0.playbook.steps.timeout = TimeSpan(seconds: 901) },
    HashMutation("idempotent") { $0.playbook.steps.idempotent = false },
    HashMutation("max_failures number") { $0.playbook.rollout.maxFailures = .percent(6) },
    HashMutation("max_failures kind") { $0.playbook.rollout.maxFailures = .count(5) },
    HashMutation("on_failure") { $0.playbook.rollout.onFailure = .halt },
    HashMutation("window name") { $0.playbook.rollout.window = "night" },
    HashMutation("window removed") { $0.playbook.rollout.window = nil },
]

@Test(arguments: coveredFields)
func hashChangesWithEachCoveredField(_ mutation: HashMutation) throws {
    var input = HashInput.base
    mutation.change(&input)
    #expect(try input.plan().hash != HashInput.base.plan().hash)
}

@Test func hashIsStableForIdenticalInput() throws {
    let first = try HashInput.base.plan()
    #expect(try HashInput.base.plan().hash == first.hash)
    #expect(first.hash.count == 64)
    #expect(first.hash.allSatisfy { "0123456789abcdef".contains($0) })
}

/// The hash of the base input, computed by an independent script (Python, hashlib) from the encoding
/// documented in PlanEncoding.swift. It freezes the format: stored hashes must still match after an upgrade.
///
/// The script (`python3 golden.py`), kept here so that the value can be recomputed:
/// ```python
/// import hashlib
/// def i(n): return n.to_bytes(8, 'big', signed=True)
/// def s(x): b = x.encode('utf-8'); return i(len(b)) + b
/// def bo(b): return bytes([1 if b else 0])
/// def opt(v, f): return bo(v is not None) + (f(v) if v is not None else b'')
/// hosts = {
///  'h01': ('10.0.0.1', 22, 'itv', 'linux'), 'h02': ('10.0.0.2', 22, 'itv', 'linux'),
///  'h03': ('10.0.0.3', 22, 'itv', 'linux'), 'h04': ('10.0.0.4', 2222, 'admin', 'windows'),
/// }
/// waves = [(0, 'canary', 'auto', 1, 0, None, ['h02']), (1, 'pilot', 'operator', 2, 7200, None, ['h01']),
///          (2, 'broad', 'window', 1, 0, 50, ['h03', 'h04'])]
/// out = s('itv-plan-v1') + s('firefox-esr') + s('115.3.1') + i(len(waves))
/// for idx, name, appr, n, bake, par, hs in waves:
///     out += i(idx) + s(name) + s(appr) + i(n) + i(bake) + opt(par, i) + i(len(hs))
///     for h in hs:
///         a, p, u, o = hosts[h]
///         out += s(h) + s(a) + i(p) + s(u) + s(o)
/// def step(linux, windows): return opt(linux, s) + opt(windows, s)
/// detect = "dpkg-query -W -f='${Version}' firefox-esr"
/// out += step(detect, detect)
/// out += step("apt-get install -y firefox-esr={{version}}",
///              "winget install --id Mozilla.Firefox.ESR --version {{ version }}")
/// verify = "firefox-esr --version | grep -F {{version}}"
/// out += step(verify, verify)
/// out += bo(True) + step("apt-get install -y --allow-downgrades firefox-esr={{previous}}", None)
/// out += i(900) + bo(True)
/// out += s('percent') + i(5) + s('rollback') + opt('evening', s)
/// print(hashlib.sha256(out).hexdigest(), len(out))
/// ```
@Test func hashMatchesTheDocumentedEncoding() throws {
    #expect(try HashInput.base.plan().hash == "153fd0071a6a59ac23812f914b212461c6bae023f669068945252905254ded21")
}

@Test func hashIgnoresWhatTheApproverDoesNotApprove() throws {
    let base = try HashInput.base.plan().hash
    var input = HashInput.base
    input.playbook.name = "Firefox"
    input.playbook.vendor = "Mozilla Foundation"
    input.playbook.feed = nil
    input.playbook.origin = SourceLocation(file: "other.yaml", line: 3, column: 1)
    input.inventory.hosts[0].tenant = "egling"
    input.inventory.hosts[0].location = SourceLocation(file: "inv.yaml", line: 9, column: 3)
    // The same hosts, chosen another way.
    input.playbook.rollout.waves[1].size = .hosts(["h01"])
    #expect(try input.plan().hash == base)
}

@Test func fieldBoundariesAreUnambiguous() throws {
    // Moving a character from one field to the next must change the encoding.
    var a = HashInput.base
    a.playbook.id = "ab"
    a.version = "c"
    var b = HashInput.base
    b.playbook.id = "a"
    b.version = "bc"
    #expect(try a.plan().hash != b.plan().hash)
    var c = HashInput.base
    c.inventory.hosts[0].address = "10.0.0.1"
    c.inventory.hosts[0].user = "2itv"
    var d = HashInput.base
    d.inventory.hosts[0].address = "10.0.0.12"
    d.inventory.hosts[0].user = "itv"
    #expect(try c.plan().hash != d.plan().hash)
}

@Test func hashCoversTheOrderOfHostsInAWave() throws {
    var a = HashInput.base
    a.playbook.rollout.waves[0].size = .hosts(["h01", "h02"])
    var b = HashInput.base
    b.playbook.rollout.waves[0].size = .hosts(["h02", "h01"])
    #expect(try a.plan().waves[0].hosts == ["h01", "h02"])
    #expect(try b.plan().waves[0].hosts == ["h02", "h01"])
    #expect(try a.plan().hash != b.plan().hash)
}
