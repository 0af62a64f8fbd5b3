/* catalog.c - loads the procedure catalog (catalog.json, units.json, per-procedure XSDs),
 * validates dossiers against the compiled XSDs and plans how each document component is met.
 * Loading is the only I/O; everything after it reads the catalog without locks. */
#include "catalog.h"
#include "utf8.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>
#include <libxml/xmlschemas.h>

#define CATALOG_FILE_MAX ((size_t)1024 * 1024) /* catalog.json / units.json size cap */
#define CATALOG_PATH_CAP 1024
#define VALIDATE_MSG_CAP 512
#define VALIDATE_PATH_CAP 512
#define VALIDATE_DEPTH_CAP 64

struct catalog {
    catalog_proc *procs;
    size_t n_procs;
    catalog_unit *units;
    size_t n_units;
};


/* ---- small shape checks ------------------------------------------------------------------ */

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static bool proc_code_ok(const char *s)
{
    return strlen(s) == 8 && s[1] == '.' && digits(s, 1) && digits(s + 2, 6);
}

/* "KQ.G15.000031" */
static bool result_type_ok(const char *s)
{
    return strlen(s) == 13 && strncmp(s, "KQ.G", 4) == 0 && digits(s + 4, 2) && s[6] == '.' &&
           digits(s + 7, 6);
}

static bool comp_code_ok(const char *s)
{
    size_t n = strlen(s);

    return (n == 3 || n == 4) && s[0] == 'T' && s[1] == 'P' && digits(s + 2, n - 2);
}

static bool date_ok(const char *s)
{
    return strlen(s) == 10 && digits(s, 4) && s[4] == '-' && digits(s + 5, 2) && s[7] == '-' &&
           digits(s + 8, 2);
}

/* QCVN 102-like: an upper-case letter, then digits in dot-separated groups ("H17.48.01"). */
static bool agency_id_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 3 || s[0] < 'A' || s[0] > 'Z' || s[n - 1] == '.')
        return false;
    for (size_t i = 1; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] == '.' && s[i - 1] != '.')))
            return false;
    return true;
}

static bool xsd_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n < 5 || strcmp(s + n - 4, ".xsd") != 0 || s[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '.' || s[i] == '_' || s[i] == '-'))
            return false;
    return true;
}

/* ---- JSON helpers: each names the entry (ctx) that is wrong ---------------------------- */

static mc_err check_keys(json_t *obj, const char *const *allowed, const char *ctx, char *why,
                         size_t whycap)
{
    const char *key;
    json_t *val;

    json_object_foreach(obj, key, val) {
        bool ok = false;

        (void)val;
        for (size_t i = 0; allowed[i]; i++)
            if (strcmp(key, allowed[i]) == 0)
                ok = true;
        if (!ok) {
            mc_why(why, whycap, "%s: unknown key \"%s\"", ctx, key);
            return MC_ERR_CONFIG;
        }
    }
    return MC_OK;
}

static mc_err get_str(json_t *obj, const char *key, bool required, char *buf, size_t cap,
                      const char *ctx, char *why, size_t whycap)
{
    json_t *v = json_object_get(obj, key);

    buf[0] = '\0';
    if (!v && !required)
        return MC_OK;
    if (!json_is_string(v) || json_string_length(v) == 0) {
        mc_why(why, whycap, "%s: \"%s\" must be a non-empty string", ctx, key);
        return MC_ERR_CONFIG;
    }
    if (json_string_length(v) >= cap || strlen(json_string_value(v)) != json_string_length(v)) {
        mc_why(why, whycap, "%s: \"%s\" is longer than %zu bytes or holds a NUL", ctx, key,
                cap - 1);
        return MC_ERR_CONFIG;
    }
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
    return MC_OK;
}

static mc_err get_int(json_t *obj, const char *key, json_int_t lo, json_int_t hi, long *out,
                      const char *ctx, char *why, size_t whycap)
{
    json_t *v = json_object_get(obj, key);

    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        mc_why(why, whycap, "%s: \"%s\" must be an integer from %lld to %lld", ctx, key,
                (long long)lo, (long long)hi);
        return MC_ERR_CONFIG;
    }
    *out = (long)json_integer_value(v);
    return MC_OK;
}

static mc_err load_json(const char *dir, const char *name, json_t **out, char *why,
                        size_t whycap)
{
    char path[CATALOG_PATH_CAP];
    char *buf = NULL;
    FILE *f = NULL;
    size_t n;
    json_error_t jerr;
    mc_err rc = MC_OK;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
        mc_why(why, whycap, "%s: path too long", name);
        return MC_ERR_CONFIG;
    }
    f = fopen(path, "rb");
    if (!f) {
        mc_why(why, whycap, "%s: %s", path, strerror(errno));
        return MC_ERR_IO;
    }
    buf = malloc(CATALOG_FILE_MAX + 1);
    if (!buf) {
        rc = MC_ERR_NOMEM;
        goto out;
    }
    n = fread(buf, 1, CATALOG_FILE_MAX + 1, f);
    if (ferror(f)) {
        mc_why(why, whycap, "%s: read error", path);
        rc = MC_ERR_IO;
        goto out;
    }
    if (n > CATALOG_FILE_MAX) {
        mc_why(why, whycap, "%s: larger than %zu bytes", path, CATALOG_FILE_MAX);
        rc = MC_ERR_CONFIG;
        goto out;
    }
    *out = json_loadb(buf, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!*out) {
        mc_why(why, whycap, "%s:%d: %s", path, jerr.line, jerr.text);
        rc = MC_ERR_CONFIG;
    } else if (!json_is_object(*out)) {
        mc_why(why, whycap, "%s: top level must be an object", path);
        json_decref(*out);
        *out = NULL;
        rc = MC_ERR_CONFIG;
    }
