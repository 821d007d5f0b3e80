import Foundation
import ITVControlServer
import ITVProtocol
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Real Unix users and groups, made for one test and deleted afterwards.
final class TestUsers: @unchecked Sendable {
    let suffix = String(UInt32.random(in: 0..<UInt32.max), radix: 36)
    var operatorGroup: String { "itvt-ops-\(suffix)" }
    var readerGroup: String { "itvt-rd-\(suffix)" }
    var operatorUser: String { "itvt-op-\(suffix)" }
    var readerUser: String { "itvt-r-\(suffix)" }
    var readerUser2: String { "itvt-s-\(suffix)" }
    var stranger: String { "itvt-x-\(suffix)" }

    func create() async throws {
        try await sh("groupadd --system \(operatorGroup) && groupadd --system \(readerGroup)")
        let add = "useradd --system --no-create-home --shell /usr/sbin/nologin"
        try await sh("\(add) -G \(operatorGroup),\(readerGroup) \(operatorUser)")
        try await sh("\(add) -G \(readerGroup) \(readerUser)")
        try await sh("\(add) -G \(readerGroup) \(readerUser2)")
        try await sh("\(add) \(stranger)")
    }

    func delete() async {
        for user in [operatorUser, readerUser, readerUser2, stranger] {
            _ = try? await sh("userdel \(user) 2>/dev/null || true")
        }
        for group in [operatorGroup, readerGroup] { _ = try? await sh("groupdel \(group) 2>/dev/null || true") }
    }
}

@Suite("Authorization by peer credentials, with real Unix users", .serialized)
struct AuthorizationTests {
    @Test("root, an operator, a reader and a stranger against every route")
    func matrix() async throws {
        guard getuid() == 0 else {
            Issue.record("the authorization matrix needs root to create users")
            return
        }
        let users = TestUsers()
        try await users.create()
        do {
            try await runMatrix(users)
        } catch {
            await users.delete()
            throw error
        }
        await users.delete()
    }

    @Test("a new authorization decides the next request and closes the watch streams of users who lost reading")
    func replacedAuthorization() async throws {
        let service = FakeControlService()
        try await withUsersAndServer(service) { users, dir, server, socket in
            let executable = try reachableItvctl(in: dir)
            let (holder, report) = try await ConnectionHolder.start(
                as: users.readerUser, socket: socket, mode: "watch", count: 1, scriptDir: dir)
            defer { holder.stop() }
            #expect(report.held == 1, "\(report)")
            // The operator group now only reads; the reader group is gone.
            server.updateAuthorization(
                AuthorizationPolicy(operatorGroups: ["root"], readerGroups: [users.operatorGroup]))
            #expect(server.authorizationPolicy.readerGroups == [users.operatorGroup])
            _ = await eventually(timeout: .seconds(30)) { service.endedWatches.withLock { $0 } > 0 }
            #expect(service.endedWatches.withLock { $0 } == 1, "the reader's watch was not closed")
            let reader = try await itvctl(
                ["status"], socket: socket, user: users.readerUser, executable: executable)
            #expect(reader.status == 77, "\(reader.stderr)")
            let demoted = try await itvctl(
                ["rollout", "pause", "12"], socket: socket, user: users.operatorUser, executable: executable)
            #expect(demoted.status == 77, "\(demoted.stderr)")
            #expect(demoted.stderr.contains("may read but not change"), "\(demoted.stderr)")
            let reads = try await itvctl(
                ["status"], socket: socket, user: users.operatorUser, executable: executable)
            #expect(reads.status == 0, "\(reads.stderr)")
            #expect(service.calls(.rolloutPause) == 0)
        }
    }

    private func runMatrix(_ users: TestUsers) async throws {
        let service = FakeControlService()
        let binCopy = try SocketDir()
        let executable = try reachableItvctl(in: binCopy)
        try await withServer(service, operators: [users.operatorGroup], readers: [users.readerGroup]) { _, socket in
            // As created: 0660 with the reader group. A stranger cannot even connect.
            var info = stat()
            #expect(lstat(socket, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o660)
            #expect(info.st_gid == getgrnam(users.readerGroup).pointee.gr_gid)
            let shut = try await itvctl(["status"], socket: socket, user: users.stranger, executable: executable)
            #expect(shut.status == 77, "\(shut.stderr)")
            #expect(shut.stderr.contains("permission denied: you may not use itvd's socket"))
            #expect(service.denials.isEmpty)

            // Loosen the file mode so that the daemon's own check is what is tested (as when systemd's
            // SocketMode= is set wider): the daemon must still refuse.
            chmod(socket, 0o666)
            let changeRoutes = Set(Route.allCases.filter { $0.access == .change })
            for command in everyCommand {
                for (user, role) in [
                    (nil, "root"), (users.operatorUser, "operator"), (users.readerUser, "reader"),
                    (users.stranger, "stranger"),
                ] as [(String?, String)] {
                    let result = try await itvctl(command.arguments, socket: socket, user: user, executable: executable)
                    let allowed: Bool
                    switch role {
                    case "root", "operator": allowed = true
                    case "reader": allowed = command.route.access == .read
                    default: allowed = false
                    }
                    let expected = allowed ? command.successExit : 77
                    #expect(result.status == expected, "\(role) \(command): \(result.status) \(result.stderr)")
                    if !allowed { #expect(result.stderr.contains("permission_denied"), "\(role) \(command)") }
                }
            }
            // A denied change never reached the service: only root and the operator changed things.
            for route in changeRoutes {
                #expect(service.calls(route) == 2, "\(route.rawValue) was called \(service.calls(route)) times")
            }
            #expect(!service.callers.contains(users.stranger))
            // Every denial was recorded with the user and uid.
            let readerDenials = service.denials.filter { $0.user == users.readerUser }
            #expect(Set(readerDenials.map(\.route)) == Set(changeRoutes.map(\.rawValue)))
            #expect(readerDenials.allSatisfy { $0.uid == getpwnam(users.readerUser).pointee.pw_uid })
            let strangerDenials = service.denials.filter { $0.user == users.stranger }
            let strangerRoutes = Set(strangerDenials.map(\.route))
            let expectedStranger = Set(Route.allCases.filter { $0 != .rolloutApprove }.map(\.rawValue))
            // `rollout approve` first reads the rollout, which is already refused.
            #expect(strangerRoutes == expectedStranger)
            #expect(!service.denials.contains { $0.user == users.operatorUser || $0.user == "root" })
        }
    }
}
