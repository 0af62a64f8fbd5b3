/* attach_api.c - dossier attachments over HTTP. The body evhttp already read is hashed, type-checked by
 * its first bytes and bound as one BLOB parameter (no further copy), in one transaction with the
 * dossier's byte count (row lock) and the audit row. Scoping as for dossiers: 404, never 403. */
#include "attach_api.h"
#include "dossier_api.h"
#include "hex.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attachments.h"
#include "audit.h"
#include "workflow.h"
#include "dossiers.h"
#include "log.h"
#include "tfmt.h"
#include "utf8.h"

static const char *col(db_rows *r, size_t row, size_t c) { return db_rows_get(r, row, c, NULL); }

const char *attach_sniff(const void *buf, size_t len)
{
    static const unsigned char pdf[] = {'%', 'P', 'D', 'F', '-'};
    static const unsigned char jpeg[] = {0xFF, 0xD8, 0xFF};
    static const unsigned char png[] = {0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A};
    const unsigned char *b = buf;
    if (!b) return NULL;
    if (len >= sizeof(pdf) && memcmp(b, pdf, sizeof(pdf)) == 0) return "application/pdf";
    if (len >= sizeof(jpeg) && memcmp(b, jpeg, sizeof(jpeg)) == 0) return "image/jpeg";
    if (len >= sizeof(png) && memcmp(b, png, sizeof(png)) == 0) return "image/png";
    return NULL;
}

/* The stored type as one of our static strings (reply.ctype must be static). */
static const char *static_ctype(const char *stored)
{
    static const char *const known[] = {"application/pdf", "image/jpeg", "image/png"};
    for (size_t i = 0; stored && i < sizeof(known) / sizeof(known[0]); i++)
        if (strcmp(stored, known[i]) == 0) return known[i];
    return "application/octet-stream";
}

bool attach_name_ok(const char *name)
{
    const unsigned char *s = (const unsigned char *)name;
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > 255 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) return false;
    if (utf8_valid_prefix(s, n) != n) return false; /* overlong forms, surrogates, beyond U+10FFFF */
    for (size_t i = 0; i < n; i++) {
        if (s[i] < 0x20 || s[i] == 0x7F || s[i] == '/' || s[i] == '\\') return false;
        if (s[i] == 0xC2 && s[i + 1] >= 0x80 && s[i + 1] < 0xA0) return false; /* C1 controls */
    }
    return true;
}

