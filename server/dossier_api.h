/* dossier_api.h - GET /v1/dossiers/{code}, GET /v1/dossiers/{code}/history, GET /readyz. */
#ifndef MC_DOSSIER_API_H
#define MC_DOSSIER_API_H

#include "app.h"

void dossier_api_get(http_job *j, db_conn *c);
void dossier_api_history(http_job *j, db_conn *c);
void dossier_api_ready(http_job *j, db_conn *c);

#endif
