/// The canonical encoding the plan hash is computed over, format `itv-plan-v1`.
///
/// The encoding is a fixed sequence of fields, in this order; every string is its UTF-8 byte count as an
/// 8-byte big-endian integer followed by its bytes, every integer is 8 bytes big-endian (two's complement),
/// every boolean one byte (0 or 1), every list its element count followed by its elements, and every
/// optional a boolean (present?) followed by the value when present. Since the field order is fixed and
/// every field says where it ends, two different plans never encode alike.
///
/// ```
/// "itv-plan-v1"
/// procedure, version
/// waves: [index, name, approval, approvals, bake seconds, parallel?, hosts: [name, address, port, user, os]]
/// steps: detect, install, verify, rollback?  (each: for linux, windows in that order: template source?)
///        timeout seconds, idempotent
/// max_failures: "count" | "percent", number
/// on_failure
/// window?
/// artifact: "artifact", name, size, sha256,      (only when the plan has an artifact)
///        artifact_dir for linux, windows in that order (steps.artifact_dir, else the default; no trailing
///        separator)
/// only when the playbook changes a reboot default: "reboot", exit_codes: [code, action] (by code), policy,
///        reboot_command?, reboot timeout seconds, user_check?
/// ```
/// The artifact is appended only when present, so a plan without one encodes (and hashes) exactly as before
/// artifacts existed; a plan with one has a longer encoding and so never collides with a plan without.
/// Changing anything here changes every plan hash: bump the format tag when doing so (a new `OSFamily`
/// case counts: the steps are encoded in `OSFamily.allCases` order).
struct PlanEncoding {
    static let formatTag = "itv-plan-v1"

    private(set) var bytes: [UInt8] = []

    /// The encoding of a plan of `playbook` at `version` whose waves are `waves`. Every host named in
    /// `waves` must be in `hosts`.
    static func encode(
        playbook: Playbook, version: String, waves: [PlannedWave], hosts: [String: Host],
        artifact: PlannedArtifact? = nil
    ) -> [UInt8] {
        var e = PlanEncoding()
        e.string(formatTag)
        e.string(playbook.id)
        e.string(version)
        e.int(waves.count)
        for wave in waves {
            e.int(wave.index)
            e.string(wave.spec.name)
            e.string(wave.spec.approval.rawValue)
            e.int(wave.spec.approvals)
            e.int64(wave.spec.bake.seconds)
            e.optional(wave.spec.parallel) { $0.int($1) }
            e.int(wave.hosts.count)
            for name in wave.hosts {
                guard let host = hosts[name] else { preconditionFailure("planned host \(name) is not a rollout host") }
                e.string(host.name)
                e.string(host.address)
                e.int(host.port)
                e.string(host.user)
                e.string(host.os.rawValue)
            }
        }
        let steps = playbook.steps
        e.step(steps.detect)
        e.step(steps.install)
        e.step(steps.verify)
        e.optional(steps.rollback) { $0.step($1) }
        e.int64(steps.timeout.seconds)
        e.bool(steps.idempotent)
        switch playbook.rollout.maxFailures {
        case .count(let n):
            e.string("count")
            e.int(n)
        case .percent(let p):
            e.string("percent")
            e.int(p)
        }
        e.string(playbook.rollout.onFailure.rawValue)
        e.optional(playbook.rollout.window) { $0.string($1) }
        if let artifact {
            e.string("artifact")
            e.string(artifact.name)
            e.int64(artifact.size)
            e.string(artifact.sha256)
            // Where `stage` puts the bytes on each OS (`steps.artifact_dir`, else the default), as stage
            // writes it: another directory is another plan.
            for os in OSFamily.allCases {
                let set = playbook.steps.artifactDir[os] ?? ArtifactPlacement.defaultDirectory(for: os)
                e.string(ArtifactPlacement(os: os, directory: set, name: artifact.name).directory)
            }
        }
        // Appended only when set, so that the hash of every plan without these keys stays what it was.
        let reboot = steps.reboot
        if reboot != RebootSpec() {
            e.string("reboot")
            let codes = reboot.exitCodes.sorted { $0.key < $1.key }
            e.int(codes.count)
            for (code, action) in codes {
                e.int64(Int64(code))
                e.string(action.rawValue)
            }
            e.string(reboot.policy.rawValue)
            e.optional(reboot.command) { $0.step($1) }
            e.int64(reboot.timeout.seconds)
            e.optional(reboot.userCheck) { $0.step($1) }
        }
        return e.bytes
    }

    mutating func int64(_ value: Int64) {
        let bits = UInt64(bitPattern: value)
        for shift in stride(from: 56, through: 0, by: -8) {
            bytes.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift)))
        }
    }

    mutating func int(_ value: Int) { int64(Int64(value)) }

    mutating func bool(_ value: Bool) { bytes.append(value ? 1 : 0) }

    mutating func string(_ value: String) {
        int(value.utf8.count)
        bytes.append(contentsOf: value.utf8)
    }

    mutating func optional<T>(_ value: T?, _ encode: (inout PlanEncoding, T) -> Void) {
        bool(value != nil)
        if let value { encode(&self, value) }
    }

    mutating func step(_ command: StepCommand) {
        for os in OSFamily.allCases {
            optional(command.template(for: os)) { $0.string($1.source) }
        }
    }
}