/* RFC 5987 attr-char: what filename*= may carry unescaped. */
static bool attr_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$&+-.^_`|~", c));
}

_Static_assert(ATTACH_DISPOSITION_CAP <= sizeof(((reply *)0)->disposition), "reply.disposition too small");

void attach_disposition(const char *name, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strnlen(name, 255);
    char *p = out;
    if (cap < ATTACH_DISPOSITION_CAP) { /* the caller's buffer fits any 255-byte name, or gets nothing */
        if (cap) out[0] = '\0';
        return;
    }
    p += sprintf(p, "attachment; filename=\"");
    for (size_t i = 0; i < n; i++) { /* an ASCII fallback for old clients: one '_' per other character */
        unsigned char c = (unsigned char)name[i];
        if (c < 0x80 || c >= 0xC0) *p++ = attr_char(c) ? (char)c : '_';
    }
    p += sprintf(p, "\"; filename*=UTF-8''");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (attr_char(c)) {
            *p++ = (char)c;
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = '\0';
}

/* Load the dossier named by the first path segment; on failure j->out is set and NULL returned.
 * submitter_only: only the portal/national client that submitted it (uploads). */
static db_rows *load(http_job *j, db_conn *c, const char *code, bool submitter_only)
{
    db_rows *r = NULL;
    mc_err rc = dossiers_get(c, code, &r);
    if (rc) {
        reply_problem(&j->out, rc, j->path, "could not read the dossier", NULL);
        return NULL;
    }
    bool ok = db_rows_count(r) == 1 && !(submitter_only && j->client.role == ROLE_OFFICIAL) &&
              auth_sees_dossier(&j->client, col(r, 0, DC_WARD), col(r, 0, DC_CLIENT));
    if (!ok) {
        db_rows_free(r);
        reply_problem(&j->out, MC_ERR_NOT_FOUND, j->path, "no dossier with this code is visible to this client", NULL);
        return NULL;
    }
    snprintf(j->out.dossier_code, sizeof(j->out.dossier_code), "%s", code);
    return r;
}

/* "/v1/dossiers/<code>/attachments/<id>": http.c matched the shape and checked both segments. */
static bool parse_item_path(const char *path, char *code, size_t cap, uint64_t *id)
{
    static const char pre[] = "/v1/dossiers/", mid[] = "/attachments/";
    if (strncmp(path, pre, sizeof(pre) - 1) != 0) return false;
    const char *s = path + sizeof(pre) - 1, *e = strchr(s, '/');
    if (!e || (size_t)(e - s) >= cap || strncmp(e, mid, sizeof(mid) - 1) != 0) return false;
    memcpy(code, s, (size_t)(e - s));
    code[e - s] = '\0';
    const char *d = e + sizeof(mid) - 1;
    size_t n = strspn(d, "0123456789");
    if (n == 0 || n > 19 || d[n] != '\0') return false;
    *id = strtoull(d, NULL, 10);
    return *id != 0;
}

static json_t *item_json(const http_job *j, db_rows *r, size_t i, const char *code)
{
    char loc[192];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer((json_int_t)strtoull(col(r, i, AT_ID), NULL, 10)));
    json_object_set_new(o, "dossierCode", json_string(code));
    json_object_set_new(o, "fileName", json_string(col(r, i, AT_FILE_NAME)));
    json_object_set_new(o, "component", col(r, i, AT_COMPONENT) ? json_string(col(r, i, AT_COMPONENT)) : json_null());
    json_object_set_new(o, "contentType", json_string(col(r, i, AT_CTYPE)));
    json_object_set_new(o, "size", json_integer((json_int_t)strtoll(col(r, i, AT_SIZE), NULL, 10)));
    json_object_set_new(o, "sha256", json_string(col(r, i, AT_SHA_HEX)));
    char buf[40];
    time_t t = tfmt_db_parse(col(r, i, AT_UPLOADED_AT));
    if (t != (time_t)-1) {
        calendar_format_local(j->app->cal, t, buf, sizeof(buf));
        json_object_set_new(o, "uploadedAt", json_string(buf));
    }
    snprintf(loc, sizeof(loc), "/v1/dossiers/%s/attachments/%s", code, col(r, i, AT_ID));
    json_object_set_new(o, "href", json_string(loc));
    return o;
}

/* Is code one of the dossier's components? */
static mc_err component_known(db_conn *c, uint64_t dossier_id, const char *code, bool *known)
{
    db_rows *r = NULL;
    *known = false;
    mc_err rc = dossiers_components(c, dossier_id, &r);
    for (size_t i = 0; !rc && i < db_rows_count(r); i++)
        if (strcmp(col(r, i, 0), code) == 0) *known = true;
    db_rows_free(r);
    return rc;
}

/* The upload's transaction: lock the dossier, check its byte budget, insert, audit. On a budget
 * overrun rc is MC_ERR_TOO_LARGE and *used tells how much is taken. */
static mc_err store(http_job *j, db_conn *c, db_rows *d, const attachments_new *a, uint64_t *id, uint64_t *used)
{
    char detail[160], sha[65];
    hex_encode(a->sha256, 32, sha);
    mc_err rc = db_begin(c);
    if (rc) return rc;
    char state[32] = "";
    workflow_state st;
    if ((rc = attachments_lock_dossier(c, a->dossier_id, used, state, sizeof(state)))) goto out;
    /* a closed dossier (withdrawn, refused, returned, ...) takes no more files */
    if (workflow_state_parse(state, &st) == MC_OK && workflow_is_terminal(st)) {
        rc = MC_ERR_CONFLICT;
        goto out;
    }
    if (*used + a->len > (uint64_t)j->app->cfg.dossier_attachments_max_bytes) {
        rc = MC_ERR_TOO_LARGE;
        goto out;
    }
    if ((rc = attachments_insert(c, a, id))) goto out;
    snprintf(detail, sizeof(detail), "attachment %llu %s %zu bytes sha256 %s", (unsigned long long)*id,
             a->content_type, a->len, sha);
    audit_entry e = {.actor_client_id = j->client.id, .role = auth_role_name(j->client.role),
                     .ward = col(d, 0, DC_WARD), .action = "add_attachment", .dossier_code = col(d, 0, DC_CODE),
                     .before_state = col(d, 0, DC_STATE), .after_state = col(d, 0, DC_STATE),
                     .request_id = j->request_id, .detail = detail};
    rc = audit_append(c, &e); /* last: the chain head is locked until COMMIT */
out:
    if (!rc) rc = db_commit(c);
    else db_rollback(c);
    return rc;
}

void attach_api_post(http_job *j, db_conn *c)
{
    db_rows *d = load(j, c, j->param, true), *after = NULL;
    unsigned char sha[32];
    uint64_t id = 0, used = 0;
    char why[200];
    if (!d) return;
    const mc_config *cfg = &j->app->cfg;
    if (j->body_len > (size_t)cfg->attachment_max_bytes) {
        snprintf(why, sizeof(why), "an attachment may have at most %ld bytes; this one has %zu",
                 cfg->attachment_max_bytes, j->body_len);
        reply_problem(&j->out, MC_ERR_TOO_LARGE, j->path, why, NULL);
        goto out;
    }
    if (j->body_len == 0) {
        reply_problem(&j->out, MC_ERR_BAD_REQUEST, j->path, "send the file as the request body", NULL);
        goto out;
    }
    const char *ctype = attach_sniff(j->body, j->body_len);
    if (!ctype) {
        reply_problem(&j->out, MC_ERR_MEDIA_TYPE, j->path,
                      "the file's content is not PDF, JPEG or PNG (the type is read from the bytes, not the name)",
                      NULL);
        goto out;
    }
    if (!attach_name_ok(j->file_name)) {
        reply_problem(&j->out, MC_ERR_INVALID_FIELD, j->path,
                      "header X-File-Name is required: 1..255 bytes of UTF-8 without '/', '\\' or control characters",
                      NULL);
        goto out;
    }
    uint64_t dossier_id = strtoull(col(d, 0, DC_ID), NULL, 10);
    if (j->component[0]) {
        bool known = false;
        mc_err rc = component_known(c, dossier_id, j->component, &known);
        if (rc || !known) {
            reply_problem(&j->out, rc ? rc : MC_ERR_INVALID_FIELD, j->path,
                          rc ? "could not read the dossier's components"
                             : "header X-Component names no component of this dossier",
                          NULL);
            goto out;
        }
    }
    unsigned int shalen = 0;
    if (EVP_Digest(j->body, j->body_len, sha, &shalen, EVP_sha256(), NULL) != 1 || shalen != 32) {
        reply_problem(&j->out, MC_ERR_INTERNAL, j->path, "could not hash the file", NULL);
        goto out;
    }
    attachments_new a = {.dossier_id = dossier_id, .component = j->component[0] ? j->component : NULL,
                         .file_name = j->file_name, .content_type = ctype, .sha256 = sha,
                         .uploaded_by = j->client.id, .request_id = j->request_id, .bytes = j->body,
                         .len = j->body_len};
    mc_err rc = store(j, c, d, &a, &id, &used);
    if (rc == MC_ERR_CONFLICT) {
        reply_problem(&j->out, rc, j->path, "the dossier is closed (final state): it takes no more attachments", NULL);
        goto out;
    }
    if (rc == MC_ERR_TOO_LARGE) {
        snprintf(why, sizeof(why), "the dossier's attachments may total at most %ld bytes; %llu are taken",
                 cfg->dossier_attachments_max_bytes, (unsigned long long)used);
        reply_problem(&j->out, rc, j->path, why, NULL);
        goto out;
    }
    if (rc) {
        log_msg(LOG_WARN, "req=%s attachment not stored: %s (%s)", j->request_id, mc_err_name(rc), db_conn_error(c));
        reply_problem(&j->out, rc, j->path, "the attachment could not be stored; nothing was stored", NULL);
        goto out;
    }
    /* the body is no longer needed: free it before reading the row back */
    free(j->body);
    j->body = NULL;
    j->body_len = 0;
    if ((rc = attachments_list(c, dossier_id, &after))) {
        reply_problem(&j->out, rc, j->path, "stored, but could not read it back", NULL);
        goto out;
    }
    for (size_t i = 0; i < db_rows_count(after); i++) {
        if (strtoull(col(after, i, AT_ID), NULL, 10) != id) continue;
        snprintf(j->out.location, sizeof(j->out.location), "/v1/dossiers/%s/attachments/%llu", j->param,
                 (unsigned long long)id);
        reply_json(&j->out, 201, item_json(j, after, i, j->param));
        goto out;
    }
    reply_problem(&j->out, MC_ERR_INTERNAL, j->path, "stored, but could not read it back", NULL);
out:
    db_rows_free(after);
    db_rows_free(d);
}

void attach_api_list(http_job *j, db_conn *c)
{
    db_rows *d = load(j, c, j->param, false), *r = NULL;
    if (!d) return;
    mc_err rc = attachments_list(c, strtoull(col(d, 0, DC_ID), NULL, 10), &r);
    if (rc) {
        reply_problem(&j->out, rc, j->path, "could not list the attachments", NULL);
        goto out;
    }
    json_t *o = json_object(), *arr = json_array();
    for (size_t i = 0; i < db_rows_count(r); i++) json_array_append_new(arr, item_json(j, r, i, j->param));
    json_object_set_new(o, "dossierCode", json_string(j->param));
    json_object_set_new(o, "attachments", arr);
    reply_json(&j->out, 200, o);
out:
    db_rows_free(r);
    db_rows_free(d);
}

void attach_api_get(http_job *j, db_conn *c)
{
    char code[64];
    uint64_t id = 0;
    db_rows *d = NULL, *r = NULL;
    if (!parse_item_path(j->path, code, sizeof(code), &id)) {
        reply_problem(&j->out, MC_ERR_NOT_FOUND, j->path, "no such attachment", NULL);
        return;
    }
    if (!(d = load(j, c, code, false))) return;
    mc_err rc = attachments_get(c, strtoull(col(d, 0, DC_ID), NULL, 10), id, &r);
    if (rc || db_rows_count(r) != 1) {
        reply_problem(&j->out, rc ? rc : MC_ERR_NOT_FOUND, j->path,
                      rc ? "could not read the attachment" : "no such attachment on this dossier", NULL);
        goto out;
    }
    char what[64];
    snprintf(what, sizeof(what), "attachment %s", col(r, 0, AT_ID));
    if ((rc = dossier_api_audit_read(j, c, col(d, 0, DC_CODE), what))) {
        reply_problem(&j->out, rc, j->path, "the read could not be audited, so the file is not sent", NULL);
        goto out;
    }
    size_t len = 0;
    const char *bytes = db_rows_get(r, 0, AT_BYTES, &len);
    char *body = malloc(len + 1);
    if (!body || !bytes) {
        free(body);
        reply_problem(&j->out, MC_ERR_NOMEM, j->path, NULL, NULL);
        goto out;
    }
    memcpy(body, bytes, len);
    reply_clear(&j->out); /* the bytes exactly as uploaded */
    j->out.status = 200;
    j->out.err = MC_OK;
    j->out.ctype = static_ctype(col(r, 0, AT_CTYPE));
    attach_disposition(col(r, 0, AT_FILE_NAME), j->out.disposition, sizeof(j->out.disposition));
    j->out.body = body;
    j->out.len = len;
out:
    db_rows_free(r);
    db_rows_free(d);
}