out:
    free(buf);
    fclose(f);
    return rc;
}

/* ---- catalog.json entries ---------------------------------------------------------------- */

static mc_err parse_time_limit(json_t *v, catalog_time_limit *tl, const char *ctx, char *why,
                               size_t whycap)
{
    static const char *const keys[] = {"kind", "days", NULL};
    char kind[32];
    long days = 0;
    mc_err rc;

    if (!json_is_object(v)) {
        mc_why(why, whycap, "%s must be an object", ctx);
        return MC_ERR_CONFIG;
    }
    rc = check_keys(v, keys, ctx, why, whycap);
    if (!rc)
        rc = get_str(v, "kind", true, kind, sizeof(kind), ctx, why, whycap);
    if (rc)
        return rc;
    if (strcmp(kind, "working_days") == 0) {
        rc = get_int(v, "days", 1, 365, &days, ctx, why, whycap);
        if (rc)
            return rc;
        tl->kind = CATALOG_RULE_WORKING_DAYS;
        tl->days = (int)days;
        return MC_OK;
    }
    if (json_object_get(v, "days")) {
        mc_why(why, whycap, "%s: \"days\" only goes with kind working_days", ctx);
        return MC_ERR_CONFIG;
    }
    if (strcmp(kind, "same_day") == 0)
        tl->kind = CATALOG_RULE_SAME_DAY;
    else if (strcmp(kind, "none") == 0)
        tl->kind = CATALOG_RULE_NONE;
    else {
        mc_why(why, whycap, "%s: kind must be same_day, working_days or none", ctx);
        return MC_ERR_CONFIG;
    }
    tl->days = 0;
    return MC_OK;
}

static mc_err parse_fee(json_t *v, catalog_fee *fee, const char *ctx, char *why, size_t whycap)
{
    static const char *const keys[] = {"kind", "amount_vnd", "per", "channel", "unit",
                                       "tiers", "cap_vnd", NULL};
    static const char *const tier_keys[] = {"from", "amount_vnd", NULL};
    char kind[32], per[32], channel[32], unit[32], tctx[256];
    json_t *tiers, *t;
    size_t i;
    long from, amount;
    mc_err rc;

    if (!json_is_object(v)) {
        mc_why(why, whycap, "%s must be an object", ctx);
        return MC_ERR_CONFIG;
    }
    rc = check_keys(v, keys, ctx, why, whycap);
    if (!rc)
        rc = get_str(v, "kind", true, kind, sizeof(kind), ctx, why, whycap);
    if (!rc)
        rc = get_str(v, "channel", false, channel, sizeof(channel), ctx, why, whycap);
    if (rc)
        return rc;
    if (channel[0] && strcmp(channel, "online") != 0 && strcmp(channel, "any") != 0) {
        mc_why(why, whycap, "%s: channel must be online or any", ctx);
        return MC_ERR_CONFIG;
    }
    fee->online_only = strcmp(channel, "online") == 0;
    if (strcmp(kind, "none") == 0) {
        fee->kind = CATALOG_FEE_NONE;
        if (json_object_size(v) > (channel[0] ? 2u : 1u)) {
            mc_why(why, whycap, "%s: kind none takes no amounts", ctx);
            return MC_ERR_CONFIG;
        }
        return MC_OK;
    }
    rc = get_str(v, "per", true, per, sizeof(per), ctx, why, whycap);
    if (rc)
        return rc;
    if (strcmp(per, "copy") == 0)
        fee->per = CATALOG_PER_COPY;
    else if (strcmp(per, "dossier") == 0)
        fee->per = CATALOG_PER_DOSSIER;
    else {
        mc_why(why, whycap, "%s: per must be copy or dossier", ctx);
        return MC_ERR_CONFIG;
    }
    if (strcmp(kind, "flat") == 0) {
        fee->kind = CATALOG_FEE_FLAT;
        return get_int(v, "amount_vnd", 0, 100000000, &fee->amount_vnd, ctx, why, whycap);
    }
    if (strcmp(kind, "tiered") != 0) {
        mc_why(why, whycap, "%s: kind must be none, flat or tiered", ctx);
        return MC_ERR_CONFIG;
    }
    fee->kind = CATALOG_FEE_TIERED;
    rc = get_str(v, "unit", true, unit, sizeof(unit), ctx, why, whycap);
    if (rc)
        return rc;
    if (strcmp(unit, "page") != 0) {
        mc_why(why, whycap, "%s: unit must be page", ctx);
        return MC_ERR_CONFIG;
    }
    rc = get_int(v, "cap_vnd", 0, 100000000, &fee->cap_vnd, ctx, why, whycap);
    if (rc)
        return rc;
    tiers = json_object_get(v, "tiers");
    if (!json_is_array(tiers) || json_array_size(tiers) == 0 ||
        json_array_size(tiers) > CATALOG_MAX_TIERS) {
        mc_why(why, whycap, "%s: tiers must be an array of 1 to %d tiers", ctx,
                CATALOG_MAX_TIERS);
        return MC_ERR_CONFIG;
    }
    json_array_foreach(tiers, i, t) {
        snprintf(tctx, sizeof(tctx), "%s.tiers[%zu]", ctx, i);
        if (!json_is_object(t)) {
            mc_why(why, whycap, "%s must be an object", tctx);
            return MC_ERR_CONFIG;
        }
        rc = check_keys(t, tier_keys, tctx, why, whycap);
        if (!rc)
            rc = get_int(t, "from", 1, 100000, &from, tctx, why, whycap);
        if (!rc)
            rc = get_int(t, "amount_vnd", 0, 100000000, &amount, tctx, why, whycap);
        if (rc)
            return rc;
        if ((i == 0 && from != 1) || (i > 0 && from <= fee->tiers[i - 1].from_page)) {
            mc_why(why, whycap, "%s: the first tier starts at page 1, later ones ascend", tctx);
            return MC_ERR_CONFIG;
        }
        fee->tiers[i].from_page = (int)from;
        fee->tiers[i].amount_vnd = amount;
    }
    fee->n_tiers = json_array_size(tiers);
    return MC_OK;
}

