import Foundation
import ITVProtocol

#if canImport(Glibc)
    import Glibc
#endif

/// Why itvctl could not get an answer, with the exit code it leads to.
struct ClientFailure: Error, CustomStringConvertible {
    var exitCode: Int32
    var message: String
    /// The daemon's error, when it sent one.
    var apiError: APIError?
    /// The command already printed its `--json` document (the failure only sets the exit code).
    var documentPrinted = false

    /// The error as `--json` prints it: the daemon's, or one made here (`unavailable` when unreachable).
    var errorBody: ErrorBody {
        ErrorBody(apiError ?? APIError(exitCode == 69 ? .unavailable : .internal, message))
    }

    var description: String { message }

    static func unreachable(_ path: String, _ why: String) -> ClientFailure {
        ClientFailure(
            exitCode: 69,
            message: "cannot reach itvd at \(path): \(why): is the service running? systemctl status itvd")
    }

    static func api(_ error: APIError) -> ClientFailure {
        ClientFailure(
            exitCode: error.kind == .permissionDenied || error.kind == .tenantForbidden ? 77 : 1,
            message: "\(error.kind.rawValue): \(escapedForMessage(error.message))", apiError: error)
    }
}

/// A small blocking HTTP/1.1 client over the Unix socket: one request per connection (itvctl is short-lived).
struct HTTPClient {
    let socketPath: String
    /// Seconds to wait for a whole answer (0: no limit, for `rollout watch`).
    var timeoutSeconds: Int = 300

    struct Response {
        var status: Int
        var headers: [String: String]
        var body: Data
    }

    /// Sends a request and reads the whole response.
    func send(method: String, target: String, body: Data? = nil) throws(ClientFailure) -> Response {
        let connection = try open()
        defer { close(connection.fd) }
        try connection.write(request(method: method, target: target, body: body))
        let (status, headers) = try connection.readHead(path: socketPath)
        let body = try connection.readBody(headers: headers, path: socketPath)
        return Response(status: status, headers: headers, body: body)
    }

    /// Sends a GET, lets `check` see the status and headers, then hands each line of the streamed body to
    /// `line` until it returns false or the body ends. Returns the status and, for an error status, the body.
    func stream(
        target: String, head check: (Response) throws(ClientFailure) -> Void,
        line: (Data) throws(ClientFailure) -> Bool
    ) throws(ClientFailure) -> Response {
        let connection = try open()
        defer { close(connection.fd) }
        try connection.write(request(method: "GET", target: target, body: nil))
        let (status, headers) = try connection.readHead(path: socketPath)
        try check(Response(status: status, headers: headers, body: Data()))
        guard status == 200 else {
            return Response(
                status: status, headers: headers, body: try connection.readBody(headers: headers, path: socketPath))
        }
        var pending = Data()
        var more = true
        try connection.readChunks(headers: headers, path: socketPath) { (chunk: Data) throws(ClientFailure) -> Bool in
            pending.append(chunk)
            while more, let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let text = pending[pending.startIndex..<newline]
                pending = Data(pending[(newline + 1)...])
                if !text.isEmpty { more = try line(Data(text)) }
            }
            return more
        }
        return Response(status: status, headers: headers, body: Data())
    }

    private func request(method: String, target: String, body: Data?) -> Data {
        var text = "\(method) \(target) HTTP/1.1\r\nHost: itvd\r\nUser-Agent: itvctl\r\n"
        text += "\(ITVProtocolVersion.headerName): \(ITVProtocolVersion.current)\r\nConnection: close\r\n"
        if let body {
            text += "Content-Type: \(ITVProtocolVersion.jsonContentType)\r\nContent-Length: \(body.count)\r\n"
        }
        var data = Data((text + "\r\n").utf8)
        if let body { data.append(body) }
        return data
    }

    private func open() throws(ClientFailure) -> Connection {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .unreachable(socketPath, String(cString: strerror(errno))) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw .unreachable(socketPath, "the path is too long for a Unix socket")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let result = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else {
            let code = errno
            close(fd)
            if code == EACCES || code == EPERM {
                throw ClientFailure(
                    exitCode: 77,
                    message: "permission denied: you may not use itvd's socket \(socketPath); members of its reader "
                        + "and operator groups may (see readers: and operators: in itvd.yaml)",
                    apiError: APIError(.permissionDenied, "you may not use itvd's socket \(socketPath)"))
            }
            throw .unreachable(socketPath, String(cString: strerror(code)))
        }
        if timeoutSeconds > 0 {
            var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        return Connection(fd: fd)
    }
}

