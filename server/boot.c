/* boot.c - the start-up steps both programs share; each failure names what is wrong and stops. */
#include "boot.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"

int boot_config(mc_config *cfg, const char *path)
{
    char why[512];
    config_defaults(cfg);
    if (!path) path = getenv("MOTCUA_CONFIG");
    if (config_load(cfg, path, why, sizeof(why))) {
        fprintf(stderr, "motcua: %s\n", why);
        return 1;
    }
    if (!log_set_level(cfg->log_level)) {
        fprintf(stderr, "motcua: config key 'log_level': '%s' is not debug, info, warn or error\n", cfg->log_level);
        return 1;
    }
    return 0;
}

int boot_data(app *a)
{
    char why[512];
    if (catalog_load(a->cfg.schemas_dir, &a->cat, why, sizeof(why))) {
        fprintf(stderr, "motcua: catalog: %s\n", why);
        return 1;
    }
    if (!(a->cal = calendar_new()) || calendar_load_file(a->cal, a->cfg.holidays_file, why, sizeof(why)) ||
        calendar_set_utc_offset(a->cal, a->cfg.tz_offset_min * 60)) {
        fprintf(stderr, "motcua: calendar (%s): %s\n", a->cfg.holidays_file, why);
        return 1;
    }
    /* dates the holiday file marks unconfirmed ('?') are applied; the operator should know which */
    for (size_t i = 0; i < calendar_unconfirmed_count(a->cal); i++) {
        int y, m, d;
        char kind = '?';
        if (calendar_unconfirmed_get(a->cal, i, &y, &m, &d, &kind))
            log_msg(LOG_INFO, "calendar: %04d-%02d-%02d (%c) is not confirmed yet; applied as given", y, m, d, kind);
    }
    xmlsafe_limits_default(&a->xml);
    a->xml.max_bytes = (size_t)a->cfg.xml_max_bytes;
    a->xml.max_depth = (unsigned)a->cfg.xml_max_depth;
    a->xml.max_attr_len = (size_t)a->cfg.xml_max_attr_len;
    a->xml.max_attrs = (unsigned)a->cfg.xml_max_attrs;
    a->xml.max_text_len = (size_t)a->cfg.xml_max_text_len;
    a->xml.max_nodes = (size_t)a->cfg.xml_max_nodes;
    return 0;
}

mc_err boot_connect(const mc_config *cfg, db_dsn *dsn, db_conn **out)
{
    char why[512];
    mc_err rc = db_dsn_parse(cfg->db_dsn, dsn, why, sizeof(why));
    if (!rc) rc = db_conn_open(dsn, cfg->db_connect_timeout_s, out, why, sizeof(why));
    if (rc) fprintf(stderr, "motcua: %s\n", why);
    return rc;
}
