#ifndef ITV_CLDAP_SHIM_H
#define ITV_CLDAP_SHIM_H
#include <ldap.h>
#include <lber.h>
#include <sys/time.h>

/* LDAP_OPT_ON / LDAP_OPT_OFF are pointer macros Swift cannot use (docs/TECH-NOTES.md 28), and
   ldap_set_option takes untyped pointers: one typed wrapper per kind of value. */

static inline int itv_ldap_set_bool(LDAP *ld, int option, int on) {
    return ldap_set_option(ld, option, on ? LDAP_OPT_ON : LDAP_OPT_OFF);
}

static inline int itv_ldap_set_int(LDAP *ld, int option, int value) { return ldap_set_option(ld, option, &value); }

static inline int itv_ldap_set_string(LDAP *ld, int option, const char *value) {
    return ldap_set_option(ld, option, value);
}

static inline int itv_ldap_set_timeout(LDAP *ld, int option, long seconds, long microseconds) {
    struct timeval tv = {seconds, microseconds};
    return ldap_set_option(ld, option, &tv);
}

/* The largest LDAP message (one search entry, one result) the client accepts: beyond it the
   connection fails instead of buffering whatever a hostile server sends. */
static inline int itv_ldap_set_max_incoming(LDAP *ld, ber_len_t bytes) {
    Sockbuf *sb = NULL;
    if (ldap_get_option(ld, LDAP_OPT_SOCKBUF, &sb) != LDAP_OPT_SUCCESS || sb == NULL) return -1;
    return ber_sockbuf_ctrl(sb, LBER_SB_OPT_SET_MAX_INCOMING, &bytes) == 1 ? 0 : -1;
}

/* The diagnostic message the server or libldap attached to the last error, or NULL. */
static inline char *itv_ldap_diagnostic(LDAP *ld) {
    char *message = NULL;
    if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &message) != LDAP_OPT_SUCCESS) return NULL;
    return message;
}

static inline const char *itv_ldap_paged_results_oid(void) { return LDAP_CONTROL_PAGEDRESULTS; }

#endif
