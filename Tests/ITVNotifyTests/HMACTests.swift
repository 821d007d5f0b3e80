import Foundation
import ITVCore
import ITVEngine
import Testing

@testable import ITVNotify

@Suite("HMAC-SHA256 and the mail message")
struct HMACTests {
    @Test("RFC 4231 test cases 1, 2 and 6")
    func rfc4231() {
        let key1 = [UInt8](repeating: 0x0b, count: 20)
        #expect(
            HMACSHA256.hex(key: key1, data: Array("Hi There".utf8))
                == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        #expect(
            HMACSHA256.hex(key: Array("Jefe".utf8), data: Array("what do ya want for nothing?".utf8))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let key6 = [UInt8](repeating: 0xaa, count: 131)
        #expect(
            HMACSHA256.hex(key: key6, data: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test("a wave.waiting mail reads on a phone: subject, approve command, stable Message-ID, CRLF")
    func waveWaitingMail() {
        let n = NotifyMessage(
            id: "0f1e2d3c", event: .waveWaiting, at: 1_780_000_000_000, tenants: ["egling"], rollout: 12,
            procedure: "kassenbuch", version: "2.0", wave: 2, waveName: "pilot", hosts: ["ws-01", "ws-02"],
            planHash: "abc123", message: "kassenbuch 2.0: wave 2 (pilot) waits for approval",
            command: "itvctl rollout approve 12")
        #expect(n.subject == "[itv] kassenbuch 2.0: wave 2 (pilot) waits for approval")
        let text = MailTransport.message(n, from: "itvd@example", to: ["ops@example"], hostname: "itv.example")
        #expect(text.contains("Subject: [itv] kassenbuch 2.0: wave 2 (pilot) waits for approval\r\n"))
        #expect(text.contains("Message-ID: <0f1e2d3c@itv.example>\r\n"))
        #expect(
            text.contains(
                "\r\n\r\nkassenbuch 2.0: wave 2 (pilot) waits for approval\r\n\r\nitvctl rollout approve 12\r\n"))
        #expect(!text.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
        let json = n.json()
        let back = NotifyMessage.decode(json)
        #expect(back == n)
        #expect(json.contains(#""command":"itvctl rollout approve 12""#))
        #expect(json.contains(#""plan_hash":"abc123""#))
    }
}
