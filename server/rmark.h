/* rmark.h - verification marks: the strict verifier's verdict on a signed result's bytes, kept by the
 * SHA-256 of those bytes and sealed with HMAC-SHA256 under the server's mark key, so that a result
 * verified once (at issuance, or by `motcua-admin result mark`) is not verified in full again at every
 * reuse after a restart (docs/reuse.md, "Verification marks"). A mark binds the bytes' hash, the epoch
 * (trust fingerprint and key) they verified in and the facts reuse reads from them; anyone without the key can
 * neither write one nor move one to other bytes or other facts. Pure except rmark_key_load. */
#ifndef MC_RMARK_H
#define MC_RMARK_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define RMARK_KEY_MIN 32
#define RMARK_KEY_MAX 64

/* What a verified document says that reuse needs (every string NUL-terminated, "" when absent). */
typedef struct rmark {
    unsigned char sha[32];        /* SHA-256 of the signed bytes */
    unsigned char trust[32];      /* the epoch they verified in: trust fingerprint and key (results_api) */
    char result_id[65];
    char result_type[33];
    char holder[13];
    char valid_until[11];         /* YYYY-MM-DD */
    char deceased[13];            /* content field deceased.personalId */
} rmark;

typedef struct rmark_key {
    unsigned char k[RMARK_KEY_MAX];
    size_t len;
} rmark_key;

struct xverify_report;

/* The mark of a document the strict verifier accepted (rep): sha of its bytes, trust the epoch it
 * verified in (NULL: zeros, for marks kept only in memory), the facts copied from rep. */
void rmark_from_report(rmark *m, const unsigned char sha[32], const unsigned char trust[32],
                       const struct xverify_report *rep);

/* Read the key file at path: RMARK_KEY_MIN..RMARK_KEY_MAX raw bytes, not readable or writable by group
 * or others. MC_ERR_NOT_FOUND when the file does not exist (marks are then off), MC_ERR_CONFIG with
 * why for any other problem. */
mc_err rmark_key_load(const char *path, rmark_key *key, char *why, size_t whycap);

/* mac = HMAC-SHA256(key, every field of m, length-prefixed). false only if OpenSSL fails. */
bool rmark_seal(const rmark_key *key, const rmark *m, unsigned char mac[32]);

/* Whether mac is the seal of m under key (constant-time compare). */
bool rmark_authentic(const rmark_key *key, const rmark *m, const unsigned char mac[32]);

#endif
