import CLibCrypto
import Foundation

/// Checks a detached signature over a checksum document. Nothing here implements a cipher: minisign's
/// Ed25519 and BLAKE2b are OpenSSL's, OpenPGP is Debian's `gpgv`.
enum SignatureVerifier {
    /// A minisign signature (https://jedisct1.github.io/minisign/): the public key's base64 line, the `.minisig`
    /// file's bytes. Checks the key id, the signature over the document (`Ed`: the document itself, `ED`: its
    /// BLAKE2b-512), and the global signature over signature and trusted comment. Returns nil when valid, else why not.
    static func minisign(publicKey: String, signature: [UInt8], document: [UInt8]) -> String? {
        guard let key = Data(base64Encoded: publicKey).map(Array.init), key.count == 42, key[0] == 0x45, key[1] == 0x64
        else { return "the public key is not a minisign Ed25519 key" }
        let keyID = key[2..<10]
        let pk = Array(key[10..<42])
        guard signature.count <= 64 * 1024 else { return "the signature file is larger than 64 KiB" }
        let lines = String(decoding: signature, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        guard lines.count >= 4, lines[0].hasPrefix("untrusted comment:"), lines[2].hasPrefix("trusted comment: "),
            let sig = Data(base64Encoded: String(lines[1])).map(Array.init), sig.count == 74,
            let global = Data(base64Encoded: String(lines[3])).map(Array.init), global.count == 64
        else { return "the signature file is not in minisign's format" }
        let algorithm = String(decoding: sig[0..<2], as: UTF8.self)
        guard algorithm == "Ed" || algorithm == "ED" else { return "unknown minisign algorithm '\(algorithm)'" }
        guard sig[2..<10].elementsEqual(keyID) else {
            return "the signature was made with another key (key id \(hex(Array(sig[2..<10]).reversed())), "
                + "the playbook's key is \(hex(Array(keyID).reversed())))"
        }
        let signatureBytes = Array(sig[10..<74])
        var message = document
        if algorithm == "ED" {
            var prehash = [UInt8](repeating: 0, count: 64)
            guard itv_blake2b512(document, document.count, &prehash) == 1 else { return "BLAKE2b-512 failed (OpenSSL)" }
            message = prehash
        }
        guard itv_ed25519_verify(pk, signatureBytes, message, message.count) == 1 else {
            return "the signature does not match the document"
        }
        let trusted = Array(lines[2].dropFirst("trusted comment: ".count).utf8)
        guard itv_ed25519_verify(pk, global, signatureBytes + trusted, signatureBytes.count + trusted.count) == 1 else {
            return "the trusted comment's signature does not match"
        }
        return nil
    }

    /// An OpenPGP detached signature checked by `gpgv --keyring KEYRING SIG DOC` in a scratch home directory
    /// `work` (created and removed here). Returns nil when gpgv accepts it, else why not (gpgv's own words).
    static func gpg(
        keyring: String, signature: [UInt8], document: [UInt8], work: String, gpgv: String = "/usr/bin/gpgv"
    )
        async -> String?
    {
        let fm = FileManager.default
        do {
            try fm.createDirectory(
                atPath: work, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            try Data(signature).write(to: URL(fileURLWithPath: work + "/doc.sig"))
            try Data(document).write(to: URL(fileURLWithPath: work + "/doc"))
        } catch {
            try? fm.removeItem(atPath: work)
            return "cannot prepare gpgv: \(error.localizedDescription)"
        }
        defer { try? fm.removeItem(atPath: work) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: gpgv)
        p.arguments = ["--homedir", work, "--keyring", keyring, "--status-fd", "1", work + "/doc.sig", work + "/doc"]
        p.environment = ["PATH": "/usr/bin:/bin", "LC_ALL": "C"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch { return "cannot run \(gpgv): \(error.localizedDescription)" }
        // gpgv's output is small (a few status lines); read it off the cooperative pool.
        let text = await withCheckedContinuation { (c: CheckedContinuation<String, Never>) in
            Thread.detachNewThread {
                let data = out.fileHandleForReading.readDataToEndOfFile()
                p.waitUntilExit()
                c.resume(returning: String(decoding: data.prefix(16 * 1024), as: UTF8.self))
            }
        }
        let status = text.split(separator: "\n").filter { $0.hasPrefix("[GNUPG:] ") }
        // Exit 0 and a GOODSIG/VALIDSIG: gpgv found a good signature by a key of the keyring.
        if p.terminationStatus == 0, status.contains(where: { $0.hasPrefix("[GNUPG:] VALIDSIG") }) { return nil }
        let reason = status.first { $0.contains("BADSIG") || $0.contains("ERRSIG") || $0.contains("NO_PUBKEY") }
            .map { String($0.dropFirst("[GNUPG:] ".count)) }
        let said =
            text.split(separator: "\n").first { !$0.hasPrefix("[GNUPG:]") && $0.contains("gpgv:") }
            .map(String.init) ?? ""
        return "gpgv refused the signature (exit \(p.terminationStatus)\(reason.map { ", \($0)" } ?? ""))"
            + (said.isEmpty ? "" : ": \(said.prefix(200))")
    }
}
