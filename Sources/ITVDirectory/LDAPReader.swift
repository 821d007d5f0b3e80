import CLDAP
import Foundation

/// One search of a directory: where, as whom, what, and the bounds of the answer.
public struct LDAPQuery: Hashable, Sendable {
    /// `ldaps://host[:port]` or `ldap://host[:port]` (StartTLS unless `plain`).
    public var url: String
    /// `ldap://` without StartTLS: only when the configuration says `allow_plain: true`.
    public var plain: Bool
    /// PEM file of the certificate authorities the server's certificate must chain to (nil: the system's).
    public var caFile: String?
    /// Simple bind; nil binds anonymously.
    public var bindDN: String?
    public var password: [UInt8]
    public var base: String
    public var filter: String
    /// The attributes wanted (nothing else is asked for, so nothing else is read).
    public var attributes: [String]
    /// One deadline for the whole read: connect, TLS, bind and every page.
    public var timeout: Double
    /// More entries than this is refused (the server is asked for one more, so that it can tell).
    public var maxEntries: Int
    /// Entries per page of the paged results control (RFC 2696).
    public var pageSize: Int
    /// The largest LDAP message accepted: one entry with all its values.
    public var maxMessageBytes: Int
    /// The most bytes of attribute values kept over all entries.
    public var maxTotalBytes: Int

    public init(
        url: String, plain: Bool = false, caFile: String? = nil, bindDN: String? = nil, password: [UInt8] = [],
        base: String, filter: String, attributes: [String], timeout: Double = 30, maxEntries: Int = 10_000,
        pageSize: Int = 200, maxMessageBytes: Int = 1 << 20, maxTotalBytes: Int = 64 << 20
    ) {
        self.url = url
        self.plain = plain
        self.caFile = caFile
        self.bindDN = bindDN
        self.password = password
        self.base = base
        self.filter = filter
        self.attributes = attributes
        self.timeout = timeout
        self.maxEntries = maxEntries
        self.pageSize = pageSize
        self.maxMessageBytes = maxMessageBytes
        self.maxTotalBytes = maxTotalBytes
    }
}

/// One entry of a search: its DN and the values of the wanted attributes (keys lowercased).
public struct LDAPEntry: Hashable, Sendable {
    public var dn: String
    public var attributes: [String: [String]]

    public init(dn: String, attributes: [String: [String]]) {
        self.dn = dn
        self.attributes = attributes
    }

    /// The values of an attribute, by name in any case.
    public func values(_ name: String) -> [String] { attributes[name.lowercased()] ?? [] }
}

/// Why a directory could not be read, with a stable kind and a message for the operator.
public struct LDAPReadError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        case unreachable, tls, credentials, noSuchBase = "no_such_base", badFilter = "bad_filter", timeout
        case tooManyEntries = "too_many_entries", tooLarge = "too_large", refused, failed
    }
    public var kind: Kind
    public var message: String
    public var description: String { "\(message) (\(kind.rawValue))" }

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
}

/// Reads a directory with the OpenLDAP client library (libldap). Every call blocks its thread until the
/// directory answered or the query's deadline passed: call it off the cooperative pool and off any actor.
public enum LDAPReader {
    public static func read(_ query: LDAPQuery) -> Result<[LDAPEntry], LDAPReadError> {
        let deadline = Date().addingTimeInterval(query.timeout)
        let connection: LDAPHandle
        switch LDAPHandle.open(query) {
        case .success(let c): connection = c
        case .failure(let e): return .failure(e)
        }
        if let e = connection.secureAndBind(query, deadline: deadline) { return .failure(e) }
        return connection.search(query, deadline: deadline)
    }
}

/// The one owner of an `LDAP *`, unbound (and freed) in deinit.
final class LDAPHandle {
    let ld: OpaquePointer

    private init(_ ld: OpaquePointer) { self.ld = ld }
    deinit { ldap_unbind_ext(ld, nil, nil) }

