import Foundation
import ITVEngine

#if canImport(Glibc)
    import Glibc
#endif

/// A document's bytes as text, in the encoding it declares: HTTP charset, then byte order mark, then the
/// XML declaration (or HTML meta charset), then UTF-8. Bytes invalid in that encoding become U+FFFD and
/// a warning, never a crash.
public struct DecodedText: Sendable {
    public var text: String
    /// The encoding used, lower-cased (`utf-8`, `windows-1252`, `utf-16le`, ...).
    public var encoding: String
    public var warnings: [String]
}

public enum TextDecoding {
    /// Decodes `bytes`. `contentType` is the HTTP `Content-Type` (its `charset` wins when present).
    public static func decode(_ bytes: [UInt8], contentType: String?) -> Result<DecodedText, FeedParseError> {
        var warnings: [String] = []
        var body = bytes[...]
        var encoding: String
        var declared = true
        let bom = byteOrderMark(bytes)
        if let charset = contentType.flatMap(charsetParameter) {
            encoding = charset
            if let bom { body = body.dropFirst(bom.length) }
        } else if let bom {
            encoding = bom.encoding
            body = body.dropFirst(bom.length)
        } else if let sniffed = utf16WithoutBOM(bytes) {
            encoding = sniffed
        } else if let declared = declaredEncoding(bytes) {
            encoding = declared
        } else {
            encoding = "utf-8"
            declared = false
        }
        encoding = normalized(encoding)
        guard isPlausibleName(encoding) else {
            return .failure(FeedParseError(.encoding, "the declared encoding '\(encoding.prefix(40))' is not valid"))
        }
        if encoding == "utf-8" {
            if let s = String(validating: body, as: UTF8.self) {
                return .success(DecodedText(text: demoronized(s, &warnings), encoding: encoding, warnings: warnings))
            }
            if !declared, let (utf8, _) = iconvToUTF8(Array(body), from: "windows-1252") {
                // No declaration anywhere and not UTF-8: the bytes are almost always Windows-1252 (or Latin-1).
                warnings.append("the document declares no encoding and is not UTF-8; it was read as windows-1252")
                return .success(
                    DecodedText(
                        text: String(decoding: utf8, as: UTF8.self), encoding: "windows-1252", warnings: warnings))
            }
            warnings.append("the document is not valid UTF-8; invalid bytes were replaced by U+FFFD")
            return .success(
                DecodedText(text: String(decoding: body, as: UTF8.self), encoding: encoding, warnings: warnings))
        }
        switch iconvToUTF8(Array(body), from: encoding) {
        case .none:
            return .failure(FeedParseError(.encoding, "cannot decode the document: encoding '\(encoding)' is unknown"))
        case .some(let (utf8, replaced)):
            if replaced > 0 { warnings.append("\(replaced) bytes invalid in \(encoding) were replaced by U+FFFD") }
            var text = String(decoding: utf8, as: UTF8.self)
            if text.hasPrefix("\u{FEFF}") { text.removeFirst() }
            return .success(DecodedText(text: text, encoding: encoding, warnings: warnings))
        }
    }

