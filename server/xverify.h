/* xverify.h - strict verification of signed result documents; the one function every caller
 * (public verify endpoint, results repository, once-only reuse) uses. It pins the exact signature
 * shape sign.c produces and refuses everything else with a stable reason. */
#ifndef MC_XVERIFY_H
#define MC_XVERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include "err.h"

#define XVERIFY_MAX_BYTES (1024 * 1024) /* documents over this are refused as malformed */
#define XVERIFY_MAX_DEPTH 16
#define XVERIFY_MAX_FIELDS 64           /* content <field>s copied into the report */
#define XVERIFY_TEXT_CAP 1024           /* every copied string, incl. NUL; longer -> malformed */
#define XVERIFY_NAME_CAP 128

/* Why a document was refused. Values and slugs never change; add at the end. */
typedef enum xverify_reason {
    XVERIFY_OK = 0,
    XVERIFY_MALFORMED,            /* "malformed": not well-formed, wrong root, bad shape, caps */
    XVERIFY_DTD_FORBIDDEN,        /* "dtd-forbidden": any DOCTYPE / entity declaration */
    XVERIFY_COMMENT_FORBIDDEN,    /* "comment-forbidden": comment or PI anywhere in the document */
    XVERIFY_NO_SIGNATURE,         /* "no-signature" */
    XVERIFY_MULTIPLE_SIGNATURES,  /* "multiple-signatures" */
    XVERIFY_WRAPPING_SUSPECTED,   /* "wrapping-suspected": Signature not a root child, or the
                                     signed element is not the root */
    XVERIFY_DUPLICATE_ID,         /* "duplicate-id": root Id value carried by another element */
    XVERIFY_ALGORITHM_NOT_ALLOWED,/* "algorithm-not-allowed": c14n/signature/digest off the list */
    XVERIFY_REFERENCE_NOT_PINNED, /* "reference-not-pinned": not exactly one Reference URI="#<Id>" */
    XVERIFY_TRANSFORM_NOT_ALLOWED,/* "transform-not-allowed": transforms other than
                                     enveloped-signature then exc-c14n */
    XVERIFY_KEYINFO_FORBIDDEN,    /* "keyinfo-forbidden": KeyInfo holds anything but one
                                     X509Data/X509Certificate */
    XVERIFY_UNTRUSTED_CERT,       /* "untrusted-certificate": chain does not end in a trust anchor */
    XVERIFY_CERT_EXPIRED,         /* "certificate-expired" (at signing time) */
    XVERIFY_CERT_NOT_YET_VALID,   /* "certificate-not-yet-valid" (at signing time) */
    XVERIFY_CERT_REVOKED,         /* "certificate-revoked": in a CRL or by the callback */
    XVERIFY_KEY_USAGE,            /* "key-usage": no digitalSignature+nonRepudiation, or a CA */
    XVERIFY_SIGNING_TIME,         /* "signing-time-invalid": missing, unparsable or in the future */
    XVERIFY_DIGEST_MISMATCH,      /* "digest-mismatch": signed content was altered */
    XVERIFY_SIGNATURE_INVALID,    /* "signature-invalid": SignatureValue does not verify */
    XVERIFY_SCHEMA_INVALID,       /* "schema-invalid": signed, but not a valid result document */
    XVERIFY__COUNT
} xverify_reason;

typedef struct xverify_trust xverify_trust;

/* Returns true if the certificate (SHA-256 of DER, lowercase hex) is revoked. Called from the
 * verifying thread; must be thread-safe if the trust object is shared. */
typedef bool (*xverify_revoked_fn)(const char *cert_sha256_hex, void *arg);

typedef struct xverify_field {
    char name[XVERIFY_NAME_CAP];
    char value[XVERIFY_TEXT_CAP];
} xverify_field;

/* Filled by xverify_result. On refusal only reason, slug and why are meaningful (plus the cert
 * fields if the certificate was already decoded). Every string is a NUL-terminated copy read from
 * the signed root element itself. */
typedef struct xverify_report {
    xverify_reason reason;
    const char *slug;                 /* static */
    char why[256];                    /* a sentence for a person */
    char cert_sha256[65];
    char cert_subject[512];           /* RFC 2253, UTF-8 */
    time_t signing_time;
    char signing_time_text[40];
    char root_id[XVERIFY_NAME_CAP];
    char result_id[XVERIFY_NAME_CAP];
    char result_type[XVERIFY_NAME_CAP];
    char procedure[XVERIFY_NAME_CAP];
    char dossier_code[XVERIFY_NAME_CAP];
    char issuer_agency_id[XVERIFY_NAME_CAP];
    char issuer_name[XVERIFY_TEXT_CAP];
    char holder_personal_id[16];      /* mask it before logging */
    char holder_full_name[XVERIFY_TEXT_CAP];
    char issued_at[40];
    char valid_until[16];             /* "" if absent */
    size_t field_count;
    xverify_field fields[XVERIFY_MAX_FIELDS];
} xverify_report;

/* Load the trust anchors (PEM bundle, one or more CA certificates) and optionally CRLs (PEM file
 * with one or more CRLs; each must be signed by a trust anchor) and the result XSD (compiled once).
 * crl_path and xsd_path may be NULL. On success *out is owned by the caller (xverify_trust_free).
 * On error *out is untouched and why says which file failed. Needs sign_global_init first.
 * Share it between threads: its only mutable part is a mutex-guarded cache of signer certificates
 * and the time windows in which their chains verified. */
mc_err xverify_trust_new(const char *ca_pem_path, const char *crl_path, const char *xsd_path,
                         xverify_trust **out, char *why, size_t whycap);
/* Optional revocation callback consulted after the CRLs (arg is borrowed). */
void xverify_trust_set_revoked_cb(xverify_trust *trust, xverify_revoked_fn fn, void *arg);
/* The trust's fingerprint: SHA-256 over the anchors, the CRLs' issuers and revoked entries, the result
 * XSD and the skew, i.e. everything a verdict depends on besides the document (a verdict reached under
 * one fingerprint holds under it). false when there is none: a revocation callback is set (its answers
 * change over time) or hashing failed. */
bool xverify_trust_fingerprint(const xverify_trust *trust, unsigned char out[32]);
/* Allowed clock skew for signing times in the future (default 300 s). */
void xverify_trust_set_skew(xverify_trust *trust, int seconds);
void xverify_trust_free(xverify_trust *trust);

/* Verify xml (len bytes, need not be NUL-terminated) strictly (rules: docs/signing.md). Returns
 * MC_OK, with rep->reason == XVERIFY_OK, only when every rule holds. A refused document gives
 * MC_ERR_XML_MALFORMED (malformed), MC_ERR_XML_FORBIDDEN (dtd/comment), MC_ERR_XSD_INVALID
 * (schema-invalid) or MC_ERR_BAD_REQUEST (every signature/certificate reason), with rep->reason,
 * slug and why saying which rule; MC_ERR_INTERNAL if trust is NULL. rep is always fully
 * overwritten; on refusal its copied result fields are zeroed. The caller owns nothing new. */
mc_err xverify_result(const xverify_trust *trust, const char *xml, size_t len, xverify_report *rep);

/* Stable slug ("digest-mismatch", ...) for a reason; "unknown" for values out of range. */
const char *xverify_reason_slug(xverify_reason r);

#endif
