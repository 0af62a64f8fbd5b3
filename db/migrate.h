/* migrate.h - ordered SQL migrations (db/migrations/NNN_name.sql) and the schema-version table. */
#ifndef MC_MIGRATE_H
#define MC_MIGRATE_H

#include <stddef.h>
#include "db.h"

/* Apply every migration newer than the database's version, in order, under a named lock so two
 * processes never migrate at once. from and to get the versions before and after. Re-running is a no-op.
 * A database newer than this build returns MC_ERR_SCHEMA_TOO_NEW and changes nothing. */
mc_err migrate_apply(db_conn *c, const char *dir, int *from, int *to, char *why, size_t whycap);

/* Check the database is exactly at this build's schema version (MOTCUA_SCHEMA_VERSION):
 * MC_ERR_SCHEMA_TOO_NEW if newer, MC_ERR_CONFIG if older (run `motcua-admin migrate`). */
mc_err migrate_check(db_conn *c, char *why, size_t whycap);

int migrate_known_version(void);

#endif