    static func open(_ query: LDAPQuery) -> Result<LDAPHandle, LDAPReadError> {
        let lower = query.url.lowercased()
        guard lower.hasPrefix("ldap://") || lower.hasPrefix("ldaps://") else {
            return .failure(LDAPReadError(.refused, "the URL must be ldaps:// or ldap://"))
        }
        var raw: OpaquePointer?
        let rc = ldap_initialize(&raw, query.url)
        guard rc == LDAP_SUCCESS, let raw else {
            return .failure(LDAPReadError(.refused, "cannot use the URL \(query.url): \(describe(rc))"))
        }
        let handle = LDAPHandle(raw)
        // Version 3 (libldap defaults to 2, and StartTLS then fails: docs/TECH-NOTES.md 28), no referrals
        // chased to other servers, a deadline on connecting, the largest message bounded.
        var failed: [String] = []
        if itv_ldap_set_int(raw, LDAP_OPT_PROTOCOL_VERSION, LDAP_VERSION3) != LDAP_OPT_SUCCESS {
            failed.append("protocol version")
        }
        if itv_ldap_set_bool(raw, LDAP_OPT_REFERRALS, 0) != LDAP_OPT_SUCCESS { failed.append("referrals") }
        let connect = max(1, min(query.timeout, 30))
        if itv_ldap_set_timeout(raw, LDAP_OPT_NETWORK_TIMEOUT, Int(connect), 0) != LDAP_OPT_SUCCESS {
            failed.append("network timeout")
        }
        if itv_ldap_set_max_incoming(raw, ber_len_t(query.maxMessageBytes)) != 0 { failed.append("message bound") }
        if !query.plain {
            if let ca = query.caFile, itv_ldap_set_string(raw, LDAP_OPT_X_TLS_CACERTFILE, ca) != LDAP_OPT_SUCCESS {
                failed.append("CA file")
            }
            if itv_ldap_set_int(raw, LDAP_OPT_X_TLS_REQUIRE_CERT, LDAP_OPT_X_TLS_DEMAND) != LDAP_OPT_SUCCESS {
                failed.append("certificate check")
            }
            // TLS options on a handle take effect only with a new context (docs/TECH-NOTES.md 28).
            if itv_ldap_set_int(raw, LDAP_OPT_X_TLS_NEWCTX, 0) != LDAP_OPT_SUCCESS {
                failed.append("TLS context (is the CA file readable PEM?)")
            }
        }
        guard failed.isEmpty else {
            return .failure(LDAPReadError(.refused, "cannot set up the client: \(failed.joined(separator: ", "))"))
        }
        return .success(handle)
    }

    /// StartTLS (for ldap:// unless plain), then a simple bind.
    func secureAndBind(_ query: LDAPQuery, deadline: Date) -> LDAPReadError? {
        if !query.plain && query.url.lowercased().hasPrefix("ldap://") {
            setTimeout(deadline)
            let rc = ldap_start_tls_s(ld, nil, nil)
            if rc != LDAP_SUCCESS { return error(rc, during: "StartTLS") }
        }
        setTimeout(deadline)
        var credentials = berval()
        let rc: Int32 = query.password.withUnsafeBufferPointer { buffer in
            credentials.bv_len = ber_len_t(buffer.count)
            credentials.bv_val = UnsafeMutablePointer(
                mutating: UnsafeRawPointer(buffer.baseAddress)?.assumingMemoryBound(to: CChar.self))
            return ldap_sasl_bind_s(ld, query.bindDN, nil, &credentials, nil, nil, nil)
        }
        if rc != LDAP_SUCCESS { return error(rc, during: "bind as \(query.bindDN ?? "anonymous")") }
        return nil
    }

