#ifndef ITV_CITVSHIM_H
#define ITV_CITVSHIM_H
// Swift 6.3's Glibc is imported without _GNU_SOURCE, so `struct ucred` is missing (docs/TECH-NOTES.md 19).
// This is its layout on Linux; SO_PEERCRED itself is an ordinary constant.
#include <sys/types.h>
#include <sys/socket.h>
#include <grp.h>

/// The peer credentials of a connected Unix socket, as `struct ucred`.
struct itv_ucred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
};

/// The SO_PEERCRED option name.
static inline int itv_so_peercred(void) { return SO_PEERCRED; }

/// Reads the peer credentials of a connected Unix socket; 0 on success, -1 with errno set otherwise.
static inline int itv_peer_credentials(int fd, struct itv_ucred *out) {
    socklen_t len = sizeof(*out);
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, &len);
}

/// getgrouplist, which Glibc declares only for _DEFAULT_SOURCE.
static inline int itv_getgrouplist(const char *user, gid_t group, gid_t *groups, int *count) {
    return getgrouplist(user, group, groups, count);
}
#endif
