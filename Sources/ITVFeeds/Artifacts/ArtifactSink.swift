import CLibCrypto
import Foundation

/// A download's destination: a new file (created exclusively, mode 0600), each chunk written and hashed with
/// OpenSSL's SHA-256 as it arrives, so that the bytes are read once. Used by one thread at a time (the caller,
/// then the fetch thread during the transfer, then the caller again).
final class ArtifactSink: @unchecked Sendable {
    let path: String
    private var fd: Int32
    private var context: OpaquePointer?
    private(set) var count: Int64 = 0
    /// Why a write failed (the transfer stops).
    private(set) var failure: String?

    init(creating path: String) throws(ArtifactSinkError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ArtifactSinkError("cannot create \(path): \(String(cString: strerror(errno)))") }
        guard let ctx = itv_sha256_new() else {
            close(fd)
            unlink(path)
            throw ArtifactSinkError("cannot start SHA-256 (OpenSSL)")
        }
        context = ctx
    }

    deinit {
        if fd >= 0 { close(fd) }
        if let context { itv_sha256_free(context) }
    }

    /// Writes and hashes a chunk; false (with `failure`) when the file cannot take it.
    func write(_ chunk: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = chunk.baseAddress, let context, fd >= 0 else { return chunk.isEmpty }
        var offset = 0
        while offset < chunk.count {
            let n = Foundation.write(fd, base + offset, chunk.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                failure = String(cString: strerror(errno))
                return false
            }
            offset += n
        }
        guard itv_sha256_update(context, base, chunk.count) == 1 else {
            failure = "SHA-256 update failed (OpenSSL)"
            return false
        }
        count += Int64(chunk.count)
        return true
    }

    /// Flushes the file to disk and closes it; the lowercase hex SHA-256 of everything written.
    func finish() throws(ArtifactSinkError) -> String {
        guard let context else { throw ArtifactSinkError("the download was already finished") }
        self.context = nil
        var digest = [UInt8](repeating: 0, count: 32)
        let hashed = itv_sha256_final(context, &digest) == 1
        let synced = fsync(fd) == 0
        let error = synced ? nil : String(cString: strerror(errno))
        close(fd)
        fd = -1
        guard hashed else { throw ArtifactSinkError("SHA-256 final failed (OpenSSL)") }
        if let error { throw ArtifactSinkError("cannot flush \(path) to disk: \(error)") }
        return hex(digest)
    }
}

struct ArtifactSinkError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// SHA-256 of a file, streamed in 1 MiB reads through OpenSSL (the bench's and the tests' reference path).
public func sha256OfFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw ArtifactSinkError("cannot open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    guard let ctx = itv_sha256_new() else { throw ArtifactSinkError("cannot start SHA-256 (OpenSSL)") }
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 64)
    defer { buffer.deallocate() }
    while true {
        let n = read(fd, buffer, 1 << 20)
        if n < 0, errno == EINTR { continue }
        if n < 0 {
            itv_sha256_free(ctx)
            throw ArtifactSinkError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        if n == 0 { break }
        _ = itv_sha256_update(ctx, buffer, n)
    }
    var digest = [UInt8](repeating: 0, count: 32)
    guard itv_sha256_final(ctx, &digest) == 1 else { throw ArtifactSinkError("SHA-256 final failed (OpenSSL)") }
    return hex(digest)
}
