import Testing

@testable import ITVControlServer

@Suite("Admission: connection shares, watch streams, reader turns")
struct AdmissionTests {
    static let limits = Admission.Limits(
        maxConnections: 10, operatorReserve: 3, maxConnectionsPerUser: 4, maxWatchesPerUser: 2,
        maxConcurrentReads: 2, pendingAllowance: 2)

    /// A connection of `uid` through every step; nil when admitted (its ticket is appended to `held`).
    private func connect(
        _ admission: Admission, uid: UInt32, operator: Bool, _ held: inout [Admission.Ticket]
    ) -> String? {
        var ticket = Admission.Ticket()
        guard admission.arrive(&ticket) else { return "hard cap" }
        if let refusal = admission.claim(uid: uid, &ticket) {
            admission.release(ticket)
            return refusal.message
        }
        if let refusal = admission.admit(asOperator: `operator`, &ticket) {
            admission.release(ticket)
            return refusal.message
        }
        held.append(ticket)
        return nil
    }

    @Test("one uid gets its share, readers together get theirs, operators the rest, root has no per-uid cap")
    func shares() {
        let admission = Admission(Self.limits)
        var held: [Admission.Ticket] = []
        for _ in 0..<4 { #expect(connect(admission, uid: 1000, operator: false, &held) == nil) }
        #expect(connect(admission, uid: 1000, operator: false, &held)?.contains("the most one user may have") == true)
        for _ in 0..<3 { #expect(connect(admission, uid: 1001, operator: false, &held) == nil) }
        // 7 readers' connections: the readers' share (10 - 3) is full, for every reader.
        #expect(connect(admission, uid: 1002, operator: false, &held)?.contains("kept for operators") == true)
        #expect(admission.counts.readers == 7)
        // The reserve is the operators'.
        for _ in 0..<2 { #expect(connect(admission, uid: 2000, operator: true, &held) == nil) }
        #expect(connect(admission, uid: 0, operator: true, &held) == nil)
        #expect(connect(admission, uid: 0, operator: true, &held)?.contains("connections at once") == true)
        #expect(admission.counts.admitted == 10)
        // Everything is given back.
        for ticket in held { admission.release(ticket) }
        #expect(admission.counts.admitted == 0 && admission.counts.readers == 0)
        held = []
        for _ in 0..<4 { #expect(connect(admission, uid: 1000, operator: false, &held) == nil) }
        // Root: no per-uid cap.
        for _ in 0..<6 { #expect(connect(admission, uid: 0, operator: true, &held) == nil) }
    }

    @Test("beyond the hard cap a connection is not even identified")
    func hardCap() {
        let admission = Admission(Self.limits)
        var tickets: [Admission.Ticket] = []
        for _ in 0..<12 {
            var ticket = Admission.Ticket()
            #expect(admission.arrive(&ticket))
            tickets.append(ticket)
        }
        var one = Admission.Ticket()
        #expect(!admission.arrive(&one))
        admission.release(tickets.removeLast())
        #expect(admission.arrive(&one))
    }

    @Test("watch streams per uid; root is not limited")
    func watches() {
        let admission = Admission(Self.limits)
        #expect(admission.beginWatch(uid: 1000) == nil)
        #expect(admission.beginWatch(uid: 1000) == nil)
        #expect(admission.beginWatch(uid: 1000)?.message.contains("the most one user may follow at once") == true)
        #expect(admission.beginWatch(uid: 1001) == nil)
        for _ in 0..<5 { #expect(admission.beginWatch(uid: 0) == nil) }
        admission.endWatch(uid: 1000)
        #expect(admission.beginWatch(uid: 1000) == nil)
    }

    @Test("reader turns: at most maxConcurrentReads at once, given in order, and a wait that times out")
    func readTurns() async throws {
        let admission = Admission(Self.limits)
        #expect(await admission.beginRead(timeout: .seconds(1)))
        #expect(await admission.beginRead(timeout: .seconds(1)))
        // Both turns taken: a third waits, and gives up after its timeout.
        #expect(!(await admission.beginRead(timeout: .milliseconds(50))))
        // Two more wait; ending a turn passes it to the first of them.
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<2 {
                group.addTask {
                    #expect(await admission.beginRead(timeout: .seconds(60)))
                    return i
                }
                // The first is queued before the second is started.
                while admission.counts.waitingReads < i + 1 { try await Task.sleep(for: .milliseconds(5)) }
            }
            admission.endRead()
            #expect(try await group.next() == 0)
            admission.endRead()
            #expect(try await group.next() == 1)
        }
        admission.endRead()
        admission.endRead()
        #expect(await admission.beginRead(timeout: .milliseconds(10)))
        #expect(await admission.beginRead(timeout: .milliseconds(10)))
    }
}
