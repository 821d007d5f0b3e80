import Foundation
import Testing

@testable import ITVCore

@Test func versionEncodesSchemeAndRawAndDecodesByParsing() throws {
    let version = try VersionScheme.semver.parse("v1.2.3-rc.1+build.7").get()
    let data = try JSONEncoder().encode(version)
    let object = try JSONSerialization.jsonObject(with: data) as? [String: String]
    #expect(object == ["scheme": "semver", "raw": "v1.2.3-rc.1+build.7"])
    let decoded = try JSONDecoder().decode(Version.self, from: data)
    #expect(decoded == version)
    #expect(decoded.raw == version.raw)
    #expect(decoded.isPrerelease)
}

@Test(
    "Decoding a stored string that is not a version fails",
    arguments: [
        #"{"scheme": "semver", "raw": "1.2;id"}"#, #"{"scheme": "dotted", "raw": "$(reboot)"}"#,
        #"{"scheme": "debian", "raw": "3f2a9c1"}"#, #"{"scheme": "date", "raw": "2024.1a"}"#,
        #"{"scheme": "calver", "raw": "2024.1"}"#, #"{"scheme": "semver"}"#,
    ]
)
func decodingRejectsNonVersions(json: String) {
    #expect(throws: DecodingError.self) { try JSONDecoder().decode(Version.self, from: Data(json.utf8)) }
}
