/// Reads the expected SHA-256 of one file out of a vendor's checksum list (`sha256sum` output, also the BSD
/// `SHA256 (name) = hex` form that `sha256sum --tag` and `shasum` write).
///
/// The list is untrusted input (its signature, if any, is checked before it is read, but a vendor's file may
/// still be large or odd): it is read in one pass over its bytes, lines that are not an entry are skipped
/// (counted), and a name listed twice with different digests is refused rather than guessed.
///
/// An entry names the file exactly (byte for byte, after the `*` binary marker), or with a leading `./` as
/// `sha256sum` writes for `./file`; `dir/file`, `../file`, a name with a trailing space or a control
/// character are other files. GNU `sha256sum` writes a name with a backslash or a newline as an escaped line
/// (`\<hex>  a\\b`): not an entry here, so such a file has none. The same name listed twice with the same
/// digest is one answer, not an ambiguity.
public enum ChecksumFile {
    public enum Failure: Error, Hashable, Sendable {
        /// No line names the file.
        case missingEntry(name: String, entries: Int, malformed: Int)
        /// Two lines name the file with different digests.
        case conflictingEntries(name: String)
    }

    /// The lowercase hex digest the list gives for `name`.
    public static func sha256(for name: String, in bytes: [UInt8]) -> Result<String, Failure> {
        var found: String?
        var entries = 0
        var malformed = 0
        var start = 0
        let target = Array(name.utf8)
        while start < bytes.count {
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            var lineEnd = end
            if lineEnd > start, bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
            let line = bytes[start..<lineEnd]
            start = end + 1
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            guard let (digest, fileName) = parse(line) else {
                malformed += 1
                continue
            }
            entries += 1
            guard fileName.elementsEqual(target) || fileName.elementsEqual("./".utf8 + target) else { continue }
            if let found, found != digest { return .failure(.conflictingEntries(name: name)) }
            found = digest
        }
        guard let found else { return .failure(.missingEntry(name: name, entries: entries, malformed: malformed)) }
        return .success(found)
    }

    /// The name a checksum list gives the file at `url`: the URL's last path segment (query and fragment
    /// dropped), percent-decoded, since vendors list plain file names (`7z 24.msi` for `.../7z%2024.msi`,
    /// `tool_1.0+1.deb` for the `%2B` that `{{version}}` expands `+` to). Nil when the segment does not name a
    /// plain file: empty, `.` or `..`, a malformed escape, bytes that are not UTF-8, or a `/`, `\` or
    /// control character once decoded (no list entry is chosen for such a name). `artifact.name`, the file's
    /// name on the hosts, plays no part: the entry must name what is downloaded, not what the operator calls it.
    public static func entryName(ofURL url: String) -> String? {
        let segment = ArtifactSpec.lastSegment(of: url)
        var bytes: [UInt8] = []
        var utf8 = segment.utf8[...]
        while let b = utf8.popFirst() {
            guard b == UInt8(ascii: "%") else {
                bytes.append(b)
                continue
            }
            guard utf8.count >= 2, let hi = utf8.removeFirst().asciiHexValue, let lo = utf8.removeFirst().asciiHexValue
            else {
                return nil
            }
            bytes.append(hi << 4 | lo)
        }
        guard let name = String(validating: bytes, as: UTF8.self), !name.isEmpty, name != ".", name != ".." else {
            return nil
        }
        let hostile = name.unicodeScalars.contains { s in
            s == "/" || s == "\\" || s.properties.generalCategory == .control
                || s.properties.generalCategory == .format || s.properties.generalCategory == .lineSeparator
                || s.properties.generalCategory == .paragraphSeparator
        }
        return hostile ? nil : name
    }

    /// `<64 hex> <space|*><name>` or `SHA256 (<name>) = <64 hex>`.
    static func parse(_ line: ArraySlice<UInt8>) -> (String, ArraySlice<UInt8>)? {
        let tag = Array("SHA256 (".utf8)
        if line.starts(with: tag) {
            let close = Array(") = ".utf8)
            guard line.count >= tag.count + close.count + 64 else { return nil }
            let digest = line.suffix(64)
            let nameEnd = line.endIndex - 64 - close.count
            guard line[nameEnd..<(nameEnd + close.count)].elementsEqual(close), let hex = hexDigest(digest) else {
                return nil
            }
            let name = line[(line.startIndex + tag.count)..<nameEnd]
            return name.isEmpty ? nil : (hex, name)
        }
        guard line.count > 66, let hex = hexDigest(line.prefix(64)) else { return nil }
        let i = line.startIndex + 64
        guard line[i] == UInt8(ascii: " "), line[i + 1] == UInt8(ascii: " ") || line[i + 1] == UInt8(ascii: "*") else {
            return nil
        }
        return (hex, line[(i + 2)...])
    }

    /// 64 hex digits as lowercase text, else nil.
    public static func hexDigest<C: Collection>(_ bytes: C) -> String? where C.Element == UInt8 {
        guard bytes.count == 64 else { return nil }
        var out = ""
        out.reserveCapacity(64)
        for b in bytes {
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: "A")...UInt8(ascii: "F"):
                out.unicodeScalars.append(Unicode.Scalar(b + 0x20))
            default:
                return nil
            }
        }
        return out
    }

    /// `hexDigest` of a string (a digest from a JSON document or a feed).
    public static func hexDigest(_ text: String) -> String? { hexDigest(Array(text.utf8)) }
}

extension UInt8 {
    /// The value (0-15) of an ASCII hex digit, either case; nil for any other byte (percent-escapes, LDAP
    /// `\XX` escapes).
    public var asciiHexValue: UInt8? {
        switch self {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return self - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return self - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return self - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
