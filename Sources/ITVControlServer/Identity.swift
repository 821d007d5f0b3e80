import CITVShim
import ITVCore
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

/// The `operators:` and `readers:` of one tenant in the inventory.
public struct TenantGrant: Hashable, Sendable {
    public var tenant: String
    public var operatorGroups: [String]
    public var readerGroups: [String]

    public init(tenant: String, operatorGroups: [String], readerGroups: [String]) {
        self.tenant = tenant
        self.operatorGroups = operatorGroups
        self.readerGroups = readerGroups
    }
}

/// Who may read and who may change: `readers:` and `operators:` of itvd.yaml (every tenant), and those of
/// each tenant in the inventory (that tenant's hosts only). Root may always change.
public struct AuthorizationPolicy: Hashable, Sendable {
    /// Unix groups whose members may change things.
    public var operatorGroups: [String]
    /// Unix groups whose members may read.
    public var readerGroups: [String]
    /// Tenants with groups of their own.
    public var tenants: [TenantGrant]

    public init(operatorGroups: [String], readerGroups: [String], tenants: [TenantGrant] = []) {
        self.operatorGroups = operatorGroups
        self.readerGroups = readerGroups
        self.tenants = tenants
    }

    /// The policy of a loaded set: `operators:`/`readers:` of itvd.yaml and of each tenant of the inventory.
    public init(_ config: DaemonConfig, inventory: Inventory) {
        self.init(operatorGroups: config.operators, readerGroups: config.readers, tenants: Self.grants(inventory))
    }

    /// The tenants that name groups of their own, sorted by id.
    public static func grants(_ inventory: Inventory) -> [TenantGrant] {
        inventory.tenants.values.filter { !$0.operators.isEmpty || !$0.readers.isEmpty }.sorted { $0.id < $1.id }
            .map { TenantGrant(tenant: $0.id, operatorGroups: $0.operators, readerGroups: $0.readers) }
    }

    /// Root or a global operator.
    func mayChange(_ peer: PeerIdentity) -> Bool {
        peer.uid == 0 || peer.groups.contains(where: operatorGroups.contains)
    }

    func mayReadAll(_ peer: PeerIdentity) -> Bool {
        mayChange(peer) || peer.groups.contains(where: readerGroups.contains)
    }

    /// Root, a global reader or operator, or a reader or operator of some tenant.
    func mayRead(_ peer: PeerIdentity) -> Bool {
        mayReadAll(peer) || !tenantAccess(peer).read.isEmpty
    }

    /// Root, a global operator or an operator of some tenant: counts as an operator for the connections kept
    /// for operators and the larger request bodies.
    func mayChangeSome(_ peer: PeerIdentity) -> Bool {
        mayChange(peer) || !tenantAccess(peer).operate.isEmpty
    }

    /// The tenants whose `operators:` (operate, read) and `readers:` (read) name one of the peer's groups.
    func tenantAccess(_ peer: PeerIdentity) -> (operate: Set<String>, read: Set<String>) {
        var operate = Set<String>()
        var read = Set<String>()
        for grant in tenants {
            if peer.groups.contains(where: grant.operatorGroups.contains) {
                operate.insert(grant.tenant)
                read.insert(grant.tenant)
            } else if peer.groups.contains(where: grant.readerGroups.contains) {
                read.insert(grant.tenant)
            }
        }
        return (operate, read)
    }

    func caller(_ peer: PeerIdentity) -> Caller {
        let global = mayChange(peer)
        let access = tenantAccess(peer)
        return Caller(
            user: peer.user, uid: peer.uid, gid: peer.gid, groups: peer.groups, mayChange: global,
            reads: mayReadAll(peer) ? .all : .only(access.read), operates: .only(access.operate))
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
