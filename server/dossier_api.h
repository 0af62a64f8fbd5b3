/* dossier_api.h - GET /v1/dossiers/{code}, GET /v1/dossiers/{code}/history, GET /readyz. */
#ifndef MC_DOSSIER_API_H
#define MC_DOSSIER_API_H

#include <stdbool.h>

#include "app.h"
#include "audit.h"

void dossier_api_get(http_job *j, db_conn *c);
/* The GET view of the dossier named by j->param into j->out (scoped as GET). audit_read: write the
 * official's read_personal_data audit row first (false when the caller's own transaction already
 * audited what the official did, e.g. an action's reply). */
void dossier_api_view(http_job *j, db_conn *c, bool audit_read);
/* The same view from a dossier row already read (dossiers_get's or dossiers_lock's columns, visible to
 * the client): only the components and identity checks are read. The row stays the caller's. */
void dossier_api_view_row(http_job *j, db_conn *c, db_rows *r);
void dossier_api_history(http_job *j, db_conn *c);
/* An official reading personal data (a dossier, an attachment, a result or a holder's results): one
 * read_personal_data audit row, committed (with the other reads arriving together) before anything is
 * sent; the caller sends nothing when this fails (fail closed). MC_OK at once for other roles, whose
 * reads are of what they submitted themselves. detail names what was read, never a personal ID. */
mc_err dossier_api_audit_read(http_job *j, db_conn *c, const char *dossier_code, const char *detail);
/* That audit row, not written: for a caller that writes several at once (a page of results). */
audit_entry dossier_api_read_entry(const http_job *j, const char *dossier_code, const char *detail);
void dossier_api_ready(http_job *j, db_conn *c);

#endif
