#ifndef ITV_CLIBCRYPTO_SHIM_H
#define ITV_CLIBCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* HMAC-SHA256 of data under key into out (32 bytes). Returns 1 on success. */
static inline int itv_hmac_sha256(const void *key, int key_len, const unsigned char *data, size_t data_len,
                                  unsigned char *out) {
    unsigned int len = 32;
    return HMAC(EVP_sha256(), key, key_len, data, data_len, out, &len) != NULL && len == 32;
}

/* A streaming SHA-256: new, update (any number of times), final (writes 32 bytes and frees the context). */
static inline EVP_MD_CTX *itv_sha256_new(void) {
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static inline int itv_sha256_update(EVP_MD_CTX *ctx, const void *data, size_t len) {
    return EVP_DigestUpdate(ctx, data, len);
}

static inline int itv_sha256_final(EVP_MD_CTX *ctx, unsigned char *out) {
    unsigned int len = 0;
    int ok = EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == 32;
    EVP_MD_CTX_free(ctx);
    return ok;
}

static inline void itv_sha256_free(EVP_MD_CTX *ctx) { EVP_MD_CTX_free(ctx); }

/* BLAKE2b-512 of data into out (64 bytes), as minisign prehashes. Returns 1 on success. */
static inline int itv_blake2b512(const unsigned char *data, size_t len, unsigned char *out) {
    unsigned int out_len = 0;
    return EVP_Digest(data, len, out, &out_len, EVP_blake2b512(), NULL) == 1 && out_len == 64;
}

/* Ed25519 verification (RFC 8032) of a 64-byte signature over msg with a 32-byte public key.
   Returns 1 when the signature is valid, 0 otherwise. */
static inline int itv_ed25519_verify(const unsigned char *public_key, const unsigned char *sig,
                                     const unsigned char *msg, size_t msg_len) {
    EVP_PKEY *key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, public_key, 32);
    if (key == NULL) return 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = 0;
    if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1) {
        ok = EVP_DigestVerify(ctx, sig, 64, msg, msg_len) == 1;
    }
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    return ok;
}
#endif