static mc_err parse_component(json_t *v, catalog_component *c, const char *ctx, char *why,
                              size_t whycap)
{
    static const char *const keys[] = {"code", "name_vi", "name_en", "required", "satisfy", NULL};
    char satisfy[64];
    json_t *req;
    mc_err rc;

    if (!json_is_object(v)) {
        mc_why(why, whycap, "%s must be an object", ctx);
        return MC_ERR_CONFIG;
    }
    rc = check_keys(v, keys, ctx, why, whycap);
    if (!rc)
        rc = get_str(v, "code", true, c->code, sizeof(c->code), ctx, why, whycap);
    if (!rc)
        rc = get_str(v, "name_vi", true, c->name_vi, sizeof(c->name_vi), ctx, why, whycap);
    if (!rc)
        rc = get_str(v, "name_en", true, c->name_en, sizeof(c->name_en), ctx, why, whycap);
    if (!rc)
        rc = get_str(v, "satisfy", true, satisfy, sizeof(satisfy), ctx, why, whycap);
    if (rc)
        return rc;
    if (!comp_code_ok(c->code)) {
        mc_why(why, whycap, "%s: code \"%s\" is not shaped like TP1", ctx, c->code);
        return MC_ERR_CONFIG;
    }
    req = json_object_get(v, "required");
    if (!json_is_boolean(req)) {
        mc_why(why, whycap, "%s: \"required\" must be true or false", ctx);
        return MC_ERR_CONFIG;
    }
    c->required = json_is_true(req);
    if (strcmp(satisfy, "upload") == 0) {
        c->satisfy = CATALOG_SATISFY_UPLOAD;
    } else if (strcmp(satisfy, "population") == 0) {
        c->satisfy = CATALOG_SATISFY_POPULATION;
    } else if (strncmp(satisfy, "result:", 7) == 0 && result_type_ok(satisfy + 7)) {
        c->satisfy = CATALOG_SATISFY_RESULT;
        memcpy(c->result_type, satisfy + 7, strlen(satisfy + 7) + 1);
    } else {
        mc_why(why, whycap, "%s: satisfy must be upload, population or result:KQ.Gnn.nnnnnn",
                ctx);
        return MC_ERR_CONFIG;
    }
    return MC_OK;
}

static mc_err parse_inferred(json_t *v, unsigned *out, const char *ctx, char *why, size_t whycap)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"time_limit", CATALOG_INFERRED_TIME_LIMIT}, {"fees", CATALOG_INFERRED_FEES},
                 {"result_type", CATALOG_INFERRED_RESULT_TYPE},
                 {"components", CATALOG_INFERRED_COMPONENTS}};
    size_t i;
    json_t *s;

    *out = 0;
    if (!v)
        return MC_OK;
    if (!json_is_array(v))
        goto bad;
    json_array_foreach(v, i, s) {
        unsigned bit = 0;

        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            if (json_is_string(s) && strcmp(json_string_value(s), names[k].name) == 0)
                bit = names[k].bit;
        if (!bit)
            goto bad;
        *out |= bit;
    }
    return MC_OK;
bad:
    mc_why(why, whycap, "%s: \"inferred\" lists time_limit, fees, result_type, components", ctx);
    return MC_ERR_CONFIG;
}

static void schema_error_to_why(void *ud, xmlErrorPtr e)
{
    char *why = ud;

    /* Keep the first error: later ones are usually consequences of it. */
    if (why[0] == '\0' && e && e->message)
        snprintf(why, VALIDATE_MSG_CAP, "line %d: %s", e->line, e->message);
}

