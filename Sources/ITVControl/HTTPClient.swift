import CCurl
import Foundation
import ITVCore
import ITVCurl
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
            message: "\(error.kind.rawValue): \(escapedForMessage(error.message, limit: 4_096))", apiError: error)
    }
}

/// itvctl's HTTP/1.1 client: libcurl over the Unix socket (`CURLOPT_UNIX_SOCKET_PATH`), one blocking request
/// per connection (itvctl is short-lived). libcurl parses the answer (status line, headers, chunked bodies);
/// this type maps what can go wrong to itvctl's exit codes and messages.
struct HTTPClient {
    let socketPath: String
    /// Seconds without a byte from itvd before giving up (0: no limit, for `rollout watch`).
    var timeoutSeconds: Int = 300
    /// The largest answer kept whole (a streamed answer is handed on line by line instead).
    static let maxAnswerBytes = 256 << 20

    struct Response {
        var status: Int
        var headers: [String: String]
        var body: Data
    }

    /// Sends a request and reads the whole response.
    func send(method: String, target: String, body: Data? = nil) throws(ClientFailure) -> Response {
        let exchange = Exchange(path: socketPath)
        try perform(method: method, target: target, body: body, exchange)
        return Response(status: exchange.status, headers: exchange.headers, body: exchange.body)
    }

    /// Sends a GET, lets `check` see the status and headers, then hands each line of the streamed body to
    /// `line` as it arrives, until it returns false or the body ends. Returns the status and, for an error
    /// status, the body.
    func stream(
        target: String, head check: (Response) throws(ClientFailure) -> Void,
        line: (Data) throws(ClientFailure) -> Bool
    ) throws(ClientFailure) -> Response {
        let result: Result<Response, ClientFailure> = withoutActuallyEscaping(check) { check in
            withoutActuallyEscaping(line) { line in
                let exchange = Exchange(path: socketPath)
                var pending = Data()
                exchange.onHead = { (status, headers) throws(ClientFailure) -> Bool in
                    try check(Response(status: status, headers: headers, body: Data()))
                    return status == 200
                }
                exchange.onLines = { (chunk: Data) throws(ClientFailure) -> Bool in
                    pending.append(chunk)
                    while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                        let text = pending[pending.startIndex..<newline]
                        pending = Data(pending[(newline + 1)...])
                        if !text.isEmpty, !(try line(Data(text))) { return false }
                    }
                    return true
                }
                do throws(ClientFailure) {
                    try perform(method: "GET", target: target, body: nil, exchange)
                } catch {
                    return .failure(error)
                }
                return .success(Response(status: exchange.status, headers: exchange.headers, body: exchange.body))
            }
        }
        return try result.get()
    }

    private func perform(method: String, target: String, body: Data?, _ exchange: Exchange) throws(ClientFailure) {
        // sockaddr_un holds 108 bytes with the final NUL; libcurl would only say "couldn't connect".
        guard socketPath.utf8.count < 108 else {
            throw .unreachable(socketPath, "the path is too long for a Unix socket")
        }
        guard let easy = CurlEasy() else {
            throw ClientFailure(exitCode: 1, message: "cannot start an HTTP request (curl_easy_init failed)")
        }
        easy.set(CURLOPT_UNIX_SOCKET_PATH, socketPath)
        easy.set(CURLOPT_URL, "http://itvd" + target)
        // The target goes out as the route built it (no squashing of `/../` or `/./`).
        easy.set(CURLOPT_PATH_AS_IS, 1)
        easy.set(CURLOPT_HTTP_VERSION, Int(CURL_HTTP_VERSION_1_1))
        easy.set(CURLOPT_NOSIGNAL, 1)
        easy.set(CURLOPT_NOPROXY, "*")
        easy.set(CURLOPT_PROXY, "")
        easy.set(CURLOPT_PROTOCOLS_STR, "http")
        easy.set(CURLOPT_USERAGENT, "itvctl")
        var headers = [
            "\(ITVProtocolVersion.headerName): \(ITVProtocolVersion.current)", "Connection: close",
            // No `Accept: */*` and no `Expect: 100-continue` (a large body is sent at once, as before).
            "Accept:", "Expect:",
        ]
        if method == "GET" {
            easy.set(CURLOPT_HTTPGET, 1)
        } else {
            easy.set(CURLOPT_CUSTOMREQUEST, method)
        }
        if let body {
            headers.append("Content-Type: \(ITVProtocolVersion.jsonContentType)")
            easy.postFields(body)
        }
        easy.set(CURLOPT_HTTPHEADER, list: headers)
        if timeoutSeconds > 0 {
            easy.set(CURLOPT_CONNECTTIMEOUT, timeoutSeconds)
            // Like a receive timeout: fewer than one byte a second for `timeoutSeconds` ends the request.
            easy.set(CURLOPT_LOW_SPEED_LIMIT, 1)
            easy.set(CURLOPT_LOW_SPEED_TIME, timeoutSeconds)
        }
        easy.onHeader = { exchange.header(String(decoding: $0, as: UTF8.self)) }
        easy.onBody = { exchange.received($0) }
        guard easy.ok else {
            throw ClientFailure(exitCode: 1, message: "cannot set up the HTTP request (libcurl refused an option)")
        }
        let code = easy.perform()
        if let failure = exchange.failure { throw failure }
        if code == CURLE_OK || (code == CURLE_WRITE_ERROR && exchange.stopped) { return }
        throw failure(code, easy, exchange)
    }

    /// What a libcurl error means for itvctl: the same exit codes and messages as ever.
    private func failure(_ code: CURLcode, _ easy: CurlEasy, _ exchange: Exchange) -> ClientFailure {
        let path = socketPath
        let detail = easy.errorText(code)
        switch code {
        case CURLE_COULDNT_CONNECT:
            let number = Int32(easy.info(CURLINFO_OS_ERRNO))
            if number == EACCES || number == EPERM {
                return ClientFailure(
                    exitCode: 77,
                    message: "permission denied: you may not use itvd's socket \(path); members of its reader "
                        + "and operator groups may (see readers: and operators: in itvd.yaml)",
                    apiError: APIError(.permissionDenied, "you may not use itvd's socket \(path)"))
            }
            return .unreachable(path, number != 0 ? String(cString: strerror(number)) : detail)
        case CURLE_OPERATION_TIMEDOUT:
            return ClientFailure(exitCode: 69, message: "itvd at \(path) did not answer in time")
        case CURLE_GOT_NOTHING:
            return ClientFailure(exitCode: 69, message: "itvd at \(path) closed the connection without an answer")
        case CURLE_PARTIAL_FILE:
            return ClientFailure(
                exitCode: 69, message: "itvd at \(path) closed the connection in the middle of its answer")
        case CURLE_WEIRD_SERVER_REPLY, CURLE_UNSUPPORTED_PROTOCOL:
            return ClientFailure(exitCode: 1, message: "the peer at \(path) does not speak HTTP; is it itvd?")
        case CURLE_RECV_ERROR where detail.lowercased().contains("chunk"):
            return ClientFailure(exitCode: 1, message: "itvd at \(path) sent a malformed chunk")
        case CURLE_WRITE_ERROR where exchange.overCap:
            return ClientFailure(
                exitCode: 1, message: "the answer from \(path) is larger than \(Self.maxAnswerBytes >> 20) MiB")
        default:
            if !exchange.headDone {
                return ClientFailure(exitCode: 69, message: "itvd at \(path) closed the connection without an answer")
            }
            return .unreachable(path, "the connection broke: " + detail)
        }
    }
}

