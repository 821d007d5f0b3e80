import Testing
@testable import ITVCore

@Test func timeSpanParsesUnits() {
    #expect(TimeSpan.parse("1h30m")?.seconds == 5_400)
    #expect(TimeSpan.parse("2d")?.seconds == 172_800)
    #expect(TimeSpan.parse("90") == nil)
    #expect(TimeSpan.parse("30m1h") == nil)
    #expect(TimeSpan.parse("") == nil)
}