static mc_err compile_xsd(const char *dir, catalog_proc *p, const char *ctx, char *why,
                          size_t whycap)
{
    char path[CATALOG_PATH_CAP];
    char first[VALIDATE_MSG_CAP] = "";
    xmlSchemaParserCtxtPtr pctxt = NULL;
    FILE *f;
    mc_err rc = MC_OK;
    size_t n;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, p->xsd) >= sizeof(path)) {
        mc_why(why, whycap, "%s: xsd path too long", ctx);
        return MC_ERR_CONFIG;
    }
    f = fopen(path, "rb");
    if (!f) {
        mc_why(why, whycap, "%s: xsd %s: %s", ctx, path, strerror(errno));
        return MC_ERR_CONFIG;
    }
    fclose(f);
    pctxt = xmlSchemaNewParserCtxt(path);
    if (!pctxt)
        return MC_ERR_NOMEM;
    xmlSchemaSetParserStructuredErrors(pctxt, schema_error_to_why, first);
    p->schema = xmlSchemaParse(pctxt);
    if (!p->schema) {
        n = strlen(first);
        while (n > 0 && (first[n - 1] == '\n' || first[n - 1] == ' '))
            first[--n] = '\0';
        mc_why(why, whycap, "%s: %s does not compile: %s", ctx, path,
                first[0] ? first : "unreadable or not a schema");
        rc = MC_ERR_CONFIG;
    }
    xmlSchemaFreeParserCtxt(pctxt);
    return rc;
}

static mc_err parse_proc(const char *dir, json_t *v, catalog_proc *p, size_t idx, char *why,
                         size_t whycap)
{
    static const char *const keys[] = {"code", "name_vi", "name_en", "field", "time_limit",
                                       "time_limit_max", "fees", "xsd", "result_type",
                                       "result_valid_months", "inferred", "components", NULL};
    char ctx[160], sub[200];
    json_t *field, *comps, *c, *tlm;
    size_t i;
    mc_err rc;

    snprintf(ctx, sizeof(ctx), "catalog.json: procedures[%zu]", idx);
    if (!json_is_object(v)) {
        mc_why(why, whycap, "%s must be an object", ctx);
        return MC_ERR_CONFIG;
    }
    rc = get_str(v, "code", true, p->code, sizeof(p->code), ctx, why, whycap);
    if (rc)
        return rc;
    if (!proc_code_ok(p->code)) {
        mc_why(why, whycap, "%s: code \"%s\" is not shaped like 1.001193", ctx, p->code);
        return MC_ERR_CONFIG;
    }
    snprintf(ctx, sizeof(ctx), "catalog.json: procedure %s", p->code);
    rc = check_keys(v, keys, ctx, why, whycap);
    if (!rc)
        rc = get_str(v, "name_vi", true, p->name_vi, sizeof(p->name_vi), ctx, why, whycap);
    if (!rc)
        rc = get_str(v, "name_en", true, p->name_en, sizeof(p->name_en), ctx, why, whycap);
    if (!rc)
        rc = get_str(v, "xsd", true, p->xsd, sizeof(p->xsd), ctx, why, whycap);
    if (!rc)
        rc = get_str(v, "result_type", true, p->result_type, sizeof(p->result_type), ctx, why,
                     whycap);
    if (rc)
        return rc;
    if (!xsd_name_ok(p->xsd)) {
        mc_why(why, whycap, "%s: xsd \"%s\" must be a plain file name ending in .xsd", ctx,
                p->xsd);
        return MC_ERR_CONFIG;
    }
    if (!result_type_ok(p->result_type)) {
        mc_why(why, whycap, "%s: result_type \"%s\" is not shaped like KQ.G15.000031", ctx,
                p->result_type);
        return MC_ERR_CONFIG;
    }
    field = json_object_get(v, "field");
    snprintf(sub, sizeof(sub), "%s: field", ctx);
    if (!json_is_object(field)) {
        mc_why(why, whycap, "%s must be an object {vi, en}", sub);
        return MC_ERR_CONFIG;
    }
    rc = get_str(field, "vi", true, p->field_vi, sizeof(p->field_vi), sub, why, whycap);
    if (!rc)
        rc = get_str(field, "en", true, p->field_en, sizeof(p->field_en), sub, why, whycap);
    if (rc)
        return rc;
    snprintf(sub, sizeof(sub), "%s: time_limit", ctx);
    rc = parse_time_limit(json_object_get(v, "time_limit"), &p->time_limit, sub, why, whycap);
    if (rc)
        return rc;
    tlm = json_object_get(v, "time_limit_max");
    if (tlm) {
        snprintf(sub, sizeof(sub), "%s: time_limit_max", ctx);
        rc = parse_time_limit(tlm, &p->time_limit_max, sub, why, whycap);
        if (rc)
            return rc;
        p->has_time_limit_max = true;
    }
    if (json_object_get(v, "result_valid_months")) {
        long months = 0;
        if ((rc = get_int(v, "result_valid_months", 1, 120, &months, ctx, why, whycap)))
            return rc;
        p->result_valid_months = (int)months;
    }
    snprintf(sub, sizeof(sub), "%s: fees", ctx);
    rc = parse_fee(json_object_get(v, "fees"), &p->fee, sub, why, whycap);
    if (!rc)
        rc = parse_inferred(json_object_get(v, "inferred"), &p->inferred, ctx, why, whycap);
    if (rc)
        return rc;

    comps = json_object_get(v, "components");
    if (!json_is_array(comps) || json_array_size(comps) == 0 ||
        json_array_size(comps) > CATALOG_MAX_COMPONENTS) {
        mc_why(why, whycap, "%s: components must be an array of 1 to %d entries", ctx,
                CATALOG_MAX_COMPONENTS);
        return MC_ERR_CONFIG;
    }
    json_array_foreach(comps, i, c) {
        snprintf(sub, sizeof(sub), "%s: components[%zu]", ctx, i);
        rc = parse_component(c, &p->components[i], sub, why, whycap);
        if (rc)
            return rc;
        for (size_t k = 0; k < i; k++)
            if (strcmp(p->components[k].code, p->components[i].code) == 0) {
                mc_why(why, whycap, "%s: duplicate code %s", sub, p->components[i].code);
                return MC_ERR_CONFIG;
            }
        p->n_components = i + 1;
    }
    return compile_xsd(dir, p, ctx, why, whycap);
}

