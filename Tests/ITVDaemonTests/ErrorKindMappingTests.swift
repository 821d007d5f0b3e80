import ITVCore
import ITVEngine
import ITVProtocol
import Testing

@testable import ITVDaemon

/// Errors of the engine, the state machine, the planner and the store reach the wire through one typed kind
/// (`ITVErrorKind`) and one exhaustive switch: no kind falls through to `internal` by a typo.
@Suite struct ErrorKindMappingTests {
    @Test func everyAnswerIsAWireKindOfItsName() {
        let expected: [ITVErrorKind.Answer: String] = [
            .invalidRequest: "invalid_request", .permissionDenied: "permission_denied", .notFound: "not_found",
            .conflict: "conflict", .planChanged: "plan_changed", .alreadyApproved: "already_approved",
            .artifactRejected: "artifact_rejected",
            .unavailable: "unavailable", .internal: "internal",
        ]
        #expect(Set(expected.keys) == Set(ITVErrorKind.Answer.allCases))
        for answer in ITVErrorKind.Answer.allCases {
            let wire = ErrorKind(answer)
            #expect(wire.rawValue == expected[answer], "\(answer)")
            #expect(ErrorKind.all.contains(wire), "\(answer) is not a kind the protocol knows")
        }
    }

    /// The kinds the engine refuses with, answered as the string switch this replaced answered them.
    @Test func engineRefusalsKeepTheirWireKinds() throws {
        let cases: [(ITVErrorKind, ErrorKind)] = [
            (.notFound, .notFound), (.conflict, .conflict), (.alreadyApproved, .alreadyApproved),
            (.planChanged, .planChanged), (.invalid, .invalidRequest), (.unavailable, .unavailable),
            (.noHosts, .invalidRequest), (.unknownGroup, .invalidRequest),
        ]
        for (kind, wire) in cases {
            let error = try #require(EngineControlService.wireError(EngineError(kind, "why")) as? APIError)
            #expect(error == APIError(wire, "why"), "\(kind)")
        }
        let refusal = RolloutError(.planChanged, "changed")
        #expect(EngineControlService.wireError(EngineError(refusal)) as? APIError == APIError(.planChanged, "changed"))
    }

    /// The store's `conflict` is the request's fault; every other store error is the daemon's (503), including
    /// a broken constraint, whose raw kind is `invalid` like the engine's but is not answered `invalid_request`.
    @Test func storeErrorsAreUnavailableButConflict() throws {
        let conflict = EngineControlService.wireError(StoreError(kind: .conflict, message: "second active"))
        #expect(conflict as? APIError == APIError(.conflict, "second active"))
        let kinds: [ITVErrorKind] = [
            .locked, .missing, .empty, .new, .corrupt, .unreadable, .replaced, .tooNew, .initRefused,
            .constraintBroken, .io,
        ]
        for kind in kinds {
            let error = try #require(EngineControlService.wireError(StoreError(kind: kind, message: "m")) as? APIError)
            #expect(error == APIError(.unavailable, "the state store failed: m"), "\(kind)")
        }
        #expect(ITVErrorKind.constraintBroken.rawValue == "invalid" && ITVErrorKind.constraintBroken != .invalid)
    }

    @Test func otherErrorsPassUnchanged() {
        struct Other: Error {}
        #expect(EngineControlService.wireError(Other()) is Other)
    }
}
