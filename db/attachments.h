/* attachments.h - SQL for files attached to dossiers: lock a dossier's attachment set, insert one
 * file (bytes in a LONGBLOB), list them and read one back. Callers own the transaction. */
#ifndef MC_ATTACHMENTS_H
#define MC_ATTACHMENTS_H

#include <stddef.h>
#include <stdint.h>
#include "db.h"

/* Lock the dossier row (FOR UPDATE, inside the caller's transaction) so concurrent uploads to one
 * dossier are counted one after another; *used gets the bytes already attached and state (statecap
 * bytes) its workflow state. MC_ERR_NOT_FOUND when the dossier is gone. */
mc_err attachments_lock_dossier(db_conn *c, uint64_t dossier_id, uint64_t *used, char *state, size_t statecap);

typedef struct {
    uint64_t dossier_id;
    const char *component;      /* may be NULL */
    const char *file_name;
    const char *content_type;   /* detected, e.g. "application/pdf" */
    const unsigned char *sha256; /* 32 bytes */
    uint64_t uploaded_by;
    const char *request_id;     /* may be NULL */
    const void *bytes;
    size_t len;
} attachments_new;
/* Insert one attachment; *id gets its id. Nothing is inserted on error. */
mc_err attachments_insert(db_conn *c, const attachments_new *a, uint64_t *id);

/* Columns of attachments_list and attachments_get, in order (get adds AT_BYTES). */
enum { AT_ID, AT_COMPONENT, AT_FILE_NAME, AT_CTYPE, AT_SIZE, AT_SHA_HEX, AT_UPLOADED_AT, AT_UPLOADED_BY, AT_BYTES };
/* A dossier's attachments without their bytes, oldest first. *out owned by the caller. */
mc_err attachments_list(db_conn *c, uint64_t dossier_id, db_rows **out);
/* One attachment of a dossier with its bytes (0 rows when it is not this dossier's). */
mc_err attachments_get(db_conn *c, uint64_t dossier_id, uint64_t id, db_rows **out);

#endif
