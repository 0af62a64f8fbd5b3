/* dossier_api.c - reading dossiers. Scoping: a portal or national client sees only what it submitted,
 * an official only its ward's dossiers; anything else is 404 so codes do not leak. */
#include "dossier_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "actions_api.h"
#include "dossiers.h"
#include "idstore.h"
#include "migrate.h"
#include "pid.h"
#include "reuse.h"

static const char *col(db_rows *r, size_t row, size_t c) { return db_rows_get(r, row, c, NULL); }

/* Load the dossier named by the path and check scope; on failure j->out is set and NULL returned. */
static db_rows *load(http_job *j, db_conn *c)
{
    db_rows *r = NULL;
    mc_err rc = dossiers_get(c, j->param, &r);
    if (rc) {
        reply_problem(&j->out, rc, j->path, "could not read the dossier", NULL);
        return NULL;
    }
    if (db_rows_count(r) == 0 || !auth_sees_dossier(&j->client, col(r, 0, DC_WARD), col(r, 0, DC_CLIENT))) {
        db_rows_free(r);
        reply_problem(&j->out, MC_ERR_NOT_FOUND, j->path, "no dossier with this code is visible to this client", NULL);
        return NULL;
    }
    snprintf(j->out.dossier_code, sizeof(j->out.dossier_code), "%s", j->param);
    return r;
}

/* Fields in a comma-separated list ("" is none). */
static long list_len(const char *s)
{
    long n = s && *s ? 1 : 0;
    for (; s && *s; s++) n += *s == ',';
    return n;
}

/* The identity checks' outcomes (never the population record: it is not stored); *confirmed gets the
 * declared fields the verified checks confirmed (what GET /v1/stats counts as prefillable). */
static mc_err dossiers_identity_json(http_job *j, db_conn *c, uint64_t id, json_t *o, long *confirmed)
{
    db_rows *r = NULL;
    mc_err rc = idstore_checks(c, id, &r);
    if (rc) return rc;
    if (db_rows_count(r)) {
        json_t *arr = json_array();
        for (size_t i = 0; i < db_rows_count(r); i++) {
            json_t *e = json_object();
            json_object_set_new(e, "role", json_string(col(r, i, 1)));
            json_object_set_new(e, "outcome", json_string(col(r, i, 2)));
            json_object_set_new(e, "matched", json_string(col(r, i, 3)));
            if (strcmp(col(r, i, 2), "verified") == 0) *confirmed += list_len(col(r, i, 3));
            json_object_set_new(e, "mismatched", json_string(col(r, i, 4)));
            json_object_set_new(e, "requestId", json_string(col(r, i, 5)));
            json_object_set_new(e, "source", json_string(col(r, i, 6)));
            json_object_set_new(e, "checkedAt", reply_local_time(j->app->cal, col(r, i, 7)));
            json_array_append_new(arr, e);
        }
        json_object_set_new(o, "identityChecks", arr);
    }
    db_rows_free(r);
    return MC_OK;
}

audit_entry dossier_api_read_entry(const http_job *j, const char *dossier_code, const char *detail)
{
    return (audit_entry){.actor_client_id = j->client.id, .role = "official", .ward = j->client.ward,
                         .action = "read_personal_data", .dossier_code = dossier_code,
                         .request_id = j->request_id, .detail = detail};
}

mc_err dossier_api_audit_read(http_job *j, db_conn *c, const char *dossier_code, const char *detail)
{
    if (j->client.role != ROLE_OFFICIAL) return MC_OK;
    audit_entry e = dossier_api_read_entry(j, dossier_code, detail);
    return audit_append_alone(c, &e);
}

void dossier_api_get(http_job *j, db_conn *c) { dossier_api_view(j, c, true); }

void dossier_api_view(http_job *j, db_conn *c, bool audit_read)
{
    db_rows *r = load(j, c);
    if (!r) return;
    mc_err rc = audit_read ? dossier_api_audit_read(j, c, col(r, 0, DC_CODE), "GET dossier") : MC_OK;
    if (rc)
        reply_problem(&j->out, rc, j->path, "the read could not be audited, so the dossier is not sent", NULL);
    else
        dossier_api_view_row(j, c, r);
    db_rows_free(r);
}

