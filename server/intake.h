/* intake.h - POST /v1/dossiers: hardened parse, XSD, personal-ID check, one transaction, receipt. */
#ifndef MC_INTAKE_H
#define MC_INTAKE_H

#include "app.h"

void intake_post(http_job *j, db_conn *c);

#endif
