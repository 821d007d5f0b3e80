import Foundation
import Testing

extension E2ETests {
    /// What `host list`, `procedure list` and `procedure show` say the hosts run, after a scan.
    @Suite("End to end: host versions in host list and procedure list/show", .serialized)
    struct E2EHostViewsTests {
        struct HostList: Decodable {
            struct Host: Decodable {
                struct Installed: Decodable {
                    var procedure: String
                    var version: String?
                }
                var name: String
                var procedures: [Installed]
            }
            var hosts: [Host]
        }

        struct ProcedureList: Decodable {
            struct Procedure: Decodable {
                struct Count: Decodable, Hashable {
                    var version: String?
                    var hosts: Int
                }
                var id: String
                var deployed: [Count]
            }
            var procedures: [Procedure]
        }

        struct ProcedureShow: Decodable {
            struct Installed: Decodable {
                var host: String
                var version: String?
            }
            var hosts: [Installed]
        }

        @Test("after a scan, each view shows each host's version of each procedure")
        func views() async throws {
            let (a, b) = ("fake-view-a", "fake-view-b")
            let waves = ["{name: all, size: rest, approval: auto}"]
            let playbooks = [a: try fakeAppPlaybook(id: a, waves: waves), b: try fakeAppPlaybook(id: b, waves: waves)]
            try await E2EFleet.with(2, base: "127.0.69") { fleet in
                let (h1, h2) = (fleet.name(1), fleet.name(2))
                try fleet.setVersion(h1, a, "1.0")
                try fleet.setVersion(h1, b, "2.0")
                try fleet.setVersion(h2, a, "1.1")
                try await E2EDaemon.with(fleet: fleet, playbooks: playbooks) { itvd in
                    try itvd.ok(["host", "scan"])
                    let list = try e2eDecode(HostList.self, try itvd.ok(["--json", "host", "list"]))
                    func version(_ host: String, _ procedure: String) -> String? {
                        list.hosts.first { $0.name == host }?.procedures.first { $0.procedure == procedure }?.version
                    }
                    #expect(version(h1, a) == "1.0" && version(h1, b) == "2.0")
                    #expect(version(h2, a) == "1.1" && version(h2, b) == nil)
                    let only = try e2eDecode(HostList.self, try itvd.ok(["--json", "host", "list", "--procedure", b]))
                    #expect(only.hosts.allSatisfy { $0.procedures.map(\.procedure) == [b] })

                    let procedures = try e2eDecode(ProcedureList.self, try itvd.ok(["--json", "procedure", "list"]))
                    let deployedA = Set(procedures.procedures.first { $0.id == a }?.deployed ?? [])
                    #expect(deployedA == [.init(version: "1.0", hosts: 1), .init(version: "1.1", hosts: 1)])
                    let deployedB = Set(procedures.procedures.first { $0.id == b }?.deployed ?? [])
                    #expect(deployedB == [.init(version: "2.0", hosts: 1), .init(version: nil, hosts: 1)])

                    let show = try e2eDecode(ProcedureShow.self, try itvd.ok(["--json", "procedure", "show", b]))
                    #expect(show.hosts.first { $0.host == h1 }?.version == "2.0")
                    #expect(show.hosts.first { $0.host == h2 }?.version == nil)
                }
            }
        }
    }
}