/// What one request received, filled in by libcurl's callbacks.
private final class Exchange {
    let path: String
    var status = 0
    var headers: [String: String] = [:]
    var body = Data()
    /// The final head (not a `100 Continue`) has been read.
    var headDone = false
    /// Sees the head before the body; false keeps the body whole instead of handing it to `onLines`.
    var onHead: ((Int, [String: String]) throws(ClientFailure) -> Bool)?
    /// Receives the body piece by piece (a streamed answer); false stops reading.
    var onLines: ((Data) throws(ClientFailure) -> Bool)?
    private var streaming = false
    var failure: ClientFailure?
    var stopped = false
    var overCap = false

    init(path: String) { self.path = path }

    /// One header line (the status line, a header, or the empty line that ends the head); false aborts.
    func header(_ line: String) -> Bool {
        let text = line.trimmingCharacters(in: CharacterSet(charactersIn: "\r\n"))
        if text.hasPrefix("HTTP/") {
            let fields = text.split(separator: " ")
            guard fields.count >= 2, let code = Int(fields[1]) else {
                failure = ClientFailure(exitCode: 1, message: "the peer at \(path) does not speak HTTP; is it itvd?")
                return false
            }
            status = code
            headers = [:]
            return true
        }
        if text.isEmpty {
            // The head of an interim answer (1xx) is followed by another head.
            guard status >= 200 else { return true }
            headDone = true
            guard let onHead else { return true }
            do {
                streaming = try onHead(status, headers)
                return true
            } catch {
                failure = error
                return false
            }
        }
        guard let colon = text.firstIndex(of: ":") else { return true }
        headers[text[..<colon].lowercased()] = text[text.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        return true
    }

    /// A piece of the body; false aborts.
    func received(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if streaming, let onLines {
            do {
                if try onLines(Data(bytes)) { return true }
                stopped = true
                return false
            } catch {
                failure = error
                return false
            }
        }
        guard body.count + bytes.count <= HTTPClient.maxAnswerBytes else {
            overCap = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }
}
