/* attach_api.h - files attached to a dossier: POST /v1/dossiers/{code}/attachments (raw body, the
 * submitting portal or national client), GET .../attachments (list) and GET .../attachments/{id}
 * (the exact bytes). Types are decided by content, sizes capped per file and per dossier. */
#ifndef MC_ATTACH_API_H
#define MC_ATTACH_API_H

#include <stddef.h>
#include "app.h"

/* Content type of a file from its first bytes: "application/pdf" (%PDF-), "image/jpeg" (FF D8 FF),
 * "image/png" (the 8-byte PNG signature); NULL for anything else. Pure; the string is static. */
const char *attach_sniff(const void *buf, size_t len);

/* Is name acceptable as a stored file name: 1..255 bytes of valid UTF-8, no control characters, no
 * '/' or '\\', not "." or "..". Pure. */
bool attach_name_ok(const char *name);
/* The Content-Disposition of a stored file named name (attach_name_ok): `attachment;
 * filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded>` (RFC 6266, RFC 5987). Pure; out
 * needs ATTACH_DISPOSITION_CAP bytes (a smaller cap gets ""). */
#define ATTACH_DISPOSITION_CAP (45 + 255 + 3 * 255)
void attach_disposition(const char *name, char *out, size_t cap);

/* Route handlers (http.c). Each ends in exactly one reply in j->out. */
void attach_api_post(http_job *j, db_conn *c);
void attach_api_list(http_job *j, db_conn *c);
void attach_api_get(http_job *j, db_conn *c);

#endif
