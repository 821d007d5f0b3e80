/// Polls `condition` every `interval` until it holds or `timeout` passes; the last value. The deadline is
/// generous on purpose: a test waits for something to happen, it never measures how fast.
public func eventually(
    timeout: Duration = .seconds(20), interval: Duration = .milliseconds(50), _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try await condition()
}