/// One connected socket with a read buffer.
private final class Connection {
    let fd: Int32
    private var buffer = Data()
    private var eof = false

    init(fd: Int32) { self.fd = fd }

    func write(_ data: Data) throws(ClientFailure) {
        var offset = 0
        while offset < data.count {
            let n = data.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, data.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0, errno == EINTR { continue }
            // A daemon that answered early (an error) and closed is read below; stop writing.
            if n <= 0 { return }
            offset += n
        }
    }

    /// Reads more bytes into the buffer; false at end of stream.
    private func fill(path: String) throws(ClientFailure) -> Bool {
        if eof { return false }
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n > 0 {
                buffer.append(contentsOf: chunk[0..<n])
                return true
            }
            if n == 0 {
                eof = true
                return false
            }
            if errno == EINTR { continue }
            if errno == EAGAIN || errno == EWOULDBLOCK {
                throw ClientFailure(exitCode: 69, message: "itvd at \(path) did not answer in time")
            }
            throw ClientFailure.unreachable(path, "the connection broke: " + String(cString: strerror(errno)))
        }
    }

    func readHead(path: String) throws(ClientFailure) -> (Int, [String: String]) {
        let separator = Data("\r\n\r\n".utf8)
        while buffer.range(of: separator) == nil {
            guard buffer.count < 65_536, try fill(path: path) else {
                throw ClientFailure(exitCode: 69, message: "itvd at \(path) closed the connection without an answer")
            }
        }
        guard let end = buffer.range(of: separator) else { return (0, [:]) }
        let head = String(decoding: buffer[buffer.startIndex..<end.lowerBound], as: UTF8.self)
        buffer = Data(buffer[end.upperBound...])
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw ClientFailure(exitCode: 1, message: "the peer at \(path) does not speak HTTP; is it itvd?")
        }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        return (status, headers)
    }

    func readBody(headers: [String: String], path: String) throws(ClientFailure) -> Data {
        var body = Data()
        try readChunks(headers: headers, path: path) { (chunk: Data) throws(ClientFailure) -> Bool in
            body.append(chunk)
            guard body.count <= 256 << 20 else {
                throw ClientFailure(exitCode: 1, message: "the answer from \(path) is larger than 256 MiB")
            }
            return true
        }
        return body
    }

    /// Hands the body to `consume` piece by piece (content-length, chunked, or until EOF).
    func readChunks(
        headers: [String: String], path: String, _ consume: (Data) throws(ClientFailure) -> Bool
    ) throws(ClientFailure) {
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            while true {
                let crlf = Data("\r\n".utf8)
                while buffer.range(of: crlf) == nil {
                    guard try fill(path: path) else { throw truncated(path) }
                }
                guard let lineEnd = buffer.range(of: crlf) else { return }
                let sizeText = String(decoding: buffer[buffer.startIndex..<lineEnd.lowerBound], as: UTF8.self)
                guard let size = Int(sizeText.split(separator: ";").first ?? "", radix: 16) else {
                    throw ClientFailure(exitCode: 1, message: "itvd at \(path) sent a malformed chunk")
                }
                buffer = Data(buffer[lineEnd.upperBound...])
                while buffer.count < size + 2 {
                    guard try fill(path: path) else { throw truncated(path) }
                }
                let chunk = Data(buffer.prefix(size))
                buffer = Data(buffer.dropFirst(size + 2))
                if size == 0 { return }
                guard try consume(chunk) else { return }
            }
        } else if let length = headers["content-length"].flatMap(Int.init) {
            while buffer.count < length {
                guard try fill(path: path) else { throw truncated(path) }
            }
            _ = try consume(Data(buffer.prefix(length)))
        } else {
            while try fill(path: path) {}
            _ = try consume(buffer)
        }
    }

    private func truncated(_ path: String) -> ClientFailure {
        ClientFailure(exitCode: 69, message: "itvd at \(path) closed the connection in the middle of its answer")
    }
}