static mc_err parse_units(json_t *root, catalog *cat, char *why, size_t whycap)
{
    static const char *const keys[] = {"code", "name", "agency_id", "effective_from", NULL};
    json_t *units = json_object_get(root, "units"), *u;
    char ctx[96];
    size_t i;
    mc_err rc;

    if (!json_is_array(units) || json_array_size(units) == 0 ||
        json_array_size(units) > CATALOG_MAX_UNITS) {
        mc_why(why, whycap, "units.json: \"units\" must be an array of 1 to %d units",
                CATALOG_MAX_UNITS);
        return MC_ERR_CONFIG;
    }
    cat->units = calloc(json_array_size(units), sizeof(*cat->units));
    if (!cat->units)
        return MC_ERR_NOMEM;
    json_array_foreach(units, i, u) {
        catalog_unit *cu = &cat->units[i];

        snprintf(ctx, sizeof(ctx), "units.json: units[%zu]", i);
        if (!json_is_object(u)) {
            mc_why(why, whycap, "%s must be an object", ctx);
            return MC_ERR_CONFIG;
        }
        rc = check_keys(u, keys, ctx, why, whycap);
        if (!rc)
            rc = get_str(u, "code", true, cu->code, sizeof(cu->code), ctx, why, whycap);
        if (!rc)
            rc = get_str(u, "name", true, cu->name, sizeof(cu->name), ctx, why, whycap);
        if (!rc)
            rc = get_str(u, "agency_id", true, cu->agency_id, sizeof(cu->agency_id), ctx, why,
                         whycap);
        if (!rc)
            rc = get_str(u, "effective_from", true, cu->effective_from,
                         sizeof(cu->effective_from), ctx, why, whycap);
        if (rc)
            return rc;
        if (strlen(cu->code) != 5 || !digits(cu->code, 5)) {
            mc_why(why, whycap, "%s: code \"%s\" must be 5 digits", ctx, cu->code);
            return MC_ERR_CONFIG;
        }
        if (!agency_id_ok(cu->agency_id)) {
            mc_why(why, whycap, "%s (%s): agency_id \"%s\" is not shaped like H17.48.01", ctx,
                    cu->code, cu->agency_id);
            return MC_ERR_CONFIG;
        }
        if (!date_ok(cu->effective_from)) {
            mc_why(why, whycap, "%s (%s): effective_from must be YYYY-MM-DD", ctx, cu->code);
            return MC_ERR_CONFIG;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(cat->units[k].code, cu->code) == 0) {
                mc_why(why, whycap, "%s: duplicate unit code %s", ctx, cu->code);
                return MC_ERR_CONFIG;
            }
        cat->n_units = i + 1;
    }
    return MC_OK;
}

void catalog_free(catalog *cat)
{
    if (!cat)
        return;
    for (size_t i = 0; i < cat->n_procs; i++) {
        xmlSchemaFree(cat->procs[i].schema);
        free(cat->procs[i].json);
        for (size_t k = 0; k < cat->procs[i].n_components; k++)
            free(cat->procs[i].components[k].json_members);
    }
    for (size_t i = 0; i < cat->n_units; i++)
        free(cat->units[i].json);
    free(cat->procs);
    free(cat->units);
    free(cat);
}

/* o rendered compactly (stolen), or only its members when members_only; NULL when out of memory. */
static char *render(json_t *o, bool members_only)
{
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s && members_only) { /* "{…}" -> "…" */
        size_t n = strlen(s);
        memmove(s, s + 1, n - 2);
        s[n - 2] = '\0';
    }
    return s;
}

json_t *catalog_proc_json(const catalog_proc *p)
{
    return json_pack("{s:s, s:s, s:s}", "code", p->code, "name", p->name_vi, "nameEn", p->name_en);
}

json_t *catalog_component_json(const catalog_component *c)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:b}", "code", c->code, "name", c->name_vi, "nameEn", c->name_en,
                          "required", c->required);
    if (o && c->satisfy == CATALOG_SATISFY_RESULT)
        json_object_set_new(o, "resultType", json_string(c->result_type));
    return o;
}

/* The receipts' catalog-constant parts, rendered once here by jansson instead of once per dossier
 * (they were a sixth of an intake's instructions); intake joins them with the per-dossier parts. */
static mc_err render_receipt_parts(catalog *cat)
{
    for (size_t i = 0; i < cat->n_units; i++) {
        catalog_unit *u = &cat->units[i];
        if (!(u->json = render(json_pack("{s:s, s:s, s:s}", "code", u->code, "name", u->name, "agencyId",
                                         u->agency_id), false)))
            return MC_ERR_NOMEM;
    }
    for (size_t i = 0; i < cat->n_procs; i++) {
        catalog_proc *p = &cat->procs[i];
        if (!(p->json = render(catalog_proc_json(p), false)))
            return MC_ERR_NOMEM;
        for (size_t k = 0; k < p->n_components; k++)
            if (!(p->components[k].json_members = render(catalog_component_json(&p->components[k]), true)))
                return MC_ERR_NOMEM;
    }
    return MC_OK;
}