    /// Every entry under the base that matches the filter, page by page.
    func search(_ query: LDAPQuery, deadline: Date) -> Result<[LDAPEntry], LDAPReadError> {
        var entries: [LDAPEntry] = []
        var totalBytes = 0
        var cookie: [UInt8] = []
        let wanted = query.attributes.map { $0.lowercased() }
        repeat {
            let remaining = deadline.timeIntervalSinceNow
            guard remaining > 0 else { return .failure(timeoutError(query)) }
            var pageControl: UnsafeMutablePointer<LDAPControl>?
            let size = ber_int_t(query.pageSize)
            let made: Int32 = cookie.withUnsafeMutableBufferPointer { buffer in
                guard let start = buffer.baseAddress, !buffer.isEmpty else {
                    return ldap_create_page_control(ld, size, nil, 0, &pageControl)
                }
                var value = berval(
                    bv_len: ber_len_t(buffer.count),
                    bv_val: UnsafeMutableRawPointer(start).assumingMemoryBound(to: CChar.self))
                return ldap_create_page_control(ld, size, &value, 0, &pageControl)
            }
            guard made == LDAP_SUCCESS, let pageControl else { return .failure(error(made, during: "paging")) }
            defer { ldap_control_free(pageControl) }
            var timeout = timeval(tv_sec: Int(remaining.rounded(.up)), tv_usec: 0)
            var result: OpaquePointer?
            defer { if let result { ldap_msgfree(result) } }
            let rc: Int32 = withCStrings(query.attributes) { attrs in
                var controls: [UnsafeMutablePointer<LDAPControl>?] = [pageControl, nil]
                return controls.withUnsafeMutableBufferPointer { c in
                    ldap_search_ext_s(
                        ld, query.base, LDAP_SCOPE_SUBTREE, query.filter, attrs, 0, c.baseAddress, nil, &timeout,
                        Int32(clamping: query.maxEntries + 1), &result)
                }
            }
            // liblber refuses a message over maxMessageBytes with ERANGE, and libldap then drops the
            // connection and says only "Can't contact LDAP server".
            let cause = errno
            if rc == LDAP_SIZELIMIT_EXCEEDED { return .failure(tooMany(query)) }
            if rc == LDAP_SERVER_DOWN && cause == ERANGE {
                return .failure(
                    LDAPReadError(
                        .tooLarge,
                        "the directory sent an entry larger than \(query.maxMessageBytes >> 20) MiB (a huge "
                            + "attribute value); the read is refused"))
            }
            if rc != LDAP_SUCCESS { return .failure(error(rc, during: "search", query: query)) }
            var entry = ldap_first_entry(ld, result)
            while let e = entry {
                guard entries.count < query.maxEntries else { return .failure(tooMany(query)) }
                var dn = ""
                if let p = ldap_get_dn(ld, e) {
                    dn = String(cString: p)
                    ldap_memfree(p)
                }
                totalBytes += dn.utf8.count
                var attributes: [String: [String]] = [:]
                for name in wanted {
                    guard let values = ldap_get_values_len(ld, e, name) else { continue }
                    defer { ldap_value_free_len(values) }
                    var list: [String] = []
                    var i = 0
                    while let v = values[i] {
                        let count = Int(v.pointee.bv_len)
                        totalBytes += count
                        let bytes = UnsafeRawBufferPointer(start: v.pointee.bv_val, count: count)
                        list.append(String(decoding: bytes, as: UTF8.self))
                        i += 1
                    }
                    attributes[name] = list
                }
                guard totalBytes <= query.maxTotalBytes else {
                    return .failure(
                        LDAPReadError(
                            .tooLarge,
                            "the entries hold more than \(query.maxTotalBytes >> 20) MiB of values; "
                                + "narrow the filter or the base"))
                }
                entries.append(LDAPEntry(dn: dn, attributes: attributes))
                entry = ldap_next_entry(ld, e)
            }
            cookie = nextCookie(result)
        } while !cookie.isEmpty
        return .success(entries)
    }

