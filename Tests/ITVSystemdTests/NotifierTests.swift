import Foundation
import Testing

@testable import ITVSystemd

#if canImport(Glibc)
    import Glibc
#endif

/// An AF_UNIX socket bound at a path in its own temporary directory, closed when the value goes away.
final class UnixSocket: @unchecked Sendable {
    let fd: Int32
    let path: String
    private let directory: TempDir

    /// Bound in a new temporary directory, or at `path` (the caller removes that file).
    init(type: Int32, listening: Bool = false, at path: String? = nil) throws {
        directory = try TempDir()
        self.path = path ?? directory.path + "/sock"
        let path = self.path
        fd = try bindUnixSocket(path, type: type, listening: listening, backlog: 8)
        // Credentials are attached to datagrams sent while this is on.
        receiveCredentials(fd)
    }

    /// Every datagram waiting now that this process sent. The kernel attaches each sender's credentials
    /// (SO_PASSCRED, as systemd's NotifyAccess=main checks them), so that datagrams from child processes of
    /// other tests, which inherit NOTIFY_SOCKET while a test has it set, are left out.
    func receiveAvailable() -> [String] {
        receiveDatagrams(fd).filter { $0.pid == getpid() }.map(\.message)
    }

    deinit {
        close(fd)
    }
}

/// Sets variables of this process's environment (NOTIFY_SOCKET, WATCHDOG_*, LISTEN_*), which libsystemd
/// reads, for the duration of `body`. Only the tests of the serialized suite `ProcessEnvironmentTests` use it.
enum Environment {
    static func with<T>(_ values: [String: String?], _ body: () async throws -> T) async rethrows -> T {
        let saved = values.keys.map { ($0, getenv($0).map { String(cString: $0) }) }
        for (key, value) in values { set(key, value) }
        defer { for (key, value) in saved { set(key, value) } }
        return try await body()
    }

    private static func set(_ key: String, _ value: String?) {
        if let value { setenv(key, value, 1) } else { unsetenv(key) }
    }
}

/// The tests that change the process environment, one at a time.
@Suite("Process environment", .serialized)
enum ProcessEnvironmentTests {}

extension ProcessEnvironmentTests {
    @Suite("sd_notify")
    struct NotifierTests {
        let notifier = Notifier()

        @Test("READY, STATUS, WATCHDOG, RELOADING/READY and STOPPING reach NOTIFY_SOCKET in order")
        func lifecycleInOrder() async throws {
            let socket = try UnixSocket(type: Int32(SOCK_DGRAM.rawValue))
            try await Environment.with(
                ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "4000000", "WATCHDOG_PID": String(getpid())]
            ) {
                #expect(Notifier.watchdogPingInterval() == .seconds(2))
                #expect(notifier.ready(status: "starting") == .sent)
                #expect(notifier.status("3 rollouts active,\n1 waiting for approval\nREADY=1") == .sent)
                #expect(notifier.watchdog() == .sent)
                #expect(notifier.reloading() == .sent)
                #expect(notifier.ready() == .sent)
                #expect(notifier.stopping() == .sent)
                // A child process inheriting NOTIFY_SOCKET (as another test's child may) is not the service.
                let child = try await run(
                    "/usr/bin/python3",
                    [
                        "-c",
                        "import os, socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)"
                            + ".sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])",
                    ])
                #expect(child.status == 0, "\(child.stderr)")
            }
            var received: [String] = []
            _ = await eventually {
                received += socket.receiveAvailable()
                return received.count >= 6
            }
            try #require(received.count == 6, "\(received)")
            #expect(received[0] == "READY=1\nSTATUS=starting")
            #expect(received[1] == "STATUS=3 rollouts active, 1 waiting for approval READY=1")
            #expect(received[2] == "WATCHDOG=1")
            #expect(received[3].hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
            #expect(UInt64(received[3].split(separator: "=").last ?? "") != nil)
            #expect(received[4] == "READY=1")
            #expect(received[5] == "STOPPING=1")
        }

        @Test("without NOTIFY_SOCKET nothing is sent and the watchdog is off")
        func notSupervised() async {
            await Environment.with(["NOTIFY_SOCKET": nil, "WATCHDOG_USEC": nil, "WATCHDOG_PID": nil]) {
                #expect(notifier.ready() == .notSupervised)
                #expect(Notifier.watchdogPingInterval() == nil)
                let loop = WatchdogLoop(isAlive: { true })
                #expect(loop == nil)
            }
        }

        @Test("the watchdog is off when WATCHDOG_PID names another process")
        func watchdogForAnotherProcess() async {
            await Environment.with(["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": String(getpid() + 1)]) {
                #expect(Notifier.watchdogPingInterval() == nil)
            }
        }

        @Test("the watchdog loop pings while the engine is alive and stops pinging when it hangs")
        func watchdogLoopFollowsLiveness() async throws {
            let socket = try UnixSocket(type: Int32(SOCK_DGRAM.rawValue))
            let engine = LivenessFlag()
            try await Environment.with(
                ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "40000", "WATCHDOG_PID": String(getpid())]
            ) {
                let configured = WatchdogLoop(isAlive: { engine.alive })
                let loop = try #require(configured)
                #expect(loop.interval == .milliseconds(20))
                let task = Task { await loop.run() }
                defer { task.cancel() }
                var pings = 0
                let pinged = await eventually {
                    pings += socket.receiveAvailable().filter { $0 == "WATCHDOG=1" }.count
                    return pings >= 3
                }
                #expect(pinged)
                // The engine hangs: once a ping already under way has arrived, no more pings.
                engine.alive = false
                try await Task.sleep(for: .seconds(1))
                _ = socket.receiveAvailable()
                try await Task.sleep(for: .seconds(1))
                #expect(socket.receiveAvailable().isEmpty)
                // It recovers: pings resume.
                engine.alive = true
                let resumed = await eventually { socket.receiveAvailable().contains("WATCHDOG=1") }
                #expect(resumed)
            }
        }

        @Test("a heartbeat is alive while its last beat is recent")
        func heartbeat() async throws {
            let heartbeat = Heartbeat()
            #expect(heartbeat.isAlive(maxAge: .seconds(60)))
            try await Task.sleep(for: .milliseconds(50))
            #expect(!heartbeat.isAlive(maxAge: .milliseconds(10)))
            heartbeat.beat()
            #expect(heartbeat.isAlive(maxAge: .seconds(60)))
        }
    }

    /// Whether the engine loop is alive, as the test decides.
    final class LivenessFlag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = true

        var alive: Bool {
            get { lock.withLock { value } }
            set { lock.withLock { value = newValue } }
        }
    }

    @Suite("Socket activation")
    struct ListenFDsTests {
        @Test("only a listening AF_UNIX stream socket is accepted as the control socket")
        func listeningUnixStream() throws {
            let listening = try UnixSocket(type: Int32(SOCK_STREAM.rawValue), listening: true)
            let notListening = try UnixSocket(type: Int32(SOCK_STREAM.rawValue))
            let datagram = try UnixSocket(type: Int32(SOCK_DGRAM.rawValue))
            #expect(ListenFDs.isListeningUnixStreamSocket(listening.fd))
            #expect(ListenFDs.isListeningUnixStreamSocket(listening.fd, path: listening.path))
            #expect(!ListenFDs.isListeningUnixStreamSocket(listening.fd, path: listening.path + "x"))
            #expect(!ListenFDs.isListeningUnixStreamSocket(notListening.fd))
            #expect(!ListenFDs.isListeningUnixStreamSocket(datagram.fd))
        }
    }
}