mc_err catalog_load(const char *schemas_dir, catalog **out, char *why, size_t whycap)
{
    catalog *cat = NULL;
    json_t *croot = NULL, *uroot = NULL, *procs, *v;
    size_t i;
    mc_err rc;

    if (why && whycap)
        why[0] = '\0';
    if (!schemas_dir || !out)
        return MC_ERR_INTERNAL;
    *out = NULL;
    xmlInitParser();
    cat = calloc(1, sizeof(*cat));
    if (!cat)
        return MC_ERR_NOMEM;
    rc = load_json(schemas_dir, "catalog.json", &croot, why, whycap);
    if (!rc)
        rc = load_json(schemas_dir, "units.json", &uroot, why, whycap);
    if (rc)
        goto fail;
    rc = parse_units(uroot, cat, why, whycap);
    if (rc)
        goto fail;
    procs = json_object_get(croot, "procedures");
    if (!json_is_array(procs) || json_array_size(procs) == 0 ||
        json_array_size(procs) > CATALOG_MAX_PROCS) {
        mc_why(why, whycap, "catalog.json: \"procedures\" must be an array of 1 to %d entries",
                CATALOG_MAX_PROCS);
        rc = MC_ERR_CONFIG;
        goto fail;
    }
    cat->procs = calloc(json_array_size(procs), sizeof(*cat->procs));
    if (!cat->procs) {
        rc = MC_ERR_NOMEM;
        goto fail;
    }
    json_array_foreach(procs, i, v) {
        /* Counted before parsing so that catalog_free releases a schema compiled on failure. */
        cat->n_procs = i + 1;
        rc = parse_proc(schemas_dir, v, &cat->procs[i], i, why, whycap);
        if (rc)
            goto fail;
        for (size_t k = 0; k < i; k++)
            if (strcmp(cat->procs[k].code, cat->procs[i].code) == 0) {
                mc_why(why, whycap, "catalog.json: procedures[%zu]: duplicate code %s", i,
                        cat->procs[i].code);
                rc = MC_ERR_CONFIG;
                goto fail;
            }
    }
    if ((rc = render_receipt_parts(cat)))
        goto fail;
    json_decref(croot);
    json_decref(uroot);
    *out = cat;
    return MC_OK;
fail:
    if (rc == MC_ERR_NOMEM)
        mc_why(why, whycap, "out of memory loading the catalog");
    json_decref(croot);
    json_decref(uroot);
    catalog_free(cat);
    return rc;
}

const catalog_proc *catalog_find(const catalog *cat, const char *code)
{
    if (!cat || !code)
        return NULL;
    for (size_t i = 0; i < cat->n_procs; i++)
        if (strcmp(cat->procs[i].code, code) == 0)
            return &cat->procs[i];
    return NULL;
}

size_t catalog_count(const catalog *cat)
{
    return cat ? cat->n_procs : 0;
}

const catalog_proc *catalog_at(const catalog *cat, size_t i)
{
    return cat && i < cat->n_procs ? &cat->procs[i] : NULL;
}

const catalog_unit *catalog_find_unit(const catalog *cat, const char *ward_code)
{
    if (!cat || !ward_code)
        return NULL;
    for (size_t i = 0; i < cat->n_units; i++)
        if (strcmp(cat->units[i].code, ward_code) == 0)
            return &cat->units[i];
    return NULL;
}

size_t catalog_unit_count(const catalog *cat)
{
    return cat ? cat->n_units : 0;
}

const catalog_unit *catalog_unit_at(const catalog *cat, size_t i)
{
    return cat && i < cat->n_units ? &cat->units[i] : NULL;
}

const catalog_component *catalog_find_component(const catalog_proc *p, const char *code)
{
    if (!p || !code)
        return NULL;
    for (size_t i = 0; i < p->n_components; i++)
        if (strcmp(p->components[i].code, code) == 0)
            return &p->components[i];
    return NULL;
}

/* ---- validation ---------------------------------------------------------------------------- */

typedef struct validate_state {
    json_t *errors;
    bool nomem;
} validate_state;

static bool same_name(xmlNodePtr a, xmlNodePtr b)
{
    if (a->type != XML_ELEMENT_NODE || b->type != XML_ELEMENT_NODE)
        return false;
    if (strcmp((const char *)a->name, (const char *)b->name) != 0)
        return false;
    if (!a->ns || !b->ns)
        return a->ns == b->ns;
    return strcmp((const char *)a->ns->href, (const char *)b->ns->href) == 0;
}

/* "/dossier/components/component[2]/file": local names, [n] only among same-named siblings.
 * xmlGetNodePath would print "*" for every default-namespace element, useless to a citizen. */
