/* config.c - the configuration table and its loader. Adding a key means adding one row below. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { CT_INT, CT_LONG, CT_STR } config_type;

typedef struct {
    const char *name;
    config_type type;
    size_t offset;
    size_t size;          /* for strings: buffer size */
    const char *def;
    long min, max;        /* for numbers */
    const char *desc;
} config_row;

#define SRC MOTCUA_SOURCE_DIR
#define ROW_I(n, d, lo, hi, txt) {#n, CT_INT, offsetof(mc_config, n), sizeof(int), d, lo, hi, txt}
#define ROW_L(n, d, lo, hi, txt) {#n, CT_LONG, offsetof(mc_config, n), sizeof(long), d, lo, hi, txt}
#define ROW_S(n, d, txt) {#n, CT_STR, offsetof(mc_config, n), sizeof(((mc_config *)0)->n), d, 0, 0, txt}

static const config_row rows[] = {
    ROW_S(listen_addr, "127.0.0.1", "address the HTTP API binds to"),
    ROW_I(listen_port, "8080", 1, 65535, "TCP port of the HTTP API"),
    ROW_S(db_dsn, "mariadb://motcua:motcua-dev@localhost/motcua?socket=" SRC "/.run/mariadb/mysqld.sock",
          "MariaDB target: mariadb://user:pass@host[:port]/db[?socket=/path][&bulk=off]"),
    ROW_I(db_pool_size, "8", 1, 128, "database worker threads, one connection each"),
    ROW_I(db_queue_cap, "2048", 16, 1000000, "requests waiting for a database worker before 503"),
    ROW_I(intake_inflight_max, "512", 1, 100000, "dossiers handed to the intake writer and not yet answered before 503 (~45 KiB each)"),
    ROW_I(db_connect_timeout_s, "2", 1, 60, "connect timeout towards MariaDB (seconds); reads and writes time out after 30 s"),
    ROW_S(schemas_dir, SRC "/schemas", "directory of catalog.json, units.json and the XSDs"),
    ROW_S(holidays_file, SRC "/schemas/calendar/holidays-vn.txt", "holiday table (data file: edit and restart, no rebuild)"),
    ROW_S(migrations_dir, SRC "/db/migrations", "ordered SQL migrations"),
    ROW_L(http_max_body, "16777216", 1024, 1073741824, "largest HTTP body read at all (bytes)"),
    ROW_I(http_timeout_s, "30", 1, 3600, "HTTP read/write timeout (seconds)"),
    ROW_L(xml_max_bytes, "1048576", 1024, 67108864, "largest dossier XML (bytes)"),
    ROW_I(xml_max_depth, "64", 4, 256, "deepest XML element nesting"),
    ROW_L(xml_max_attr_len, "4096", 16, 16777216, "longest XML attribute value (bytes)"),
    ROW_I(xml_max_attrs, "32", 1, 4096, "most attributes on one XML element"),
    ROW_L(xml_max_text_len, "65536", 16, 16777216, "longest XML text node (bytes)"),
    ROW_L(xml_max_nodes, "20000", 16, 10000000, "most XML elements in one document"),
    ROW_I(rate_limit_rps, "1000", 0, 1000000, "requests per second per API client (0 = off)"),
    ROW_I(rate_limit_burst, "2000", 1, 10000000, "token-bucket burst per API client"),
    ROW_I(auth_cache_ttl_s, "10", 0, 3600, "how long a verified API key is cached (revocation delay)"),
    ROW_I(shutdown_grace_ms, "10000", 0, 600000, "how long SIGTERM waits for in-flight requests"),
    ROW_I(tz_offset_min, "420", -720, 840, "local time offset for the calendar and codes (Asia/Ho_Chi_Minh)"),
    ROW_S(log_level, "info", "debug | info | warn | error"),
    ROW_S(sign_dir, SRC "/.run/certs", "ward signing keys: ward-<ward>[.<n>].key/.crt, loaded once at start (docs/signing.md)"),
    ROW_S(trust_ca_file, SRC "/.run/certs/ca.crt", "trust anchors for verifying results (PEM bundle)"),
    ROW_S(crl_file, SRC "/.run/certs/crl.pem", "CRLs checked when verifying results (PEM; empty = none)"),
    ROW_S(mark_key_file, SRC "/.run/certs/mark.key",
          "secret key (32-64 random bytes, mode 600) sealing verification marks of results; missing or empty: marks "
          "off, every first reuse after a start verifies in full (docs/reuse.md)"),
    ROW_L(verify_max_bytes, "262144", 1024, 1048576, "largest document POST /v1/verify accepts (bytes)"),
    ROW_I(verify_rate_rps, "20", 0, 1000000, "POST /v1/verify requests per second per client IP (0 = off)"),
    ROW_S(popdb_url, "", "population database gateway base URL (https://...); empty: identity checks off"),
    ROW_S(popdb_client_id, "motcua-danang", "gateway client id (X-Client-Id)"),
    ROW_S(popdb_secret, "", "gateway HMAC-SHA256 secret"),
    ROW_S(popdb_ca_file, SRC "/.run/certs/ca.crt", "the only CA trusted for the gateway's TLS certificate"),
    ROW_S(popdb_client_cert, "", "client certificate for mutual TLS (optional)"),
    ROW_S(popdb_client_key, "", "client key for mutual TLS (optional)"),
    ROW_I(popdb_timeout_ms, "3000", 100, 60000, "timeout of one gateway call (ms)"),
    ROW_I(popdb_max_retries, "3", 0, 10, "retries of a call on timeout, connection error or 5xx"),
    ROW_I(popdb_breaker_threshold, "5", 0, 1000, "consecutive failures that open the circuit breaker (0 = off)"),
    ROW_I(popdb_breaker_cooldown_ms, "10000", 100, 600000, "how long the breaker stays open before a probe (ms)"),
    ROW_I(popdb_max_inflight, "256", 1, 10000, "gateway calls in flight at once"),
    ROW_I(prefill_rate_rps, "5", 1, 100000, "prefill look-ups per second per portal client"),
    ROW_I(identity_poll_ms, "200", 10, 60000, "how often an idle sweeper looks for dossiers to check (ms)"),
    ROW_I(identity_batch, "64", 1, 1000, "dossiers claimed per sweep"),
    ROW_I(identity_lease_s, "60", 5, 3600, "how long a claimed dossier is ours before another process may take it"),
    ROW_I(identity_backoff_base_s, "2", 1, 3600, "first retry delay of a parked dossier (s), doubled per attempt"),
    ROW_I(identity_backoff_cap_s, "300", 1, 86400, "longest retry delay of a parked dossier (s)"),
    ROW_L(attachment_max_bytes, "10485760", 1024, 16777216,
          "largest attachment (bytes); also capped by http_max_body, which libevent enforces first"),
    ROW_L(dossier_attachments_max_bytes, "52428800", 1024, 68719476736L, "most attachment bytes on one dossier"),
};

