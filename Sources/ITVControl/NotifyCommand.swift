import ArgumentParser
import Foundation
import ITVProtocol

struct NotifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify", abstract: "Notification sinks (webhook, e-mail) and their outbox.",
        subcommands: [List.self, Test.self])

    struct List: ClientCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every sink: pending, failing, delivered and dropped notifications, the last error.")
        @OptionGroup var global: GlobalOptions

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let (list, raw) = try api.get(NotifyListResponse.self, .notifyList)
            if global.json { return Output.json(raw) }
            if list.sinks.isEmpty { return print("no notify sinks configured (notify: in itvd.yaml)") }
            Output.table(
                ["SINK", "KIND", "PENDING", "FAILING", "DELIVERED", "DROPPED", "LAST ERROR"],
                list.sinks.map { s in
                    [
                        s.name, s.kind, String(s.pending), String(s.failing), String(s.delivered), String(s.dropped),
                        s.lastError.map { Output.safe($0) + " (" + Output.time(s.lastErrorAt) + ")" } ?? "-",
                    ]
                })
        }
    }

    struct Test: ClientCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send a test notification to a sink now (not through the outbox); exit 1 if it fails.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The sink's name.") var name: String

        func execute(_ api: ControlAPI) throws(ClientFailure) {
            let (answer, raw) = try api.post(NotifyTestResponse.self, .notifyTest, [name], body: NotifyTestRequest())
            if global.json {
                Output.json(raw)
            } else {
                print("\(answer.sink): \(answer.ok ? "delivered" : "failed"): \(Output.safe(answer.message))")
            }
            if !answer.ok { throw ClientFailure(exitCode: 1, message: "the test notification was not delivered") }
        }
    }
}