static void node_path(xmlNodePtr node, char *buf, size_t cap)
{
    xmlNodePtr chain[VALIDATE_DEPTH_CAP];
    const char *attr = NULL;
    size_t depth = 0, len = 0;
    bool truncated = false;

    buf[0] = '\0';
    if (node && node->type == XML_ATTRIBUTE_NODE) {
        attr = (const char *)node->name;
        node = node->parent;
    }
    for (xmlNodePtr n = node; n && n->type == XML_ELEMENT_NODE; n = n->parent) {
        if (depth == VALIDATE_DEPTH_CAP) {
            truncated = true;
            break;
        }
        chain[depth++] = n;
    }
    if (truncated)
        len += (size_t)snprintf(buf + len, cap - len, "/...");
    while (depth > 0 && len < cap) {
        xmlNodePtr n = chain[--depth], s;
        int idx = 1;
        bool several = false;

        for (s = n->prev; s; s = s->prev)
            if (same_name(s, n)) {
                idx++;
                several = true;
            }
        for (s = n->next; s && !several; s = s->next)
            if (same_name(s, n))
                several = true;
        if (several)
            len += (size_t)snprintf(buf + len, cap - len, "/%s[%d]", (const char *)n->name, idx);
        else
            len += (size_t)snprintf(buf + len, cap - len, "/%s", (const char *)n->name);
    }
    if (attr && len < cap)
        snprintf(buf + len, cap - len, "/@%s", attr);
    /* A cut above can fall inside a non-ASCII name; jansson refuses invalid UTF-8, which would lose
     * the whole error list as "out of memory" (fuzz/regressions/dossier). */
    buf[utf8_valid_prefix((const unsigned char *)buf, strlen(buf))] = '\0';
    if (buf[0] == '\0' && cap > 1)
        snprintf(buf, cap, "/");
}

/* Drops "{urn:motcua:dossier:1}" qualifiers and trailing whitespace; cuts on a UTF-8 boundary. */
static void clean_message(const char *msg, char *buf, size_t cap)
{
    static const char qual[] = "{" DOSSIER_XML_NS "}";
    size_t len = 0;

    while (msg && *msg && len + 1 < cap) {
        if (strncmp(msg, qual, sizeof(qual) - 1) == 0) {
            msg += sizeof(qual) - 1;
            continue;
        }
        buf[len++] = *msg++;
    }
    if (msg && ((unsigned char)*msg & 0xC0) == 0x80) {
        /* cut inside a multi-byte character: drop its copied part, lead byte included */
        while (len > 0 && ((unsigned char)buf[len - 1] & 0xC0) == 0x80)
            len--;
        if (len > 0)
            len--;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' ' || buf[len - 1] == '\r' ||
                       buf[len - 1] == '\t'))
        len--;
    buf[len] = '\0';
}

/* libxml2 reports attribute errors on the owning element ("Element 'dossier', attribute
 * 'procedure': ..."): point the path at the attribute itself. */
static void attr_suffix(const char *msg, char *path, size_t cap)
{
    const char *a = strstr(msg, "', attribute '");
    const char *end;
    size_t len = strlen(path);

    if (!a || strncmp(msg, "Element '", 9) != 0 || strstr(path, "/@"))
        return;
    a += strlen("', attribute '");
    end = strchr(a, '\'');
    if (!end || end == a || end - a > 64 || len + (size_t)(end - a) + 3 > cap)
        return;
    snprintf(path + len, cap - len, "/@%.*s", (int)(end - a), a);
}

static void collect_error(void *ud, xmlErrorPtr e)
{
    validate_state *st = ud;
    char path[VALIDATE_PATH_CAP], msg[VALIDATE_MSG_CAP];
    json_t *obj;

    if (!e || st->nomem || json_array_size(st->errors) >= CATALOG_MAX_ERRORS)
        return;
    if (e->level == XML_ERR_WARNING)
        return;
    node_path((xmlNodePtr)e->node, path, sizeof(path));
    clean_message(e->message, msg, sizeof(msg));
    attr_suffix(msg, path, sizeof(path));
    obj = json_pack("{s:i, s:s, s:s}", "line", e->line, "path", path, "message",
                    msg[0] ? msg : "schema validity error");
    if (!obj || json_array_append_new(st->errors, obj) != 0)
        st->nomem = true;
}

mc_err catalog_validate(const catalog_proc *p, xmlDocPtr doc, json_t **errors)
{
    xmlSchemaValidCtxtPtr vctxt = NULL;
    validate_state st = {NULL, false};
    mc_err rc = MC_ERR_INTERNAL;
    int ret;

    if (!p || !p->schema || !doc || !errors)
        return MC_ERR_INTERNAL;
    st.errors = json_array();
    vctxt = xmlSchemaNewValidCtxt(p->schema);
    if (!st.errors || !vctxt) {
        rc = MC_ERR_NOMEM;
        goto out;
    }
    xmlSchemaSetValidStructuredErrors(vctxt, collect_error, &st);
    ret = xmlSchemaValidateDoc(vctxt, doc);
    if (st.nomem) {
        rc = MC_ERR_NOMEM;
        goto out;
    }
    if (ret < 0)
        goto out;
    if (ret == 0) {
        rc = MC_OK;
        goto out;
    }
    if (json_array_size(st.errors) == 0) {
        json_t *obj = json_pack("{s:i, s:s, s:s}", "line", 0, "path", "/", "message",
                                "the dossier does not match the procedure schema");

        if (!obj || json_array_append_new(st.errors, obj) != 0) {
            rc = MC_ERR_NOMEM;
            goto out;
        }
    }
    *errors = st.errors;
    st.errors = NULL;
    rc = MC_ERR_XSD_INVALID;
out:
    xmlSchemaFreeValidCtxt(vctxt);
    json_decref(st.errors);
    return rc;
}

