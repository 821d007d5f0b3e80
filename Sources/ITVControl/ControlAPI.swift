import Foundation
import ITVCore
import ITVProtocol

/// Typed calls over `HTTPClient`: checks the protocol version and turns error bodies into failures.
struct ControlAPI {
    let http: HTTPClient

    var socketPath: String { http.socketPath }

    /// A GET; returns the decoded answer and the raw JSON (printed as-is by `--json`).
    func get<T: Decodable>(_ type: T.Type, _ route: Route, _ values: [String] = [], query: [(String, String)] = [])
        throws(ClientFailure) -> (T, Data)
    {
        let response = try http.send(method: "GET", target: route.target(values, query: query))
        return try decode(type, response)
    }

    /// A POST with a JSON body.
    func post<T: Decodable, B: Encodable>(_ type: T.Type, _ route: Route, _ values: [String] = [], body: B)
        throws(ClientFailure) -> (T, Data)
    {
        let data: Data
        do { data = try ITVJSON.encode(body) } catch {
            throw ClientFailure(exitCode: 1, message: "cannot encode the request: \(error)")
        }
        let response = try http.send(method: "POST", target: route.target(values, query: []), body: data)
        return try decode(type, response)
    }

    func checkProtocol(_ response: HTTPClient.Response) throws(ClientFailure) {
        guard let version = response.headers[ITVProtocolVersion.headerName.lowercased()] else {
            throw ClientFailure(
                exitCode: 1,
                message: "the peer at \(socketPath) does not say which control protocol it speaks; is it itvd?")
        }
        guard version == ITVProtocolVersion.current else {
            throw ClientFailure(
                exitCode: 1,
                message:
                    "itvd at \(socketPath) speaks control protocol \(escapedForMessage(version, limit: 4_096)), this itvctl "
                    + "speaks \(ITVProtocolVersion.current): use the itvctl that came with the running itvd")
        }
    }

    func failure(_ response: HTTPClient.Response) -> ClientFailure {
        if let body = try? ITVJSON.decode(ErrorBody.self, from: response.body) { return .api(body.error) }
        return ClientFailure(exitCode: 1, message: "itvd answered HTTP \(response.status) without an error document")
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: HTTPClient.Response) throws(ClientFailure) -> (
        T, Data
    ) {
        try checkProtocol(response)
        guard response.status == 200 else { throw failure(response) }
        do {
            return (try ITVJSON.decode(type, from: response.body), response.body)
        } catch {
            throw ClientFailure(exitCode: 1, message: "cannot read itvd's answer as \(T.self): \(error)")
        }
    }
}