static mc_err set_row(mc_config *cfg, const config_row *r, const char *value, char *why, size_t whycap)
{
    char *p = (char *)cfg + r->offset;
    if (r->type == CT_STR) {
        size_t n = strlen(value);
        if (n >= r->size) {
            snprintf(why, whycap, "config key '%s': value longer than %zu bytes", r->name, r->size - 1);
            return MC_ERR_CONFIG;
        }
        memcpy(p, value, n + 1);
        return MC_OK;
    }
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    while (end && isspace((unsigned char)*end)) end++;
    if (errno || end == value || (end && *end)) {
        snprintf(why, whycap, "config key '%s': '%s' is not an integer", r->name, value);
        return MC_ERR_CONFIG;
    }
    if (v < r->min || v > r->max) {
        snprintf(why, whycap, "config key '%s': %ld is outside [%ld, %ld]", r->name, v, r->min, r->max);
        return MC_ERR_CONFIG;
    }
    if (r->type == CT_INT) *(int *)p = (int)v;
    else *(long *)p = v;
    return MC_OK;
}

static const config_row *find_row(const char *key)
{
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (strcmp(rows[i].name, key) == 0) return &rows[i];
    return NULL;
}

mc_err config_set(mc_config *cfg, const char *key, const char *value, char *why, size_t whycap)
{
    const config_row *r = find_row(key);
    if (!r) {
        snprintf(why, whycap, "unknown config key '%s'", key);
        return MC_ERR_CONFIG;
    }
    return set_row(cfg, r, value, why, whycap);
}

void config_defaults(mc_config *cfg)
{
    char why[128];
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        (void)set_row(cfg, &rows[i], rows[i].def, why, sizeof(why)); /* defaults are in bounds by construction */
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = '\0';
    return s;
}

static mc_err load_file(mc_config *cfg, const char *path, char *why, size_t whycap)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, whycap, "config file '%s': %s", path, strerror(errno));
        return MC_ERR_CONFIG;
    }
    char line[1024];
    int lineno = 0;
    mc_err rc = MC_OK;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(why, whycap, "config file '%s' line %d: expected key = value", path, lineno);
            rc = MC_ERR_CONFIG;
            break;
        }
        *eq = '\0';
        rc = config_set(cfg, trim(s), trim(eq + 1), why, whycap);
        if (rc) break;
    }
    fclose(f);
    return rc;
}

mc_err config_load(mc_config *cfg, const char *path, char *why, size_t whycap)
{
    mc_err rc;
    if (path && (rc = load_file(cfg, path, why, whycap))) return rc;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char env[96] = "MOTCUA_";
        size_t n = strlen(env);
        for (const char *k = rows[i].name; *k && n < sizeof(env) - 1; k++) env[n++] = (char)toupper((unsigned char)*k);
        env[n] = '\0';
        const char *v = getenv(env);
        if (v && (rc = set_row(cfg, &rows[i], v, why, whycap))) return rc;
    }
    return MC_OK;
}

void config_print_table(void)
{
    static const char *tn[] = {"int", "long", "string"};
    printf("| key | type | default | bounds | description |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const config_row *r = &rows[i];
        char b[64] = "";
        if (r->type != CT_STR) snprintf(b, sizeof(b), "%ld..%ld", r->min, r->max);
        /* the source-tree path is a build detail: print it as <source> */
        char def[640] = "";
        const char *at = strstr(r->def, SRC);
        if (at) snprintf(def, sizeof(def), "%.*s<source>%s", (int)(at - r->def), r->def, at + strlen(SRC));
        else snprintf(def, sizeof(def), "%s", r->def);
        printf("| `%s` | %s | `%s` | %s | ", r->name, tn[r->type], def, b);
        for (const char *d = r->desc; *d; d++) /* a '|' in a description would end the Markdown cell */
            fputs(*d == '|' ? "\\|" : (char[]){*d, '\0'}, stdout);
        printf(" |\n");
    }
}
