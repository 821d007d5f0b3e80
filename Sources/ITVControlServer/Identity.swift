import CITVShim
import ITVEngine

#if canImport(Glibc)
    import Glibc
#endif

/// A connected peer as the server sees it: the caller, and what it may do.
struct PeerIdentity: Sendable {
    var caller: Caller
    /// Root, an operator or a reader.
    var mayRead: Bool
}

/// Turns a peer's uid and gid into a `Caller` using the user and group databases (NSS), and decides what
/// it may do. The lookups may block (NSS can ask a directory service): run them on a thread pool.
struct IdentityResolver: Sendable {
    var operatorGroups: [String]
    var readerGroups: [String]

    func identify(uid: UInt32, gid: UInt32) -> PeerIdentity {
        let passwd = Self.passwd(uid: uid)
        let user = passwd?.name ?? "uid:\(uid)"
        var gids = [gid]
        if let passwd {
            gids.append(passwd.gid)
            gids.append(contentsOf: Self.groupList(user: passwd.name, primary: passwd.gid))
        }
        var names: [String] = []
        for g in gids {
            let name = Self.groupName(gid: g) ?? "gid:\(g)"
            if !names.contains(name) { names.append(name) }
        }
        let mayChange = uid == 0 || names.contains(where: operatorGroups.contains)
        let mayRead = mayChange || names.contains(where: readerGroups.contains)
        return PeerIdentity(
            caller: Caller(user: user, uid: uid, gid: gid, groups: names, mayChange: mayChange), mayRead: mayRead)
    }

    /// The id of the first reader group that exists (the socket's group), or nil.
    static func firstExistingGroup(_ names: [String]) -> gid_t? {
        for name in names {
            var group = group()
            var result: UnsafeMutablePointer<group>?
            var buffer = [CChar](repeating: 0, count: 16_384)
            if getgrnam_r(name, &group, &buffer, buffer.count, &result) == 0, result != nil { return group.gr_gid }
        }
        return nil
    }

    private static func passwd(uid: UInt32) -> (name: String, gid: UInt32)? {
        var entry = Glibc.passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name
        else { return nil }
        return (String(cString: name), entry.pw_gid)
    }

    private static func groupList(user: String, primary: UInt32) -> [UInt32] {
        var count: Int32 = 64
        for _ in 0..<4 {
            var groups = [gid_t](repeating: 0, count: Int(count))
            var n = count
            if itv_getgrouplist(user, primary, &groups, &n) >= 0 { return Array(groups.prefix(Int(n))) }
            count = max(n, count * 4)
        }
        return []
    }

    private static func groupName(gid: UInt32) -> String? {
        var entry = group()
        var result: UnsafeMutablePointer<group>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard getgrgid_r(gid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.gr_name
        else { return nil }
        return String(cString: name)
    }
}
