/* boot.h - start-up shared by motcuad and motcua-admin: configuration, catalog, calendar, a direct
 * database connection. */
#ifndef MC_BOOT_H
#define MC_BOOT_H

#include "app.h"

/* Config from `path` (may be NULL; else MOTCUA_CONFIG) and the environment. Prints the reason and
 * returns non-zero on error. */
int boot_config(mc_config *cfg, const char *path);
/* Catalog, calendar and XML limits into a (cfg already set). */
int boot_data(app *a);
/* One blocking connection (CLI and start-up checks only). */
mc_err boot_connect(const mc_config *cfg, db_dsn *dsn, db_conn **out);

#endif
