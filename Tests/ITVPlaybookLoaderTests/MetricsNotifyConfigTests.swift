import Foundation
import ITVCore
import Testing

@testable import ITVPlaybookLoader

/// `metrics:` and `notify:` in itvd.yaml: what is accepted, and the exact diagnostic for what is not.
let metricsNotifyConfigCases: [MalformedCase] = [
    MalformedCase(
        "metrics: listen is not an address", .config,
        ValidSet.config + "\nmetrics: {listen: 'prometheus.example:9464'}",
        [
            "itvd.yaml:6:19: metrics.listen 'prometheus.example:9464' must be IP:PORT, e.g. 127.0.0.1:9464 or [::1]:9464"
        ]),
    MalformedCase(
        "metrics: port out of range", .config, ValidSet.config + "\nmetrics: {listen: '127.0.0.1:70000'}",
        ["itvd.yaml:6:19: metrics.listen '127.0.0.1:70000' must be IP:PORT, e.g. 127.0.0.1:9464 or [::1]:9464"]),
    MalformedCase(
        "metrics: unknown key", .config, ValidSet.config + "\nmetrics: {port: 9464}",
        ["itvd.yaml:6:11: unknown key 'port' in metrics"]),
    MalformedCase(
        "notify: unknown event", .config,
        ValidSet.config
            + "\nnotify:\n  - {name: chat, kind: webhook, url: 'https://hooks.example/itv', events: [wave.wating]}",
        ["itvd.yaml:7:76: notify sink 'chat': unknown event 'wave.wating'; did you mean 'wave.waiting'?"]),
    MalformedCase(
        "notify: no events", .config,
        ValidSet.config + "\nnotify:\n  - {name: chat, kind: webhook, url: 'https://hooks.example/itv'}",
        ["itvd.yaml:7:5: notify sink 'chat' has no events: list some, or [all]"]),
    MalformedCase(
        "notify: plain http webhook", .config,
        ValidSet.config + "\nnotify:\n  - {name: chat, kind: webhook, url: 'http://hooks.example/itv', events: [all]}",
        ["itvd.yaml:7:38: notify sink 'chat': the URL must be https, not http (http only with allow_plain: true)"]),
    MalformedCase(
        "notify: mail without from and to", .config,
        ValidSet.config
            + "\nnotify:\n  - {name: ops-mail, kind: email, smtp: 'smtp://mail.example:587', events: [all]}",
        [
            "itvd.yaml:7:5: notify sink 'ops-mail' needs a from address",
            "itvd.yaml:7:5: notify sink 'ops-mail' needs to: [addresses]",
        ]),
    MalformedCase(
        "notify: unknown kind", .config,
        ValidSet.config + "\nnotify:\n  - {name: chat, kind: matrix, url: 'https://x.example/', events: [all]}",
        ["itvd.yaml:7:24: notify sink 'chat' kind must be webhook or email, found 'matrix'"]),
    MalformedCase(
        "notify: secret file missing", .config,
        ValidSet.config
            + "\nnotify:\n  - {name: chat, kind: webhook, url: 'https://x.example/', secret_file: /nonexistent/hook.secret, events: [all]}",
        [
            "itvd.yaml:7:73: notify sink 'chat' secret_file /nonexistent/hook.secret cannot be read: No such file or directory"
        ]),
]

@Suite struct MetricsNotifyConfigTests {
    @Test(arguments: metricsNotifyConfigCases)
    func badConfigurationGetsTheExactDiagnostic(_ c: MalformedCase) throws {
        let result = try diagnostics(for: c)
        #expect(result.set == nil)
        #expect(result.lines == c.expected)
    }

    @Test func secretFilesReadableByOthersAreRefusedAndSinksParse() throws {
        let dir = try TempDir()
        let secret = try dir.write("hook.secret", "key\n")
        chmod(secret, 0o644)
        let text =
            ValidSet.config + "\nnotify:\n"
            + "  - {name: chat, kind: webhook, url: 'https://hooks.example/itv', secret_file: \(secret), events: [all], tenants: [lra]}\n"
        let open = try diagnostics(for: MalformedCase("open", .config, text, []))
        #expect(open.lines.count == 1)
        #expect(open.lines.first?.contains("has mode 644: others may read it; chmod 600 it") == true, "\(open.lines)")
        chmod(secret, 0o600)
        let ok = try diagnostics(for: MalformedCase("ok", .config, text, []))
        #expect(ok.lines == [])
        let sink = try #require(ok.set?.config.notify.first)
        #expect(sink.events == Set(NotifyEvent.subscribable))
        #expect(sink.tenants == ["lra"])
        #expect(sink.wants(.waveWaiting, tenants: ["lra", "egling"]))
        #expect(!sink.wants(.waveWaiting, tenants: ["egling"]))
        #expect(sink.wants(.feedBroken, tenants: []), "an event without a tenant goes to every sink")
    }

    @Test func metricsListenDefaultsToLoopbackAndTakesWhatIsConfigured() throws {
        let none = try diagnostics(for: MalformedCase("none", .config, ValidSet.config + "\n", []))
        #expect(none.set?.config.metricsListen == nil, "no listener unless configured")
        let empty = try diagnostics(for: MalformedCase("empty", .config, ValidSet.config + "\nmetrics: {}\n", []))
        #expect(empty.lines == [])
        #expect(empty.set?.config.metricsListen == MetricsListen(host: "127.0.0.1", port: 9464))
        let v6 = try diagnostics(
            for: MalformedCase("v6", .config, ValidSet.config + "\nmetrics: {listen: '[::1]:9100'}\n", []))
        #expect(v6.set?.config.metricsListen == MetricsListen(host: "::1", port: 9100))
        let any = try diagnostics(
            for: MalformedCase("any", .config, ValidSet.config + "\nmetrics: {listen: '0.0.0.0:9464'}\n", []))
        #expect(any.set?.config.metricsListen == MetricsListen(host: "0.0.0.0", port: 9464))
    }
}