    /// The paged results cookie of a search result: empty when the last page was read (or the server
    /// does not page, and so sent everything at once).
    private func nextCookie(_ result: OpaquePointer?) -> [UInt8] {
        var code: Int32 = 0
        var controls: UnsafeMutablePointer<UnsafeMutablePointer<LDAPControl>?>?
        // ldap_parse_result finds the search result (the last message of the chain) itself.
        guard let result, ldap_parse_result(ld, result, &code, nil, nil, nil, &controls, 0) == LDAP_SUCCESS else {
            return []
        }
        defer { if let controls { ldap_controls_free(controls) } }
        guard let controls, let found = ldap_control_find(itv_ldap_paged_results_oid(), controls, nil) else {
            return []
        }
        var count: ber_int_t = 0
        var value = berval()
        guard ldap_parse_pageresponse_control(ld, found, &count, &value) == LDAP_SUCCESS else { return [] }
        defer { ber_memfree(value.bv_val) }
        guard let p = value.bv_val, value.bv_len > 0 else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: Int(value.bv_len)))
    }

    private func setTimeout(_ deadline: Date) {
        let remaining = max(1, deadline.timeIntervalSinceNow.rounded(.up))
        _ = itv_ldap_set_timeout(ld, LDAP_OPT_TIMEOUT, Int(remaining), 0)
    }

    private func timeoutError(_ query: LDAPQuery) -> LDAPReadError {
        LDAPReadError(.timeout, "the directory did not answer within \(Int(query.timeout)) s")
    }

    private func tooMany(_ query: LDAPQuery) -> LDAPReadError {
        LDAPReadError(
            .tooManyEntries,
            "the search matches more than \(query.maxEntries) entries (max_entries); narrow the filter or the base, "
                + "or raise max_entries")
    }

    /// An error of libldap, in words, with the server's or the library's own diagnostic.
    func error(_ rc: Int32, during what: String, query: LDAPQuery? = nil) -> LDAPReadError {
        var detail = LDAPHandle.describe(rc)
        if let p = itv_ldap_diagnostic(ld) {
            let text = String(cString: p)
            ldap_memfree(p)
            if !text.isEmpty { detail += ": \(text)" }
        }
        let kind: LDAPReadError.Kind
        var message: String
        switch rc {
        case LDAP_SERVER_DOWN:
            kind = .unreachable
            message = "cannot reach the directory (\(detail))"
        case LDAP_CONNECT_ERROR:
            kind = .tls
            message = "\(what) failed (\(detail)); check ca_file and that the certificate names the host of the url"
        case LDAP_INVALID_CREDENTIALS:
            kind = .credentials
            message = "\(what) refused: wrong bind_dn or password (\(detail))"
        case LDAP_INAPPROPRIATE_AUTH, LDAP_INSUFFICIENT_ACCESS, LDAP_CONFIDENTIALITY_REQUIRED,
            LDAP_STRONG_AUTH_REQUIRED:
            kind = .credentials
            message = "\(what) refused by the directory (\(detail))"
        case LDAP_NO_SUCH_OBJECT:
            kind = .noSuchBase
            message = "the base \(query?.base ?? "") does not exist in the directory (\(detail))"
        case LDAP_FILTER_ERROR:
            kind = .badFilter
            message = "the filter \(query?.filter ?? "") is not an LDAP filter (\(detail))"
        case LDAP_TIMEOUT, LDAP_TIMELIMIT_EXCEEDED:
            kind = .timeout
            message = "\(what): the directory did not answer in time (\(detail))"
        case LDAP_SIZELIMIT_EXCEEDED, LDAP_ADMINLIMIT_EXCEEDED:
            kind = .tooManyEntries
            message = "\(what): the directory's own size limit stopped the answer (\(detail))"
        case LDAP_DECODING_ERROR, LDAP_NO_MEMORY:
            kind = .tooLarge
            message = "\(what): the directory sent a message that could not be read or was too large (\(detail))"
        default:
            kind = .failed
            message = "\(what) failed (\(detail))"
        }
        return LDAPReadError(kind, message)
    }

    static func describe(_ rc: Int32) -> String {
        guard let p = ldap_err2string(rc) else { return "error \(rc)" }
        return "\(String(cString: p)), \(rc)"
    }
}

/// A NULL-terminated `char *[]` of the strings, for the length of the call.
private func withCStrings<R>(_ strings: [String], _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> R)
    -> R
{
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { for p in pointers { free(p) } }
    return pointers.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}