    /// C1 control characters (U+0080...U+009F) never belong in a feed: they are Windows-1252 bytes that were
    /// taken for Latin-1 upstream. They become what Windows-1252 means by them (`\u{92}` -> `\u{2019}`).
    static func demoronized(_ s: String, _ warnings: inout [String]) -> String {
        guard s.unicodeScalars.contains(where: { $0.value >= 0x80 && $0.value <= 0x9F }) else { return s }
        warnings.append("C1 control characters were read as the Windows-1252 characters they stand for")
        let table: [UInt32] = [
            0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039, 0x152, 0x8D,
            0x17D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x2DC, 0x2122, 0x161, 0x203A,
            0x153, 0x9D, 0x17E, 0x178,
        ]
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            if u.value >= 0x80, u.value <= 0x9F, let m = Unicode.Scalar(table[Int(u.value - 0x80)]) {
                out.append(m)
            } else {
                out.append(u)
            }
        }
        return String(out)
    }

    static func charsetParameter(_ contentType: String) -> String? {
        for part in contentType.split(separator: ";").dropFirst() {
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2, kv[0].trimmingCharacters(in: .whitespaces).lowercased() == "charset" else { continue }
            let value = kv[1].trimmingCharacters(in: .whitespaces).trimmingCharacters(
                in: CharacterSet(charactersIn: "\"'"))
            return value.isEmpty ? nil : value
        }
        return nil
    }

    private static func byteOrderMark(_ b: [UInt8]) -> (encoding: String, length: Int)? {
        if b.starts(with: [0xEF, 0xBB, 0xBF]) { return ("utf-8", 3) }
        if b.starts(with: [0xFF, 0xFE, 0, 0]) { return ("utf-32le", 4) }
        if b.starts(with: [0, 0, 0xFE, 0xFF]) { return ("utf-32be", 4) }
        if b.starts(with: [0xFF, 0xFE]) { return ("utf-16le", 2) }
        if b.starts(with: [0xFE, 0xFF]) { return ("utf-16be", 2) }
        return nil
    }

    /// XML 1.0 appendix F: `<` followed by a zero byte (or the reverse) is UTF-16 without a BOM.
    private static func utf16WithoutBOM(_ b: [UInt8]) -> String? {
        if b.starts(with: [0x3C, 0x00, 0x3F, 0x00]) { return "utf-16le" }
        if b.starts(with: [0x00, 0x3C, 0x00, 0x3F]) { return "utf-16be" }
        return nil
    }

    /// `encoding="..."` of an XML declaration, or `charset=` of an HTML meta tag, in the first 1 KiB.
    static func declaredEncoding(_ b: [UInt8]) -> String? {
        let head = String(decoding: b.prefix(1_024).map { $0 < 0x80 ? $0 : 0x20 }, as: UTF8.self)
        if let decl = head.range(of: "<?xml"), let end = head.range(of: "?>", range: decl.upperBound..<head.endIndex) {
            let text = head[decl.upperBound..<end.lowerBound]
            if let r = text.range(of: "encoding") {
                let rest = text[r.upperBound...].drop { $0 == " " || $0 == "=" || $0 == "\t" }
                if let q = rest.first, q == "\"" || q == "'" {
                    return String(rest.dropFirst().prefix { $0 != q })
                }
            }
        }
        if let r = head.range(of: "charset=", options: .caseInsensitive) {
            let name = head[r.upperBound...].drop { $0 == "\"" || $0 == "'" }.prefix {
                $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_"
            }
            if !name.isEmpty { return String(name) }
        }
        return nil
    }

    /// Labels the way browsers read them: us-ascii and latin-1 labels mean windows-1252 (a superset).
    private static func normalized(_ name: String) -> String {
        let n = name.lowercased()
        switch n {
        case "utf8", "utf-8": return "utf-8"
        case "us-ascii", "ascii", "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "cp1252", "x-cp1252":
            return "windows-1252"
        case "utf-16", "utf16": return "utf-16le"
        default: return n
        }
    }

    private static func isPlausibleName(_ n: String) -> Bool {
        !n.isEmpty && n.utf8.count <= 40
            && n.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) || "-_.:".utf8.contains($0)
            }
    }

    /// Converts with iconv; returns nil when iconv does not know the encoding.
    private static func iconvToUTF8(_ input: [UInt8], from encoding: String) -> ([UInt8], Int)? {
        let cd = iconv_open("UTF-8", encoding.uppercased())
        guard let cd, Int(bitPattern: cd) != -1 else { return nil }
        defer { iconv_close(cd) }
        var output: [UInt8] = []
        output.reserveCapacity(input.count * 2)
        var replaced = 0
        var chunk = [UInt8](repeating: 0, count: 16_384)
        var source = input.map { CChar(bitPattern: $0) }
        source.withUnsafeMutableBufferPointer { inBuf in
            var inPtr = inBuf.baseAddress
            var inLeft = inBuf.count
            while inLeft > 0 {
                let (rc, produced, err) = chunk.withUnsafeMutableBufferPointer { outBuf -> (Int, Int, Int32) in
                    var outPtr = outBuf.baseAddress.map {
                        UnsafeMutableRawPointer($0).assumingMemoryBound(to: CChar.self)
                    }
                    var outLeft = outBuf.count
                    let r = iconv(cd, &inPtr, &inLeft, &outPtr, &outLeft)
                    return (r, outBuf.count - outLeft, errno)
                }
                output.append(contentsOf: chunk[..<produced])
                if rc == -1 {
                    if err == E2BIG { continue }
                    // EILSEQ or EINVAL (truncated sequence): skip one byte, mark it.
                    output.append(contentsOf: [0xEF, 0xBF, 0xBD])
                    replaced += 1
                    inPtr = inPtr.map { $0 + 1 }
                    inLeft -= 1
                }
            }
        }
        return (output, replaced)
    }
}
