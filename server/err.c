/* err.c - the one table from mc_err to HTTP status, problem type and title. */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>

#define T(slug) "https://motcua.danang.gov.vn/problems/" slug

static const struct {
    int status;
    const char *type;
    const char *title;
    const char *name;
} err_table[MC_ERR__COUNT] = {
    [MC_OK] = {200, T("ok"), "OK", "MC_OK"},
    [MC_ERR_NOMEM] = {503, T("out-of-memory"), "Server out of memory", "MC_ERR_NOMEM"},
    [MC_ERR_INTERNAL] = {500, T("internal"), "Internal error", "MC_ERR_INTERNAL"},
    [MC_ERR_BAD_REQUEST] = {400, T("bad-request"), "Malformed request", "MC_ERR_BAD_REQUEST"},
    [MC_ERR_UNAUTHORIZED] = {401, T("unauthorized"), "Missing or invalid API key", "MC_ERR_UNAUTHORIZED"},
    [MC_ERR_FORBIDDEN] = {403, T("forbidden"), "Role not allowed on this route", "MC_ERR_FORBIDDEN"},
    [MC_ERR_NOT_FOUND] = {404, T("not-found"), "Not found", "MC_ERR_NOT_FOUND"},
    [MC_ERR_METHOD] = {405, T("method-not-allowed"), "Method not allowed", "MC_ERR_METHOD"},
    [MC_ERR_TOO_LARGE] = {413, T("too-large"), "Request body too large", "MC_ERR_TOO_LARGE"},
    [MC_ERR_MEDIA_TYPE] = {415, T("unsupported-media-type"), "Unsupported media type", "MC_ERR_MEDIA_TYPE"},
    [MC_ERR_XML_MALFORMED] = {400, T("xml-malformed"), "XML is not well-formed", "MC_ERR_XML_MALFORMED"},
    [MC_ERR_XML_FORBIDDEN] = {400, T("xml-forbidden"), "XML uses a forbidden construct", "MC_ERR_XML_FORBIDDEN"},
    [MC_ERR_XML_LIMIT] = {413, T("xml-limit"), "XML exceeds a size limit", "MC_ERR_XML_LIMIT"},
    [MC_ERR_XSD_INVALID] = {422, T("xsd-invalid"), "Dossier does not match the procedure schema", "MC_ERR_XSD_INVALID"},
    [MC_ERR_UNKNOWN_PROCEDURE] = {422, T("unknown-procedure"), "Unknown procedure code", "MC_ERR_UNKNOWN_PROCEDURE"},
    [MC_ERR_PID_INVALID] = {422, T("personal-id-inconsistent"), "Personal ID does not agree with the declared data", "MC_ERR_PID_INVALID"},
    [MC_ERR_IDEMPOTENCY_CONFLICT] = {409, T("idempotency-conflict"), "Idempotency-Key reused with a different body", "MC_ERR_IDEMPOTENCY_CONFLICT"},
    [MC_ERR_RATE_LIMITED] = {429, T("rate-limited"), "Too many requests", "MC_ERR_RATE_LIMITED"},
    [MC_ERR_DB_UNAVAILABLE] = {503, T("database-unavailable"), "Database unavailable", "MC_ERR_DB_UNAVAILABLE"},
    [MC_ERR_CONFIG] = {500, T("config"), "Configuration error", "MC_ERR_CONFIG"},
    [MC_ERR_CONFLICT] = {409, T("conflict"), "Conflict with the current state", "MC_ERR_CONFLICT"},
    [MC_ERR_PRECONDITION_FAILED] = {412, T("precondition-failed"), "Precondition failed", "MC_ERR_PRECONDITION_FAILED"},
    [MC_ERR_PRECONDITION_REQUIRED] = {428, T("precondition-required"), "If-Match required", "MC_ERR_PRECONDITION_REQUIRED"},
    [MC_ERR_DB_RETRY] = {503, T("database-busy"), "Database busy, retry", "MC_ERR_DB_RETRY"},
    [MC_ERR_BUSY] = {503, T("overloaded"), "Server overloaded, retry later", "MC_ERR_BUSY"},
    [MC_ERR_SCHEMA_TOO_NEW] = {500, T("schema-too-new"), "Database schema newer than this server", "MC_ERR_SCHEMA_TOO_NEW"},
    [MC_ERR_UNKNOWN_UNIT] = {422, T("unknown-unit"), "Unknown receiving unit (ward)", "MC_ERR_UNKNOWN_UNIT"},
    [MC_ERR_COMPONENTS] = {422, T("components-invalid"), "Document components do not fit the procedure", "MC_ERR_COMPONENTS"},
    [MC_ERR_IO] = {500, T("io"), "I/O error", "MC_ERR_IO"},
    [MC_ERR_RESULTS_UNAVAILABLE] = {503, T("results-unavailable"), "Signed results are not available on this server", "MC_ERR_RESULTS_UNAVAILABLE"},
    [MC_ERR_INVALID_FIELD] = {422, T("invalid-field"), "A required field is missing or invalid", "MC_ERR_INVALID_FIELD"},
    [MC_ERR_UPSTREAM_UNAVAILABLE] = {503, T("upstream-unavailable"), "A remote system is not answering", "MC_ERR_UPSTREAM_UNAVAILABLE"},
    [MC_ERR_CONSENT_REQUIRED] = {403, T("consent-required"), "The citizen's consent is required", "MC_ERR_CONSENT_REQUIRED"},
};

static int valid(mc_err err) { return (unsigned)err < MC_ERR__COUNT && err_table[err].type; }

int mc_err_status(mc_err err) { return valid(err) ? err_table[err].status : 500; }

const char *mc_err_type(mc_err err) { return valid(err) ? err_table[err].type : T("internal"); }

const char *mc_err_title(mc_err err) { return valid(err) ? err_table[err].title : "Internal error"; }
const char *mc_err_name(mc_err err) { return valid(err) ? err_table[err].name : "MC_ERR_UNKNOWN"; }

void mc_why(char *why, size_t cap, const char *fmt, ...)
{
    if (!why || cap == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, cap, fmt, ap);
    va_end(ap);
}

void mc_why_detail(char *why, size_t cap, const char *msg, const char *detail)
{
    mc_why(why, cap, "%s%s%s", msg, detail ? ": " : "", detail ? detail : "");
}
