#ifndef ITV_CLIBSSH2_SHIM_H
#define ITV_CLIBSSH2_SHIM_H
/* libssh2's convenience API is function-like macros, which Swift does not import (docs/TECH-NOTES.md 8):
 * each one used by ITVSSH gets a static inline wrapper here, with the `itv_` prefix. The digests
 * (SHA-256 fingerprints, HMAC-SHA1 of hashed known_hosts names) come from the libcrypto that
 * libssh2 itself links. */
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

static inline LIBSSH2_SESSION *itv_session_init(void) { return libssh2_session_init_ex(NULL, NULL, NULL, NULL); }

static inline int itv_session_disconnect(LIBSSH2_SESSION *s, const char *reason) {
    return libssh2_session_disconnect_ex(s, SSH_DISCONNECT_BY_APPLICATION, reason, "");
}

static inline LIBSSH2_CHANNEL *itv_channel_open_session(LIBSSH2_SESSION *s) {
    return libssh2_channel_open_ex(s, "session", sizeof("session") - 1, LIBSSH2_CHANNEL_WINDOW_DEFAULT,
                                   LIBSSH2_CHANNEL_PACKET_DEFAULT, NULL, 0);
}

static inline int itv_channel_exec(LIBSSH2_CHANNEL *c, const char *command) {
    return libssh2_channel_process_startup(c, "exec", sizeof("exec") - 1, command, (unsigned int)strlen(command));
}

static inline ssize_t itv_channel_read(LIBSSH2_CHANNEL *c, char *buf, size_t len) {
    return libssh2_channel_read_ex(c, 0, buf, len);
}

static inline ssize_t itv_channel_read_stderr(LIBSSH2_CHANNEL *c, char *buf, size_t len) {
    return libssh2_channel_read_ex(c, SSH_EXTENDED_DATA_STDERR, buf, len);
}

/* 1 when data of the stream is already queued inside libssh2 (so poll() on the socket would wait wrongly). */
static inline int itv_channel_queued(LIBSSH2_CHANNEL *c, int stderr_stream) {
    return libssh2_poll_channel_read(c, stderr_stream ? SSH_EXTENDED_DATA_STDERR : 0);
}

static inline int itv_userauth_publickey_fromfile(LIBSSH2_SESSION *s, const char *user, const char *privkey) {
    return libssh2_userauth_publickey_fromfile_ex(s, user, (unsigned int)strlen(user), NULL, privkey, NULL);
}

/* SFTP (docs/TECH-NOTES.md 22-25): open for writing, created or truncated, with `mode`. */
static inline LIBSSH2_SFTP_HANDLE *itv_sftp_open_write(LIBSSH2_SFTP *sftp, const char *path, long mode) {
    return libssh2_sftp_open_ex(sftp, path, (unsigned int)strlen(path),
                                LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, mode, LIBSSH2_SFTP_OPENFILE);
}

static inline int itv_sftp_close(LIBSSH2_SFTP_HANDLE *handle) { return libssh2_sftp_close_handle(handle); }

static inline int itv_error_sftp_protocol(void) { return LIBSSH2_ERROR_SFTP_PROTOCOL; }

static inline int itv_errno_eagain(void) { return LIBSSH2_ERROR_EAGAIN; }
static inline int itv_block_inbound(void) { return LIBSSH2_SESSION_BLOCK_INBOUND; }
static inline int itv_block_outbound(void) { return LIBSSH2_SESSION_BLOCK_OUTBOUND; }

/* typemask for libssh2_knownhost_check: plain host name, raw key, and the key type of a LIBSSH2_HOSTKEY_TYPE_*. */
static inline int itv_knownhost_typemask(int hostkey_type) {
    int key;
    switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: key = LIBSSH2_KNOWNHOST_KEY_SSHRSA; break;
    case LIBSSH2_HOSTKEY_TYPE_DSS: key = LIBSSH2_KNOWNHOST_KEY_SSHDSS; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: key = LIBSSH2_KNOWNHOST_KEY_ECDSA_256; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: key = LIBSSH2_KNOWNHOST_KEY_ECDSA_384; break;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: key = LIBSSH2_KNOWNHOST_KEY_ECDSA_521; break;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: key = LIBSSH2_KNOWNHOST_KEY_ED25519; break;
    default: key = LIBSSH2_KNOWNHOST_KEY_UNKNOWN; break;
    }
    return LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | key;
}

/* SHA-256 of `len` bytes into out[32]; 1 on success. */
static inline int itv_sha256(const void *data, size_t len, unsigned char *out) {
    unsigned int outlen = 0;
    return EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) == 1 && outlen == 32;
}

/* HMAC-SHA1 (hashed known_hosts names) into out[20]; 1 on success. */
static inline int itv_hmac_sha1(const void *key, size_t keylen, const void *data, size_t len, unsigned char *out) {
    unsigned int outlen = 0;
    return HMAC(EVP_sha1(), key, (int)keylen, data, len, out, &outlen) != NULL && outlen == 20;
}

#endif
