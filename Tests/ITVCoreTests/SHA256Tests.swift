import Foundation
import Testing

@testable import ITVCore

@Test func sha256FIPSVectors() {
    #expect(SHA256.hexDigest("".utf8) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(SHA256.hexDigest("abc".utf8) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(
        SHA256.hexDigest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    let long =
        "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
        + "klmnopqrlmnopqrsmnopqrstnopqrstu"
    #expect(SHA256.hexDigest(long.utf8) == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
}

@Test func sha256OfOneMillionA() {
    var h = SHA256()
    let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
    for _ in 0..<1000 { h.update(chunk) }
    #expect(SHA256.hex(h.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
}

@Test func sha256PiecewiseEqualsWhole() {
    let message = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    let whole = SHA256.digest(message)
    for split in [0, 1, 55, 56, 63, 64, 65, 128, 299, 300] {
        var h = SHA256()
        h.update(message[..<split])
        #expect(h.finalize() == SHA256.digest(message[..<split]))  // finalize does not end the hash
        h.update(message[split...])
        #expect(h.finalize() == whole, "split at \(split)")
    }
}

/// Lengths around the padding boundaries, checked against the system's sha256sum.
@Test func sha256AgreesWithSha256sum() throws {
    guard FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum") else { return }
    for length in [1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000] {
        let message = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 5) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(message))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let expected = String(decoding: data, as: UTF8.self).prefix(64)
        #expect(SHA256.hexDigest(message) == String(expected), "length \(length)")
    }
}
