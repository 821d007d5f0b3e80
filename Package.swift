// swift-tools-version:6.0
import PackageDescription

/// Our own targets build in Swift 6 mode with warnings as errors.
let strict: [SwiftSetting] = [.unsafeFlags(["-warnings-as-errors"])]

let package = Package(
    name: "itv",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "itvd", targets: ["itvd"]),
        .executable(name: "itvctl", targets: ["itvctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        // Pure: model, validation, versions, planning, templates, state machine. No I/O.
        .target(name: "ITVCore", swiftSettings: strict),
        // Wire types shared by itvd and itvctl; Foundation, and ITVCore for its pure text helpers only
        // (`escapedForMessage`): no wire type holds a core type.
        .target(name: "ITVProtocol", dependencies: ["ITVCore"], swiftSettings: strict),
        // The directory (LDAP, Active Directory) as a source of hosts, on OpenLDAP's client library.
        .systemLibrary(name: "CLDAP", pkgConfig: "ldap", providers: [.apt(["libldap-dev"])]),
        .target(name: "ITVDirectory", dependencies: ["CLDAP"], swiftSettings: strict),
        // YAML to model, with file:line:column diagnostics; inventory sources in a directory. It imports libyaml's C module `CYaml`, a target of
        // Yams that Yams does not export as a product: it is declared through the Yams product it belongs to
        // (Yams' libyaml carries a nesting limit that Debian's 0.2.5 lacks; the diagnostics depend on it).
        .target(
            name: "ITVPlaybookLoader",
            dependencies: ["ITVCore", "ITVDirectory", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        // The engine and its ports (RemoteExecutor, RolloutStore, FeedFetcher, Clock).
        .target(
            name: "ITVEngine",
            dependencies: ["ITVCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Adapters.
        .target(
            name: "ITVStore",
            dependencies: ["ITVEngine", "ITVCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .systemLibrary(
            name: "CLibSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"])]
        ),
        .target(
            name: "ITVSSH",
            dependencies: ["ITVEngine", "ITVCore", "CLibSSH2", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // One libcurl easy handle, used safely (RAII, typed options, callbacks to closures, bounded bodies): the
        // HTTP client of itvctl, the notification senders and the feed fetcher share it.
        .target(name: "ITVCurl", dependencies: ["CCurl"], swiftSettings: strict),
        .target(
            name: "ITVFeeds",
            dependencies: [
                "ITVEngine", "ITVCore", "ITVProtocol", "ITVCurl", "CCurl", "CLibCrypto",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // HMAC-SHA256 of webhook bodies (OpenSSL's libcrypto, which libcurl links anyway).
        .systemLibrary(name: "CLibCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Notification senders: webhooks (HTTPS) and mail (SMTP) on libcurl.
        .target(
            name: "ITVNotify",
            dependencies: ["ITVEngine", "ITVCore", "ITVCurl", "CCurl", "CLibCrypto"],
            swiftSettings: strict
        ),
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        .target(
            name: "ITVSystemd",
            dependencies: ["ITVCore", "CSystemd", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // struct ucred and SO_PEERCRED, which Swift's Glibc leaves out (no _GNU_SOURCE).
        .systemLibrary(name: "CITVShim"),
        // The control socket: HTTP/1.1 + JSON over a Unix socket, peer-credential authorization.
        .target(
            name: "ITVControlServer",
            dependencies: [
                "ITVCore", "ITVProtocol", "CITVShim",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // What the executables do, as libraries, so that it can be tested.
        .target(
            name: "ITVDaemon",
            dependencies: [
                "ITVCore", "ITVPlaybookLoader", "ITVEngine", "ITVStore", "ITVSSH", "ITVFeeds", "ITVSystemd",
                "ITVProtocol", "ITVControlServer", "ITVNotify",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ITVControl",
            dependencies: [
                "ITVProtocol", "ITVCore", "ITVCurl", "CCurl",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(name: "itvd", dependencies: ["ITVDaemon"], swiftSettings: strict),
        .executableTarget(name: "itvctl", dependencies: ["ITVControl"], swiftSettings: strict),
        // `make bench` only: the state store's commit throughput.
        .executableTarget(
            name: "itv-bench-store", dependencies: ["ITVStore", "ITVEngine", "ITVCore"], swiftSettings: strict),
        // Bench driver for scripts/bench.d/30-feeds.sh: the feed watcher polling N local feeds twice.
        .executableTarget(
            name: "itv-feedbench", dependencies: ["ITVFeeds", "ITVEngine", "ITVCore"], swiftSettings: strict),
        // What the SSH bench drivers share: the fleet from an inventory, the executor, a bounded fan-out.
        .target(
            name: "ITVBenchSupport", dependencies: ["ITVSSH", "ITVPlaybookLoader", "ITVEngine"], swiftSettings: strict),
        // Bench driver for scripts/bench.d/25-engine.sh: the bare SSH fan-out of N commands per host.
        .executableTarget(
            name: "itv-bench-fanout", dependencies: ["ITVBenchSupport", "ITVSSH", "ITVEngine", "ITVCore"],
            swiftSettings: strict),
        // Bench driver for scripts/bench.d/60-stage.sh: the stage step (SFTP upload, hash on the host) to N hosts.
        .executableTarget(
            name: "itv-bench-stage", dependencies: ["ITVBenchSupport", "ITVSSH", "ITVEngine", "ITVCore"],
            swiftSettings: strict),

        // What the test targets share: TempDir, eventually, a child-process runner (posix_spawn + waitpid),
        // Unix socket helpers, a recording log handler. Not linked into any product.
        .target(
            name: "ITVTestSupport", dependencies: [.product(name: "Logging", package: "swift-log")],
            swiftSettings: strict),

        .testTarget(name: "ITVCoreTests", dependencies: ["ITVTestSupport", "ITVCore"]),
        .testTarget(name: "ITVPlaybookLoaderTests", dependencies: ["ITVTestSupport", "ITVPlaybookLoader", "ITVCore"]),
        .testTarget(
            name: "ITVEngineTests",
            dependencies: ["ITVTestSupport", "ITVEngine", "ITVCore", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "ITVSSHTests",
            dependencies: [
                "ITVTestSupport", "ITVSSH", "ITVEngine", "ITVCore", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ITVFeedsTests", dependencies: ["ITVTestSupport", "ITVFeeds", "ITVEngine", "ITVCore", "ITVProtocol"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "ITVSystemdTests",
            dependencies: ["ITVTestSupport", "ITVSystemd", "ITVCore", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(
            name: "ITVStoreTests",
            dependencies: [
                "ITVTestSupport", "ITVStore", "ITVEngine", "ITVCore", .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "ITVDaemonTests",
            dependencies: [
                "ITVTestSupport",
                "ITVDaemon", "ITVCore", "ITVEngine", "ITVPlaybookLoader", "ITVStore", "ITVProtocol", "ITVSSH",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ITVNotifyTests",
            dependencies: [
                "ITVTestSupport",
                "ITVNotify", "ITVEngine", "ITVCore", "ITVStore", .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ITVProtocolTests", dependencies: ["ITVTestSupport", "ITVProtocol", "ITVCore"], exclude: ["Fixtures"]),
        .testTarget(
            name: "ITVControlTests",
            dependencies: [
                "ITVTestSupport",
                "ITVControl", "ITVControlServer", "ITVProtocol", "ITVCore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)
