/* catalog_store.h - copies the in-memory catalog (schemas dir) into MariaDB for reporting and joins. */
#ifndef MC_CATALOG_STORE_H
#define MC_CATALOG_STORE_H

#include "catalog.h"
#include "db.h"

/* Upsert every procedure, component and unit in one transaction; nprocs and nunits get the counts. */
mc_err catalog_store_load(db_conn *c, const catalog *cat, size_t *nprocs, size_t *nunits);

#endif