void dossier_api_view_row(http_job *j, db_conn *c, db_rows *r)
{
    db_rows *comps = NULL;
    uint64_t id = strtoull(col(r, 0, DC_ID), NULL, 10);
    mc_err rc = dossiers_components(c, id, &comps);
    if (rc) {
        reply_problem(&j->out, rc, j->path, "could not read the dossier's components", NULL);
        goto out;
    }
    char masked[16];
    json_t *o = json_object(), *ap = json_object(), *arr = json_array();
    const catalog_proc *p = catalog_find(j->app->cat, col(r, 0, DC_PROCEDURE));
    json_object_set_new(o, "dossierCode", json_string(col(r, 0, DC_CODE)));
    json_object_set_new(o, "procedure", json_string(col(r, 0, DC_PROCEDURE)));
    if (p) json_object_set_new(o, "procedureName", json_string(p->name_vi));
    json_object_set_new(o, "ward", json_string(col(r, 0, DC_WARD)));
    json_object_set_new(o, "agencyId", json_string(col(r, 0, DC_AGENCY)));
    json_object_set_new(o, "channel", json_integer(atoi(col(r, 0, DC_CHANNEL))));
    json_object_set_new(o, "source", json_string(col(r, 0, DC_SOURCE)));
    json_object_set_new(ap, "personalId", json_string(pid_mask(col(r, 0, DC_PID), masked, sizeof(masked))));
    json_object_set_new(ap, "fullName", json_string(col(r, 0, DC_NAME)));
    json_object_set_new(o, "applicant", ap);
    json_object_set_new(o, "summary", json_string(col(r, 0, DC_SUMMARY)));
    json_object_set_new(o, "state", json_string(col(r, 0, DC_STATE)));
    if (col(r, 0, DC_REASON)) json_object_set_new(o, "statusReason", json_string(col(r, 0, DC_REASON)));
    json_object_set_new(o, "nationalStatus", json_integer(atoi(col(r, 0, DC_NATIONAL))));
    json_object_set_new(o, "receivedAt", reply_local_time(j->app->cal, col(r, 0, DC_RECEIVED)));
    json_object_set_new(o, "dueAt", reply_local_time(j->app->cal, col(r, 0, DC_DUE)));
    json_object_set_new(o, "version", json_integer(atoi(col(r, 0, DC_VERSION))));
    for (size_t i = 0; i < db_rows_count(comps); i++) {
        json_t *c1 = json_object();
        json_object_set_new(c1, "code", json_string(col(comps, i, DP_CODE)));
        json_object_set_new(c1, "name", json_string(col(comps, i, DP_NAME)));
        json_object_set_new(c1, "required", json_boolean(strcmp(col(comps, i, DP_REQUIRED), "1") == 0));
        json_object_set_new(c1, "satisfiedBy", json_string(col(comps, i, DP_PLAN)));
        if (col(comps, i, DP_FILE_REF)) json_object_set_new(c1, "fileRef", json_string(col(comps, i, DP_FILE_REF)));
        if (col(comps, i, DP_FILE_NAME)) json_object_set_new(c1, "fileName", json_string(col(comps, i, DP_FILE_NAME)));
        if (col(comps, i, DP_SATISFIED_AT)) {
            json_object_set_new(c1, "satisfiedAt", reply_local_time(j->app->cal, col(comps, i, DP_SATISFIED_AT)));
            json_object_set_new(c1, "evidence", json_string(col(comps, i, DP_EVIDENCE)));
        }
        reuse_component_view(j->app, comps, i, c1); /* linked results, sync flags */
        json_array_append_new(arr, c1);
    }
    json_object_set_new(o, "components", arr);
    actions_api_facts(j, r, o);
    reuse_flag_view(j->app, col(r, 0, DC_REUSE_FLAG), col(r, 0, DC_REUSE_FLAGGED_AT), o);
    long confirmed = 0;
    if ((rc = dossiers_identity_json(j, c, id, o, &confirmed))) {
        json_decref(o);
        reply_problem(&j->out, rc, j->path, "could not read the identity checks", NULL);
        goto out;
    }
    reuse_savings_view(comps, atol(col(r, 0, DC_DECLARED)), confirmed, o);
    snprintf(j->out.etag, sizeof(j->out.etag), "\"v%s\"", col(r, 0, DC_VERSION));
    reply_json(&j->out, 200, o);
out:
    db_rows_free(comps);
}

void dossier_api_history(http_job *j, db_conn *c)
{
    db_rows *r = load(j, c), *h = NULL;
    if (!r) return;
    mc_err rc = dossiers_history(c, strtoull(col(r, 0, DC_ID), NULL, 10), &h);
    if (rc) {
        reply_problem(&j->out, rc, j->path, "could not read the history", NULL);
        goto out;
    }
    json_t *o = json_object(), *arr = json_array();
    json_object_set_new(o, "dossierCode", json_string(col(r, 0, DC_CODE)));
    for (size_t i = 0; i < db_rows_count(h); i++) {
        json_t *e = json_object();
        json_object_set_new(e, "at", reply_local_time(j->app->cal, col(h, i, 0)));
        json_object_set_new(e, "action", json_string(col(h, i, 1)));
        json_object_set_new(e, "fromState", col(h, i, 2) ? json_string(col(h, i, 2)) : json_null());
        json_object_set_new(e, "toState", json_string(col(h, i, 3)));
        json_object_set_new(e, "nationalStatus", json_integer(atoi(col(h, i, 4))));
        if (col(h, i, 6)) json_object_set_new(e, "note", json_string(col(h, i, 6)));
        json_array_append_new(arr, e);
    }
    json_object_set_new(o, "history", arr);
    reply_json(&j->out, 200, o);
out:
    db_rows_free(h);
    db_rows_free(r);
}

void dossier_api_ready(http_job *j, db_conn *c)
{
    char why[256] = "";
    mc_err rc = db_ping(c);
    if (!rc) rc = migrate_check(c, why, sizeof(why));
    if (rc) {
        reply_problem(&j->out, rc == MC_ERR_DB_UNAVAILABLE ? rc : MC_ERR_DB_UNAVAILABLE, j->path,
                      why[0] ? why : "database not reachable", NULL);
        return;
    }
    reply_json_text(&j->out, 200, "{\"status\":\"ready\"}", 18);
}
