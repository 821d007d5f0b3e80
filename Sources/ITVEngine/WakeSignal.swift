import Synchronization

/// A wake-up flag with at most one waiter: a `signal` before `wait` is remembered (one), so none is lost; a
/// cancelled task's `wait` returns at once. The feed watcher's loop and each notification sink's sender sleep
/// on one.
final class WakeSignal: Sendable {
    private let state = Mutex<(waiter: CheckedContinuation<Void, Never>?, pending: Bool)>((nil, false))

    /// Returns at the next `signal` (at once if one came meanwhile), or when the task is cancelled.
    func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.pending || Task.isCancelled {
                        s.pending = false
                        return true
                    }
                    s.waiter = c
                    return false
                }
                if resumeNow { c.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume()
        }
    }

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if let w = s.waiter {
                s.waiter = nil
                return w
            }
            s.pending = true
            return nil
        }
        waiter?.resume()
    }
}
