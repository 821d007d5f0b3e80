import Foundation

/// A dedicated OS thread that runs the jobs of one libssh2 session in order. libssh2 calls and poll(2)
/// block, so they never run on Swift's cooperative pool (docs/TECH-NOTES.md 10, 20); one session per thread.
final class SessionThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var finishing = false

    init(name: String) {
        let thread = Thread { [self] in self.loop() }
        thread.name = name
        // Sessions need little stack; 200 of them must not cost 200 x 8 MiB of address space.
        thread.stackSize = 512 * 1024
        thread.start()
    }

    /// Queues a job; after `finish()` jobs are ignored.
    func submit(_ job: @escaping () -> Void) {
        condition.lock()
        defer { condition.unlock() }
        guard !finishing else { return }
        jobs.append(job)
        condition.signal()
    }

    /// Runs `body` on the thread and returns its result to the awaiting task; `fallback` once the thread
    /// is finishing (a session closed meanwhile), so that libssh2 never runs on the caller's thread.
    func perform<T: Sendable>(orElse fallback: T, _ body: @escaping () -> T) async -> T {
        await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
            condition.lock()
            let accepted = !finishing
            if accepted {
                jobs.append { continuation.resume(returning: body()) }
                condition.signal()
            }
            condition.unlock()
            if !accepted { continuation.resume(returning: fallback) }
        }
    }

    /// Lets the thread end once the queued jobs ran.
    func finish() {
        condition.lock()
        finishing = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !finishing { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}

/// A counting semaphore for async callers whose `release` also works from synchronous code (deinit).
final class SessionLimiter: @unchecked Sendable {
    private let lock = NSLock()
    private var available: Int
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(_ permits: Int) { available = max(1, permits) }

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if available > 0 {
                available -= 1
                lock.unlock()
                continuation.resume()
            } else {
                waiters.append(continuation)
                lock.unlock()
            }
        }
    }

    func release() {
        lock.lock()
        if waiters.isEmpty {
            available += 1
            lock.unlock()
        } else {
            let next = waiters.removeFirst()
            lock.unlock()
            next.resume()
        }
    }
}
