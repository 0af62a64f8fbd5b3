/* catalog_store.c - SQL that mirrors schemas/catalog.json and units.json into tables (idempotent). */
#include "catalog_store.h"

#include <stdio.h>

static const char *satisfy_text(const catalog_component *k, char *buf, size_t cap)
{
    switch (k->satisfy) {
    case CATALOG_SATISFY_POPULATION: return "population";
    case CATALOG_SATISFY_RESULT: snprintf(buf, cap, "result:%s", k->result_type); return buf;
    default: return "upload";
    }
}

static mc_err load_all(db_conn *c, const catalog *cat, size_t *nprocs, size_t *nunits)
{
    mc_err rc;
    for (size_t i = 0; i < catalog_count(cat); i++) {
        const catalog_proc *p = catalog_at(cat, i);
        db_param pp[] = {db_str(p->code), db_str(p->name_vi), db_str(p->name_en), db_i64(p->time_limit.kind),
                         db_i64(p->time_limit.days), db_str_opt(p->result_type)};
        if ((rc = db_exec(c,
                          "INSERT INTO procedure_def (code, name_vi, name_en, time_limit_kind, time_limit_days,"
                          " result_type, loaded_at) VALUES (?,?,?,?,?,?, UTC_TIMESTAMP(6))"
                          " ON DUPLICATE KEY UPDATE name_vi = VALUES(name_vi), name_en = VALUES(name_en),"
                          " time_limit_kind = VALUES(time_limit_kind), time_limit_days = VALUES(time_limit_days),"
                          " result_type = VALUES(result_type), loaded_at = VALUES(loaded_at)",
                          pp, 6, NULL, NULL)))
            return rc;
        db_param del[] = {db_str(p->code)};
        if ((rc = db_exec(c, "DELETE FROM procedure_component WHERE procedure_code = ?", del, 1, NULL, NULL)))
            return rc;
        for (size_t k = 0; k < p->n_components; k++) {
            char buf[64];
            const catalog_component *cc = &p->components[k];
            db_param pc[] = {db_str(p->code), db_str(cc->code), db_str(cc->name_vi), db_i64(cc->required),
                             db_str(satisfy_text(cc, buf, sizeof(buf)))};
            if ((rc = db_exec(c,
                              "INSERT INTO procedure_component (procedure_code, code, name_vi, required, satisfy)"
                              " VALUES (?,?,?,?,?)",
                              pc, 5, NULL, NULL)))
                return rc;
        }
    }
    for (size_t i = 0; i < catalog_unit_count(cat); i++) {
        const catalog_unit *u = catalog_unit_at(cat, i);
        db_param pu[] = {db_str(u->code), db_str(u->agency_id), db_str(u->name), db_str(u->effective_from)};
        if ((rc = db_exec(c,
                          "INSERT INTO unit (code, agency_id, name, effective_from) VALUES (?,?,?,?)"
                          " ON DUPLICATE KEY UPDATE agency_id = VALUES(agency_id), name = VALUES(name),"
                          " effective_from = VALUES(effective_from)",
                          pu, 4, NULL, NULL)))
            return rc;
    }
    *nprocs = catalog_count(cat);
    *nunits = catalog_unit_count(cat);
    return MC_OK;
}

mc_err catalog_store_load(db_conn *c, const catalog *cat, size_t *nprocs, size_t *nunits)
{
    mc_err rc = db_begin(c);
    if (rc) return rc;
    if ((rc = load_all(c, cat, nprocs, nunits))) {
        db_rollback(c);
        return rc;
    }
    return db_commit(c);
}
