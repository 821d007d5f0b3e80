import ArgumentParser
import Foundation
import ITVProtocol

/// `itvctl metrics`: the Prometheus exposition as the daemon serves it (for a quick look, or for a
/// textfile collector). `--json` wraps it as `{"metrics": "..."}`.
struct MetricsCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics", abstract: "The daemon's Prometheus metrics (text exposition format).")
    @OptionGroup var global: GlobalOptions

    func execute(_ api: ControlAPI) throws(ClientFailure) {
        let response = try api.http.send(method: "GET", target: Route.metrics.path())
        try api.checkProtocol(response)
        guard response.status == 200 else { throw api.failure(response) }
        let text = String(decoding: response.body, as: UTF8.self)
        if global.json { return Output.json(["metrics": text]) }
        FileHandle.standardOutput.write(response.body)
    }
}
