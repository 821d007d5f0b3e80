import CSystemd
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Tells systemd how the service is doing, through `sd_notify` (`Type=notify` units).
///
/// Outside systemd (`NOTIFY_SOCKET` unset) every call does nothing and returns `.notSupervised`.
/// `sd_notify` sends one datagram and returns at once; it is safe to call from any thread.
public struct Notifier: Sendable {
    /// What became of a notification.
    public enum Result: Equatable, Sendable {
        case sent
        /// `NOTIFY_SOCKET` is not set: not started by systemd as `Type=notify`.
        case notSupervised
        /// The datagram could not be sent (errno).
        case failed(errno: Int32)
    }

    public init() {}

    /// Sends newline-separated `NAME=value` assignments as they are.
    @discardableResult
    public func send(_ state: String) -> Result {
        let result = sd_notify(0, state)
        if result > 0 { return .sent }
        if result == 0 { return .notSupervised }
        return .failed(errno: -result)
    }

    /// `READY=1`: start-up (or a reload) is complete. With a status, both in one datagram.
    @discardableResult
    public func ready(status: String? = nil) -> Result {
        send(["READY=1", status.map { "STATUS=" + Self.oneLine($0) }].compactMap { $0 }.joined(separator: "\n"))
    }

    /// `STATUS=`: the one-line summary `systemctl status` shows. Line breaks become spaces so that the text
    /// cannot smuggle in another assignment.
    @discardableResult
    public func status(_ text: String) -> Result {
        send("STATUS=" + Self.oneLine(text))
    }

    /// `RELOADING=1` with `MONOTONIC_USEC` (which systemd 253 and later require for `Type=notify-reload`; 252
    /// ignores it). Send `ready()` when the reload is done.
    @discardableResult
    public func reloading() -> Result {
        send("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())")
    }

    /// `STOPPING=1`: the service is shutting down.
    @discardableResult
    public func stopping() -> Result {
        send("STOPPING=1")
    }

    /// `WATCHDOG=1`: the keep-alive ping.
    @discardableResult
    public func watchdog() -> Result {
        send("WATCHDOG=1")
    }

    /// How often to ping the watchdog: half of `WatchdogSec` (`WATCHDOG_USEC`), or nil when the watchdog is
    /// not enabled for this process (`WATCHDOG_PID` names another one, or `WATCHDOG_USEC` is unset).
    public static func watchdogPingInterval() -> Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(clamping: usec / 2))
    }

    static func oneLine(_ text: String) -> String {
        String(text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? " " : Character($0) })
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
    }
}

/// When the engine's loop last showed it was alive. The engine calls `beat()` on every turn of its loop;
/// the watchdog pings systemd only while the last beat is recent.
public final class Heartbeat: @unchecked Sendable {
    private let lock = NSLock()
    private var last: ContinuousClock.Instant

    public init() {
        last = .now
    }

    public func beat() {
        lock.withLock { last = .now }
    }

    /// Whether the last beat was at most `maxAge` ago.
    public func isAlive(maxAge: Duration) -> Bool {
        lock.withLock { ContinuousClock.now - last <= maxAge }
    }
}

/// Pings the systemd watchdog every `interval` while `isAlive()` says the engine's loop is alive, so that a
/// hung engine stops the pings and systemd restarts the service. Run it as a task; it ends when cancelled.
public struct WatchdogLoop: Sendable {
    public let interval: Duration
    public let notifier: Notifier
    public let isAlive: @Sendable () -> Bool

    public init(interval: Duration, notifier: Notifier = Notifier(), isAlive: @escaping @Sendable () -> Bool) {
        self.interval = interval
        self.notifier = notifier
        self.isAlive = isAlive
    }

    /// The loop for this process's watchdog (half of `WatchdogSec`), or nil when it has none.
    public init?(notifier: Notifier = Notifier(), isAlive: @escaping @Sendable () -> Bool) {
        guard let interval = Notifier.watchdogPingInterval() else { return nil }
        self.init(interval: interval, notifier: notifier, isAlive: isAlive)
    }

    /// Pings until the task is cancelled.
    public func run() async {
        while !Task.isCancelled {
            if isAlive() { notifier.watchdog() }
            do {
                try await Task.sleep(for: interval)
            } catch {
                return
            }
        }
    }
}
