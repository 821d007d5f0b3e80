import Testing

@testable import ITVControl

/// The report's CSV records: RFC 4180 quoting and the formula injection guard.
@Suite("itvctl report: CSV records")
struct ReportCSVTests {
    @Test("fields are quoted only when needed, quotes doubled, records end with CRLF")
    func quoting() {
        #expect(ReportWriter.csvLine(["a", "b c", "Über"]) == "a,b c,Über\r\n")
        #expect(ReportWriter.csvField("Gemeinde Egling, an der Paar") == "\"Gemeinde Egling, an der Paar\"")
        #expect(ReportWriter.csvField("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(ReportWriter.csvField("two\nlines") == "\"two\nlines\"")
        #expect(ReportWriter.csvField("crlf\r\nin it") == "\"crlf\r\nin it\"")
        #expect(ReportWriter.csvField("") == "")
    }

    @Test(
        "a cell a spreadsheet would run as a formula gets a leading quote", arguments: ["=", "+", "-", "@", "\t", "\r"])
    func formulaGuard(_ first: String) {
        let cell = first + "HYPERLINK(\"http://x\")"
        let field = ReportWriter.csvField(cell)
        #expect(field.hasPrefix("'" + first) || field.hasPrefix("\"'" + first), "\(field)")
        #expect(
            ReportWriter.csvField("1" + cell)
                == ReportWriter.csvField("1" + cell).replacingOccurrences(of: "'", with: ""))
    }
}
