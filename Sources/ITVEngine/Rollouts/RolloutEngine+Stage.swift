import Foundation
import ITVCore

// The `stage` step: what is uploaded from where to where, and how its outcome reads to the state machine.
extension RolloutEngine {
    /// The upload `stage` makes for a host of `os`, or why it cannot be made (nothing is sent then).
    func stageRequest(_ recipe: RolloutRecipe, os: OSFamily) -> Result<StageRequest, StageRefusal> {
        guard let artifact = recipe.artifact, let placement = recipe.artifactPlacement(for: os) else {
            return .failure(StageRefusal(kind: "no_artifact", message: "the rollout has no artifact to stage"))
        }
        if let problem = ArtifactPlacement.problem(withName: artifact.name) {
            return .failure(StageRefusal(kind: "artifact_name", message: problem))
        }
        if let problem = ArtifactPlacement.problem(withDirectory: placement.directory, for: os) {
            return .failure(StageRefusal(kind: "artifact_dir", message: problem))
        }
        guard Self.isSHA256Hex(artifact.sha256) else {
            return .failure(
                StageRefusal(kind: "artifact_missing", message: "the artifact's sha256 is not 64 lowercase hex digits"))
        }
        guard let cache = artifactCache else {
            return .failure(
                StageRefusal(kind: "artifact_missing", message: "this daemon has no artifact cache to stage from"))
        }
        let local = cache + "/sha256/" + artifact.sha256
        // The cache holds only complete, verified files under their hash; the size is checked here so that a
        // file truncated behind the daemon's back is not even offered (the host checks the hash anyway).
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: local),
            attributes[.type] as? FileAttributeType == .typeRegular,
            let size = (attributes[.size] as? NSNumber)?.int64Value
        else {
            return .failure(
                StageRefusal(
                    kind: "artifact_missing",
                    message: "the verified artifact \(artifact.name) (sha256 \(artifact.sha256)) is not in the cache"))
        }
        guard size == artifact.size else {
            return .failure(
                StageRefusal(
                    kind: "artifact_missing",
                    message: "the cached artifact \(artifact.name) has \(size) bytes, the plan says \(artifact.size)"))
        }
        return .success(
            StageRequest(localPath: local, placement: placement, size: artifact.size, sha256: artifact.sha256))
    }

    static func isSHA256Hex(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    /// `staged` is a step that exited 0 (its output says whether bytes were sent); `refused` is a step that
    /// cannot succeed by repeating it; `interrupted` has an unknown outcome, which the state machine
    /// settles by sending `stage` again.
    static func stageResult(_ outcome: StageOutcome) -> StepResult {
        switch outcome {
        case .staged(let bytes, _):
            return .exited(
                code: 0, stdout: bytes == 0 ? "already on the host" : "uploaded \(bytes) bytes", stderr: "")
        case .refused(let kind, let message):
            return .notRun(kind: kind, message: escapedForMessage(message))
        case .interrupted(let outcome):
            return .unknown(kind: outcome.kind, message: describe(outcome))
        }
    }
}

/// Why a stage was not attempted.
struct StageRefusal: Error, Hashable {
    var kind: String
    var message: String
}
