/* sign.h - XML-DSig signing of result documents (urn:motcua:result:1) with a ward's key.
 * xmlsec1 (OpenSSL backend): RSA-SHA256 or ECDSA-P256-SHA256, exclusive C14N, one enveloped
 * Reference to "#<root Id>", SHA-256, the signer certificate in KeyInfo/X509Data. */
#ifndef MC_SIGN_H
#define MC_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <libxml/tree.h>
#include "err.h"

/* Namespace of the result document and its root element name. */
#define SIGN_RESULT_NS "urn:motcua:result:1"
#define SIGN_RESULT_ROOT "result"

/* Caps on what sign_result accepts (bytes, UTF-8). */
#define SIGN_MAX_FIELDS 64
#define SIGN_MAX_TEXT 1024

typedef struct sign_ctx sign_ctx;

typedef enum sign_key_type { SIGN_KEY_RSA = 1, SIGN_KEY_EC_P256 = 2 } sign_key_type;

/* One <field name="...">value</field> of the result's content. */
typedef struct sign_field {
    const char *name;
    const char *value;
} sign_field;

/* What a result says. All strings UTF-8, borrowed for the duration of the call. */
typedef struct sign_result_fields {
    const char *result_id;          /* [A-Za-z0-9._-]{1,64}; the root Id becomes "R-" + result_id */
    const char *result_type;        /* e.g. "KQ.G15.000031" */
    const char *procedure;          /* e.g. "1.001193" */
    const char *dossier_code;
    const char *issuer_agency_id;   /* e.g. ward code "20242" */
    const char *issuer_name;
    const char *holder_personal_id; /* exactly 12 digits */
    const char *holder_full_name;
    const sign_field *content;      /* content_count fields, may be 0 */
    size_t content_count;
    time_t issued_at;
    const char *valid_until;        /* "YYYY-MM-DD" or NULL */
} sign_result_fields;

/* Process-wide init of libxml2, xmlsec and its OpenSSL backend, in the order of xmlsec's examples.
 * Call once from the main thread before any sign_ or xverify_ function and before starting
 * threads. Silences xmlsec's stderr error output (callers get reasons instead). */
mc_err sign_global_init(void);
/* Reverse of sign_global_init; call once after every sign_ctx and xverify_trust is freed. */
void sign_global_shutdown(void);

/* Load the PEM private key and certificate once. The key must be RSA >= 2048 bits or EC P-256, must
 * match the certificate, and the certificate must allow digitalSignature and nonRepudiation.
 * On success *out is owned by the caller (sign_ctx_free). On error *out is untouched and why holds a
 * reason (never key material). A sign_ctx is used by one thread at a time. */
mc_err sign_ctx_new(const char *key_path, const char *cert_path, sign_ctx **out, char *why,
                    size_t whycap);
/* A second context with private copies of ctx's key and certificate (threads sharing one RSA object
 * contend on its blinding lock), for another worker thread: a pool holds one sign_ctx per worker,
 * made with sign_ctx_dup at start-up. Same ownership rules as sign_ctx_new. */
mc_err sign_ctx_dup(const sign_ctx *ctx, sign_ctx **out, char *why, size_t whycap);
void sign_ctx_free(sign_ctx *ctx);
sign_key_type sign_ctx_key_type(const sign_ctx *ctx);
/* SHA-256 of the signer certificate (DER) as 64 lowercase hex chars; owned by ctx. */
const char *sign_ctx_cert_sha256(const sign_ctx *ctx);

/* Sign a result document in place: doc's root must be {urn:motcua:result:1}result with an Id
 * attribute and no ds:Signature and no signingTime yet. Appends <signingTime> (signing_time, +07:00)
 * and the enveloped ds:Signature, then serialises (UTF-8, no reformatting). On success *out (free())
 * holds *out_len bytes plus a NUL. On error *out is untouched and doc may hold a partial signature:
 * the caller frees it. */
mc_err sign_document(sign_ctx *ctx, xmlDocPtr doc, time_t signing_time, char **out,
                     size_t *out_len, char *why, size_t whycap);

/* Build the result XML from f and sign it (see sign_document). Bad field values give
 * MC_ERR_BAD_REQUEST with why naming the field. On error *out is untouched. */
mc_err sign_result(sign_ctx *ctx, const sign_result_fields *f, time_t signing_time, char **out,
                   size_t *out_len, char *why, size_t whycap);

/* Format t as xs:dateTime in Asia/Ho_Chi_Minh (fixed +07:00, no DST): "2025-01-31T08:00:00+07:00".
 * Needs cap >= 26; returns false if it does not fit. */
bool sign_format_time(time_t t, char *buf, size_t cap);

#endif
