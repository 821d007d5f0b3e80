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
]

@Suite struct MetricsNotifyConfigTests {
    @Test(arguments: metricsNotifyConfigCases)
    func badConfigurationGetsTheExactDiagnostic(_ c: MalformedCase) throws {
        let result = try diagnostics(for: c)
        #expect(result.set == nil)
        #expect(result.lines == c.expected)
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
