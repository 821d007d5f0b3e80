/// The stable names of what itvd journals, carried in the `ITV_EVENT` journal field.
///
/// The raw values are a contract (docs/PRODUCT.md, "Journal"): operators filter on them with
/// `journalctl ITV_EVENT=host.failed`, so a name never changes once shipped; new events are added.
/// Key events also have a stable `MESSAGE_ID`, explained in the journal catalog `units/itvd.catalog`
/// (`journalctl -x`).
public enum ITVEvent: String, CaseIterable, Sendable {
    // Releases and feeds.
    case releaseDetected = "release.detected"
    case feedRejected = "feed.rejected"
    case feedBroken = "feed.broken"
    case feedRecovered = "feed.recovered"
    /// A release's artifact failed verification (checksum, signature, missing entry, size, redirect): the
    /// release is rejected and nothing is planned for it.
    case artifactRejected = "artifact.rejected"
    /// A release's artifact was downloaded and verified.
    case artifactVerified = "artifact.verified"
    /// A release's verified artifact is not the one verified before (the vendor replaced the file).
    case artifactChanged = "artifact.changed"
    /// A download of an artifact failed for now; it is tried again later.
    case artifactFailed = "artifact.failed"

    // Rollouts.
    case rolloutCreated = "rollout.created"
    case rolloutPaused = "rollout.paused"
    case rolloutResumed = "rollout.resumed"
    case rolloutAborted = "rollout.aborted"
    case rolloutHalted = "rollout.halted"
    case rolloutSucceeded = "rollout.succeeded"
    case rolloutRollingBack = "rollout.rolling_back"
    case rolloutRolledBack = "rollout.rolled_back"
    case rolloutFailed = "rollout.failed"
    /// Every wave is done; deferred (switched-off) hosts remain and are tried again.
    case rolloutCatchingUp = "rollout.catching_up"
    /// The rollout ended with unreached hosts.
    case rolloutIncomplete = "rollout.incomplete"

    // Waves.
    case waveWaiting = "wave.waiting"
    case waveApproved = "wave.approved"
    case waveStarted = "wave.started"
    case waveSucceeded = "wave.succeeded"

    // Host runs.
    case hostStarted = "host.started"
    case hostSucceeded = "host.succeeded"
    case hostFailed = "host.failed"
    case hostUnknown = "host.unknown"
    case hostKeyMismatch = "hostkey.mismatch"
    case hostRolledBack = "host.rolled_back"
    case hostRollbackFailed = "host.rollback_failed"
    /// A host printed something that is not a version where one was expected.
    case hostileOutput = "host.hostile_output"
    case hostScanned = "host.scanned"
    /// A host restarts for its install (or came back from that restart).
    case hostReboot = "host.reboot"
    /// A host was not reached (switched off?): tried again later, not a failure.
    case hostDeferred = "host.deferred"
    /// A deferred host was not reached before `reach_deadline`.
    case hostUnreached = "host.unreached"
    /// A Wake-on-LAN packet was sent to a host.
    case hostWake = "host.wake"

    // Patch windows.
    case windowOpened = "window.opened"
    case windowClosed = "window.closed"

    // Operators and the control socket.
    case operatorAction = "operator.action"
    case permissionDenied = "permission.denied"

    // The daemon itself.
    case daemonReady = "daemon.ready"
    case daemonStopping = "daemon.stopping"
    case reloadSucceeded = "reload.succeeded"
    case reloadFailed = "reload.failed"
    /// The set runs with the kept read of an `ldap:` source whose directory could not be reached.
    case inventoryStale = "inventory.stale"
    case logDropped = "log.dropped"
    /// The state store cannot be used (at start: missing, empty, damaged, replaced; or a write failed).
    case storeFailed = "store.failed"
    /// An empty state store was created (a new installation, or `itvd run --init-store`).
    case storeInitialized = "store.initialized"
    /// The store's marker (`itvd.state`) was missing or unreadable and was written again from a healthy store.
    case storeMarkerRepaired = "store.marker_repaired"

    // Notifications (webhook, e-mail).
    /// A delivery attempt failed; it is tried again later.
    case notifyFailed = "notify.failed"
    /// A notification was given up after 24 h of failed deliveries.
    case notifyDropped = "notify.dropped"

    /// The journal `MESSAGE_ID` of a key event (32 lowercase hex digits, a 128-bit id generated once),
    /// or nil for events that need no catalog entry. Every id has an entry in `units/itvd.catalog`.
    public var messageID: String? {
        switch self {
        case .releaseDetected: "2a2e5da948754831b0df6fa85b81a82e"
        case .feedRejected: "cd44e8656fbc421f89408d8bfa6f0e54"
        case .feedBroken: "c880e5b418054aefb68103b4cb1a3f87"
        case .artifactRejected: "7c66d490a22c42eeba6f4f05c1118e6f"
        case .rolloutCreated: "fd86194d5f144874b9004d94d78e0a91"
        case .rolloutAborted: "8beb79946e1d4a1fbaf261e434e3ca73"
        case .rolloutHalted: "63ac9fbb9e904876bf745c8cacd5751d"
        case .rolloutSucceeded: "00eaae5d306d4f149a72d814e8dab145"
        case .rolloutRolledBack: "97371c5bc4c8467896c53723dd170bfe"
        case .waveWaiting: "b51b2d4879674af2b2cab869b34bbfb6"
        case .waveApproved: "44e5124c257c405e806815bb31f83523"
        case .hostFailed: "ae4054931db248f2aa25673beadd56c7"
        case .hostUnknown: "d98444e692b44133b94bac0065bc175b"
        case .hostKeyMismatch: "a781d4ba126b43fc8547b6cb0502ae40"
        case .windowOpened: "f37614cc96764f4d879012f58e4c9f5a"
        case .windowClosed: "fdb14124d88d4d33aa31f5fc61a82209"
        case .permissionDenied: "c60631456f0a48a69fa9be5d3e8c6502"
        case .reloadFailed: "94ea634045ef46d2ad735b0db7eb294f"
        case .inventoryStale: "1d24322dbb474d128a05626a88698abe"
        case .logDropped: "f80ace8b5fa448c6a8d35f3334088a20"
        case .storeFailed: "cefaefe15cb54d6f9cdd9b8f312c1cd0"
        case .hostReboot: "aca185903447406b8f0feeec5b00c10c"
        case .hostDeferred: "9c8738088a8e4b2fb0948e33d780a2a0"
        case .hostUnreached: "3ee03886a38f4987a8598b08a6a7dc69"
        case .hostWake: "b934571fb37b4cde90de9eaffa67a112"
        case .rolloutIncomplete: "cf4265ccf05547de837590b709313610"
        case .feedRecovered, .rolloutPaused, .rolloutResumed, .rolloutRollingBack, .waveStarted, .waveSucceeded,
            .hostStarted, .hostSucceeded, .operatorAction, .daemonReady, .daemonStopping, .reloadSucceeded,
            .hostRolledBack, .hostRollbackFailed, .hostileOutput, .hostScanned, .rolloutFailed, .storeInitialized,
            .storeMarkerRepaired, .notifyFailed, .notifyDropped, .rolloutCatchingUp,
            .artifactVerified, .artifactChanged, .artifactFailed:
            nil
        }
    }

    /// The events that carry a `MESSAGE_ID`.
    public static var keyEvents: [ITVEvent] { allCases.filter { $0.messageID != nil } }
}
