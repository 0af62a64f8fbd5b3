/* err.h - the one project-wide error enum.
 * Values never change once released; 0 is success. err.c maps each value once
 * to an HTTP status, a stable problem+json type URI and a title. */
#ifndef MC_ERR_H
#define MC_ERR_H

typedef enum mc_err {
    MC_OK = 0,
    MC_ERR_NOMEM = 1,
    MC_ERR_INTERNAL = 2,
    MC_ERR_BAD_REQUEST = 3,        /* malformed request line/headers/JSON */
    MC_ERR_UNAUTHORIZED = 4,       /* missing or invalid API key */
    MC_ERR_FORBIDDEN = 5,          /* key valid, role not allowed */
    MC_ERR_NOT_FOUND = 6,
    MC_ERR_METHOD = 7,             /* method not allowed on route */
    MC_ERR_TOO_LARGE = 8,          /* body over cap */
    MC_ERR_MEDIA_TYPE = 9,         /* wrong Content-Type */
    MC_ERR_XML_MALFORMED = 10,     /* not well-formed, bad encoding, empty */
    MC_ERR_XML_FORBIDDEN = 11,     /* DOCTYPE, entities, XInclude, PIs we refuse */
    MC_ERR_XML_LIMIT = 12,         /* depth / attribute / text / count caps */
    MC_ERR_XSD_INVALID = 13,       /* fails the procedure's XSD */
    MC_ERR_UNKNOWN_PROCEDURE = 14,
    MC_ERR_PID_INVALID = 15,       /* personal ID inconsistent with declared data */
    MC_ERR_IDEMPOTENCY_CONFLICT = 16, /* same key, different body */
    MC_ERR_RATE_LIMITED = 17,
    MC_ERR_DB_UNAVAILABLE = 18,    /* database down or pool saturated */
    MC_ERR_CONFIG = 19,            /* bad configuration value */
    MC_ERR_CONFLICT = 20,          /* state conflict */
    MC_ERR_PRECONDITION_FAILED = 21,
    MC_ERR_PRECONDITION_REQUIRED = 22,
    MC_ERR_DB_RETRY = 23,          /* deadlock / lock wait: transaction may be retried */
    MC_ERR_BUSY = 24,              /* queue full */
    MC_ERR_SCHEMA_TOO_NEW = 25,    /* database schema newer than this binary */
    MC_ERR_IO = 26,
    MC_ERR_UNKNOWN_UNIT = 27,      /* ward / receiving unit not in units.json */
    MC_ERR_COMPONENTS = 28,        /* components do not fit the procedure */
    MC_ERR_RESULTS_UNAVAILABLE = 29, /* signing keys / trust anchors not configured */
    MC_ERR_INVALID_FIELD = 30,     /* a required request field is missing or invalid */
    MC_ERR_UPSTREAM_UNAVAILABLE = 31, /* a remote system (population database) did not answer */
    MC_ERR_CONSENT_REQUIRED = 32,  /* personal data asked for without the citizen's consent */
    MC_ERR__COUNT
} mc_err;

/* HTTP status for err (500 for unknown values). */
int mc_err_status(mc_err err);
/* Stable problem type URI, e.g. "https://motcua.example/problems/xsd-invalid". */
const char *mc_err_type(mc_err err);
/* Short human title, e.g. "Dossier does not match the procedure schema". */
const char *mc_err_title(mc_err err);
/* Symbolic name, e.g. "MC_ERR_XSD_INVALID" (logs and tests). */
const char *mc_err_name(mc_err err);

#include <stddef.h>
/* The reason for a refusal, printf-style, into why[cap] (cut to fit); nothing when why is NULL or cap
 * 0. The parsers and loaders (catalog, dossier XML, calendar) all say why the same way. */
void mc_why(char *why, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "msg: detail", or msg alone when detail is NULL (signing and verification name the file or object). */
void mc_why_detail(char *why, size_t cap, const char *msg, const char *detail);

#endif
