import CITVShim
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A connected peer as the server sees it: who it is, from its credentials and the user and group
/// databases. What it may do is decided per request by the `AuthorizationPolicy` in force then.
struct PeerIdentity: Sendable {
    /// The Unix user name (`uid:1234` when the uid has no passwd entry).
    var user: String
    var uid: UInt32
    var gid: UInt32
    /// Names of the primary and supplementary groups.
    var groups: [String]
}

/// Who may read and who may change: `readers:` and `operators:` of itvd.yaml. Root may always change.
public struct AuthorizationPolicy: Hashable, Sendable {
    /// Unix groups whose members may change things.
    public var operatorGroups: [String]
    /// Unix groups whose members may read.
    public var readerGroups: [String]

    public init(operatorGroups: [String], readerGroups: [String]) {
        self.operatorGroups = operatorGroups
        self.readerGroups = readerGroups
    }

    func mayChange(_ peer: PeerIdentity) -> Bool {
        peer.uid == 0 || peer.groups.contains(where: operatorGroups.contains)
    }

    func mayRead(_ peer: PeerIdentity) -> Bool {
        mayChange(peer) || peer.groups.contains(where: readerGroups.contains)
    }

    func caller(_ peer: PeerIdentity) -> Caller {
        Caller(user: peer.user, uid: peer.uid, gid: peer.gid, groups: peer.groups, mayChange: mayChange(peer))
    }
}

/// The policy in force, replaced as a whole (a reload): every request is decided by one policy, the one
/// current when its head arrived.
final class Authorization: Sendable {
    private let policy: Mutex<AuthorizationPolicy>

    init(_ policy: AuthorizationPolicy) { self.policy = Mutex(policy) }

    var current: AuthorizationPolicy { policy.withLock { $0 } }

    /// Replaces the policy; returns the previous one.
    @discardableResult
    func replace(with new: AuthorizationPolicy) -> AuthorizationPolicy {
        policy.withLock { policy in
            let old = policy
            policy = new
            return old
        }
    }
}

/// Turns a peer's uid and gid into a `PeerIdentity` using the user and group databases (NSS). The lookups
/// may block (NSS can ask a directory service): run them on a thread pool.
enum IdentityResolver {
    static func identify(uid: UInt32, gid: UInt32) -> PeerIdentity {
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
        return PeerIdentity(user: user, uid: uid, gid: gid, groups: names)
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
