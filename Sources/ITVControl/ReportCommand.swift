import ArgumentParser
import Foundation
import ITVCore
import ITVProtocol

/// `itvctl report --tenant T [--format text|csv|json] [--since 90d]`: fetched page by page (50 hosts each)
/// and written as each page arrives, so that neither itvd nor itvctl holds the report of a large tenant at once.
struct ReportCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "A tenant's report: versions, drift, rollouts, approvers, plan hashes.",
        discussion: """
            One line per host and procedure (per rollout that touched it, in csv), with the installed and the \
            newest version, since when the host is behind, the rollouts of the period that had it in their \
            plan, who approved them and their plan hashes. CSV is RFC 4180 (UTF-8 with a byte order mark, CRLF, \
            quoted where needed); a cell that starts with = + - @ or a tab gets a leading ' so that a \
            spreadsheet shows it as text instead of running it as a formula.
            """)
    enum Format: String, ExpressibleByArgument, CaseIterable { case text, csv, json }

    @OptionGroup var global: GlobalOptions
    @Option(help: "The tenant (its id in the inventory).") var tenant: String
    @Option(help: "text, csv or json (--json means json).") var format: Format = .text
    @Option(help: "Rollouts of this recent period (default 90d).") var since: DurationArgument?

    func execute(_ api: ControlAPI) throws(ClientFailure) {
        let format = global.json ? .json : self.format
        var request = ReportRequest(tenant: tenant, sinceSeconds: since?.seconds)
        var writer = ReportWriter(format: format)
        var pages = 0
        while true {
            let (page, _) = try api.get(ReportResponse.self, .report, query: request.queryItems)
            writer.write(page)
            pages += 1
            guard let next = page.nextAfter, next > (request.after ?? ""), pages < 100_000 else { break }
            request.after = next
        }
        writer.finish()
    }
}

/// Writes report pages to stdout as they come.
struct ReportWriter {
    let format: ReportCommand.Format
    private var started = false
    private var out = FileHandle.standardOutput
    private var firstRow = true
    /// What closes the JSON document (known from the first page).
    private var jsonTail = ""

    init(format: ReportCommand.Format) { self.format = format }

    /// The columns of the CSV (stable: scripts and spreadsheets rely on them).
    static let csvColumns = [
        "tenant", "tenant_name", "host", "procedure", "installed", "seen_at", "newest", "state", "behind_since",
        "rollout", "rollout_version", "rollout_phase", "host_phase", "created_by", "approved_by", "plan_hash",
    ]

    mutating func write(_ page: ReportResponse) {
        switch format {
        case .csv:
            var text = ""
            if !started { text += "\u{FEFF}" + Self.csvLine(Self.csvColumns) }
            for row in page.rows {
                let head = [
                    page.tenant, page.tenantName, row.host, row.procedure, row.installed ?? "",
                    Self.iso(row.seenAt), row.newest ?? "", row.state, Self.iso(row.behindSince),
                ]
                if row.rollouts.isEmpty { text += Self.csvLine(head + Array(repeating: "", count: 7)) }
                for r in row.rollouts {
                    text += Self.csvLine(
                        head + [
                            String(r.id), r.version, r.phase, r.hostPhase, r.createdBy,
                            r.approvedBy.joined(separator: " "), r.planHash,
                        ])
                }
            }
            emit(text)
        case .json:
            // One document, {"generated_at":..,"rows":[...],"since_seconds":..,"tenant":..,"tenant_name":..}
            // (keys sorted as everywhere), written row by row.
            var text = ""
            if !started {
                text += "{\"generated_at\":\(page.generatedAt),\"rows\":["
            }
            for row in page.rows {
                guard let data = try? ITVJSON.encode(row) else { continue }
                text += (firstRow ? "" : ",") + String(decoding: data, as: UTF8.self)
                firstRow = false
            }
            let tail =
                (try? ITVJSON.encode(["tenant": page.tenant, "tenant_name": page.tenantName])) ?? Data("{}".utf8)
            jsonTail =
                "],\"since_seconds\":\(page.sinceSeconds)," + String(decoding: tail.dropFirst(), as: UTF8.self) + "\n"
            emit(text)
        case .text:
            let rows = page.rows.map { row in
                [
                    row.host, row.procedure, row.installed ?? "-", row.newest ?? "-", row.state,
                    Output.time(row.behindSince),
                    row.rollouts.map { "\($0.id) \($0.phase)" }.joined(separator: ", ").nilIfEmpty ?? "-",
                    Array(Set(row.rollouts.flatMap(\.approvedBy))).sorted().joined(separator: ",").nilIfEmpty ?? "-",
                    row.rollouts.map { String($0.planHash.prefix(12)) }.joined(separator: ",").nilIfEmpty ?? "-",
                ]
            }
            if !started {
                emit(
                    "report of tenant \(escapedForMessage(page.tenant, limit: 4_096)) (\(escapedForMessage(page.tenantName, limit: 4_096))), "
                        + "rollouts of the last \(Output.span(page.sinceSeconds))\n")
            }
            // A table per page (50 hosts): widths may differ between pages, the columns do not.
            let table = Output.tableText(
                [
                    "HOST", "PROCEDURE", "INSTALLED", "NEWEST", "STATE", "BEHIND SINCE", "ROLLOUTS", "APPROVED BY",
                    "PLAN HASHES",
                ], rows)
            emit(started ? String(table.drop { $0 != "\n" }.dropFirst()) : table)
        }
        started = true
    }

    mutating func finish() {
        if !started, format == .csv { emit("\u{FEFF}" + Self.csvLine(Self.csvColumns)) }
        if started, format == .json { emit(jsonTail) }
    }

    private func emit(_ text: String) { out.write(Data(text.utf8)) }

    static func iso(_ millis: Int64?) -> String {
        guard let millis else { return "" }
        return isoFormatter.string(from: Date(timeIntervalSince1970: Double(millis) / 1000))
    }

    /// ISO 8601 in UTC, whole seconds (DateFormatter is thread-safe; ISO8601DateFormatter is not Sendable).
    private static let isoFormatter: DateFormatter = {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        return f
    }()

    /// One RFC 4180 record: fields quoted when they hold a comma, quote, CR or LF (quotes doubled), CRLF at
    /// the end. A field that starts with =, +, -, @, a tab or CR gets a leading ' (a spreadsheet would run it
    /// as a formula: "CSV injection").
    static func csvLine(_ fields: [String]) -> String {
        fields.map(csvField).joined(separator: ",") + "\r\n"
    }

    static func csvField(_ value: String) -> String {
        var v = value
        if let first = v.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) { v = "'" + v }
        guard v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else {
            return v
        }
        return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