/* ---- fees and component plan ------------------------------------------------------------- */

mc_err catalog_fee_total(const catalog_fee *fee, int n_copies, int n_pages, long *out_vnd)
{
    long per_copy = 0;

    if (!fee || !out_vnd || n_copies < 1 || n_copies > 10000)
        return MC_ERR_BAD_REQUEST;
    switch (fee->kind) {
    case CATALOG_FEE_NONE:
        *out_vnd = 0;
        return MC_OK;
    case CATALOG_FEE_FLAT:
        *out_vnd = fee->per == CATALOG_PER_COPY ? fee->amount_vnd * n_copies : fee->amount_vnd;
        return MC_OK;
    case CATALOG_FEE_TIERED:
        if (n_pages < 1 || n_pages > 10000 || fee->n_tiers == 0)
            return MC_ERR_BAD_REQUEST;
        for (int page = 1; page <= n_pages; page++) {
            size_t t = 0;

            while (t + 1 < fee->n_tiers && fee->tiers[t + 1].from_page <= page)
                t++;
            per_copy += fee->tiers[t].amount_vnd;
        }
        if (fee->cap_vnd > 0 && per_copy > fee->cap_vnd)
            per_copy = fee->cap_vnd;
        *out_vnd = fee->per == CATALOG_PER_COPY ? per_copy * n_copies : per_copy;
        return MC_OK;
    }
    return MC_ERR_BAD_REQUEST;
}

const char *catalog_how_name(catalog_how how)
{
    switch (how) {
    case CATALOG_HOW_UPLOAD:
        return "upload";
    case CATALOG_HOW_POPULATION:
        return "population";
    case CATALOG_HOW_RESULT:
        return "result";
    case CATALOG_HOW_MISSING:
        return "missing";
    }
    return "unknown";
}

mc_err catalog_plan(const catalog_proc *p, const dossier_doc *d, catalog_plan_list *out,
                    char *why, size_t cap)
{
    if (why && cap)
        why[0] = '\0';
    if (!out)
        return MC_ERR_INTERNAL;
    memset(out, 0, sizeof(*out));
    if (!p || !d || d->n_components > DOSSIER_MAX_COMPONENTS)
        return MC_ERR_INTERNAL;

    /* First every entry the citizen gave must make sense for this procedure. */
    for (size_t i = 0; i < d->n_components; i++) {
        const dossier_component *dc = &d->components[i];
        const catalog_component *cc = catalog_find_component(p, dc->code);

        if (!cc) {
            mc_why(why, cap, "Thủ tục %s không có thành phần hồ sơ %s "
                    "(procedure %s has no document component %s)", p->code, dc->code, p->code,
                    dc->code);
            goto refuse;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(d->components[k].code, dc->code) == 0) {
                mc_why(why, cap, "Thành phần hồ sơ %s được khai hai lần "
                        "(document component %s is given twice)", dc->code, dc->code);
                goto refuse;
            }
        if (dc->kind == DOSSIER_COMP_REUSE_POPULATION && cc->satisfy != CATALOG_SATISFY_POPULATION) {
            mc_why(why, cap, "Thành phần %s (%s) không lấy được từ CSDL quốc gia về dân cư "
                    "(component %s cannot be taken from the population database)", cc->code,
                    cc->name_vi, cc->code);
            goto refuse;
        }
        if (dc->kind == DOSSIER_COMP_REUSE_RESULT && cc->satisfy != CATALOG_SATISFY_RESULT) {
            mc_why(why, cap, "Thành phần %s (%s) không thay được bằng kết quả điện tử đã cấp "
                    "(component %s cannot be replaced by an issued electronic result)",
                    cc->code, cc->name_vi, cc->code);
            goto refuse;
        }
    }

    for (size_t i = 0; i < p->n_components; i++) {
        const catalog_component *cc = &p->components[i];
        catalog_plan_item *it = &out->items[i];
        const dossier_component *dc = NULL;

        it->component = cc;
        it->dossier_index = -1;
        for (size_t k = 0; k < d->n_components; k++)
            if (strcmp(d->components[k].code, cc->code) == 0) {
                dc = &d->components[k];
                it->dossier_index = (int)k;
            }
        if (dc && dc->kind == DOSSIER_COMP_FILE) {
            it->how = CATALOG_HOW_UPLOAD;
            memcpy(it->ref, dc->ref, sizeof(it->ref));
        } else if (cc->satisfy == CATALOG_SATISFY_POPULATION) {
            it->how = CATALOG_HOW_POPULATION;
        } else if (cc->satisfy == CATALOG_SATISFY_RESULT) {
            it->how = CATALOG_HOW_RESULT;
            if (dc)
                memcpy(it->ref, dc->ref, sizeof(it->ref));
        } else if (cc->required) {
            mc_why(why, cap, "Thiếu thành phần hồ sơ bắt buộc %s (%s) "
                    "(required document component %s is missing: %s)", cc->code, cc->name_vi,
                    cc->code, cc->name_en);
            goto refuse;
        } else {
            it->how = CATALOG_HOW_MISSING;
        }
    }
    out->count = p->n_components;
    return MC_OK;
refuse:
    memset(out, 0, sizeof(*out));
    return MC_ERR_XSD_INVALID;
}
