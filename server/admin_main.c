/* admin_main.c - motcua-admin: migrate, catalog load, API clients. Talks to MariaDB directly. */
#include <libxml/parser.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auth.h"
#include "boot.h"
#include "catalog_store.h"
#include "clients.h"
#include "migrate.h"
#include "results_api.h"
#include "sign.h"

static int usage(void)
{
    fprintf(stderr,
            "usage: motcua-admin [-c config] <command>\n"
            "  migrate                                   apply db/migrations (idempotent)\n"
            "  catalog load                              copy schemas/ catalog and units into the database\n"
            "  client create --role R [--ward W] [--name N]   print a new API key once (only its hash is kept)\n"
            "  client list\n"
            "  client revoke <id>\n"
            "  config-table                              print the configuration table (Markdown)\n"
            "  result issue --dossier CODE               sign and store the result of a stored dossier\n"
            "  result mark [--missing]                   verify every unrevoked result (or those without a current\n"
            "                                            mark), store the marks of those that pass\n"
            "  audit verify                              walk the audit hash chain; exit 1 at the first broken row\n"
            "roles: portal, national, official (needs --ward), monitor\n");
    return 2;
}

static int cmd_migrate(const mc_config *cfg, db_conn *c)
{
    char why[512] = "";
    int from = 0, to = 0;
    mc_err rc = migrate_apply(c, cfg->migrations_dir, &from, &to, why, sizeof(why));
    if (rc) {
        fprintf(stderr, "migrate: %s (%s)\n", why, mc_err_name(rc));
        return 1;
    }
    if (from == to) printf("schema is at version %d: nothing to do\n", to);
    else printf("schema migrated from version %d to %d\n", from, to);
    return 0;
}

static int cmd_catalog_load(app *a, db_conn *c)
{
    size_t np = 0, nu = 0;
    if (boot_data(a)) return 1;
    mc_err rc = catalog_store_load(c, a->cat, &np, &nu);
    if (rc) {
        fprintf(stderr, "catalog load: %s (%s)\n", mc_err_name(rc), db_conn_error(c));
        return 1;
    }
    printf("catalog loaded: %zu procedures, %zu units\n", np, nu);
    return 0;
}

static int cmd_client_create(int argc, char **argv, db_conn *c)
{
    const char *role = NULL, *ward = NULL, *name = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--role") == 0 && i + 1 < argc) role = argv[++i];
        else if (strcmp(argv[i], "--ward") == 0 && i + 1 < argc) ward = argv[++i];
        else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) name = argv[++i];
        else return usage();
    }
    if (auth_role_parse(role) == ROLE_NONE) {
        fprintf(stderr, "client create: --role must be portal, national, official or monitor\n");
        return 2;
    }
    if (auth_role_parse(role) == ROLE_OFFICIAL && (!ward || !*ward)) {
        fprintf(stderr, "client create: an official key needs --ward <ward code>\n");
        return 2;
    }
    char key[64], prefix[13], defname[64];
    unsigned char hash[32];
    uint64_t id = 0;
    if (!name) {
        snprintf(defname, sizeof(defname), "%s%s%s", role, ward ? "-" : "", ward ? ward : "");
        name = defname;
    }
    if (auth_key_new(key, sizeof(key), prefix, hash) || clients_insert(c, name, role, ward, prefix, hash, &id)) {
        fprintf(stderr, "client create: failed (%s)\n", db_conn_error(c));
        return 1;
    }
    printf("client %llu (%s, role %s%s%s)\nAPI key (shown once, store it now): %s\n", (unsigned long long)id, name,
           role, ward ? ", ward " : "", ward ? ward : "", key);
    return 0;
}

static int cmd_client_list(db_conn *c)
{
    db_rows *r = NULL;
    if (clients_list(c, &r)) {
        fprintf(stderr, "client list: %s\n", db_conn_error(c));
        return 1;
    }
    printf("%-5s %-24s %-9s %-6s %-13s %-27s %s\n", "id", "name", "role", "ward", "key prefix", "created (UTC)",
           "revoked (UTC)");
    for (size_t i = 0; i < db_rows_count(r); i++)
        printf("%-5s %-24s %-9s %-6s %-13s %-27s %s\n", db_rows_get(r, i, 0, NULL), db_rows_get(r, i, 1, NULL),
               db_rows_get(r, i, 2, NULL), db_rows_get(r, i, 3, NULL), db_rows_get(r, i, 4, NULL),
               db_rows_get(r, i, 5, NULL), db_rows_get(r, i, 6, NULL));
    db_rows_free(r);
    return 0;
}

/* Issue a dossier's result with the ward key from sign_dir (tests and demo data; the workflow's
 * approval calls results_api_issue the same way). Prints the result id. */
static int cmd_result_issue(app *a, int argc, char **argv, db_conn *c)
{
    const char *code = NULL;
    results_svc *svc = NULL;
    char why[512] = "", rid[RESULTS_ID_CAP] = "";
    int status = 1;
    mc_err rc;
    if (argc == 2 && strcmp(argv[0], "--dossier") == 0) code = argv[1];
    else return usage();
    if (boot_data(a)) return 1;
    if (sign_global_init() || results_api_svc_new(&a->cfg, &svc, why, sizeof(why))) {
        fprintf(stderr, "result issue: cannot initialise signing %s\n", why);
        goto out;
    }
    if ((rc = db_begin(c))) {
        fprintf(stderr, "result issue: %s (%s)\n", mc_err_name(rc), db_conn_error(c));
        goto out;
    }
    rc = results_api_issue(svc, a->cat, a->cal, c, code, rid, sizeof(rid), why, sizeof(why));
    if (!rc) rc = db_commit(c);
    else db_rollback(c);
    if (rc) {
        fprintf(stderr, "result issue: %s (%s)\n", why[0] ? why : db_conn_error(c), mc_err_name(rc));
        goto out;
    }
    printf("result %s issued for dossier %s\n", rid, code);
    status = 0;
out:
    results_api_svc_free(svc);
    sign_global_shutdown();
    return status;
}

/* Verify every unrevoked result and (re)store the verification marks of those that pass. Exit 1 when
 * marks are off or the database fails; refusals are reported (and logged) but are not a failure. */
static int cmd_result_mark(app *a, bool missing_only, db_conn *c)
{
    results_svc *svc = NULL;
    char why[512] = "";
    long seen = 0, marked = 0, refused = 0;
    int status = 1;
    if (sign_global_init() || results_api_svc_new(&a->cfg, &svc, why, sizeof(why))) {
        fprintf(stderr, "result mark: cannot initialise the verifier %s\n", why);
        goto out;
    }
    mc_err rc = results_api_mark_all(svc, c, missing_only, &seen, &marked, &refused);
    if (rc == MC_ERR_RESULTS_UNAVAILABLE) {
        fprintf(stderr, "result mark: marks are off (no mark_key_file %s, or no trust anchors)\n",
                a->cfg.mark_key_file);
        goto out;
    }
    if (rc) {
        fprintf(stderr, "result mark: %s (%s) after %ld results\n", mc_err_name(rc), db_conn_error(c), seen);
        goto out;
    }
    printf("%ld unrevoked results%s verified: %ld marked, %ld refused by the verifier\n", seen,
           missing_only ? " without a current mark" : "", marked, refused);
    status = 0;
out:
    results_api_svc_free(svc);
    sign_global_shutdown();
    return status;
}

/* Walk the audit chain: exit 0 when intact, 1 naming the first broken row. */
static int cmd_audit_verify(db_conn *c)
{
    uint64_t rows = 0, bad = 0;
    char why[512] = "";
    mc_err rc = audit_verify(c, &rows, &bad, why, sizeof(why));
    if (rc == MC_ERR_CONFLICT) {
        printf("audit chain BROKEN at row %llu: %s (%llu rows intact before it)\n", (unsigned long long)bad, why,
               (unsigned long long)rows);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "audit verify: %s (%s)\n", why, mc_err_name(rc));
        return 1;
    }
    printf("%llu rows, chain intact\n", (unsigned long long)rows);
    return 0;
}

static int cmd_client_revoke(const char *arg, db_conn *c)
{
    char *end = NULL;
    unsigned long long id = strtoull(arg, &end, 10);
    if (!*arg || *end) return usage();
    mc_err rc = clients_revoke(c, id);
    if (rc == MC_ERR_NOT_FOUND) {
        fprintf(stderr, "client revoke: no active client %llu\n", id);
        return 1;
    }
    if (rc) {
        fprintf(stderr, "client revoke: %s\n", db_conn_error(c));
        return 1;
    }
    printf("client %llu revoked (cached keys expire within auth_cache_ttl_s)\n", id);
    return 0;
}

int main(int argc, char **argv)
{
    app a;
    db_conn *c = NULL;
    db_dsn dsn;
    const char *cfg_path = NULL;
    int i = 1, status = 2;
    memset(&a, 0, sizeof(a));
    if (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
        cfg_path = argv[i + 1];
        i += 2;
    }
    if (i >= argc) return usage();
    if (boot_config(&a.cfg, cfg_path)) return 1;
    if (strcmp(argv[i], "config-table") == 0) {
        config_print_table();
        return 0;
    }
    mysql_library_init(0, NULL, NULL);
    xmlInitParser();
    if (boot_connect(&a.cfg, &dsn, &c)) {
        status = 1;
        goto out;
    }
    if (strcmp(argv[i], "migrate") == 0 && i + 1 == argc) status = cmd_migrate(&a.cfg, c);
    else if (strcmp(argv[i], "catalog") == 0 && i + 2 == argc && strcmp(argv[i + 1], "load") == 0)
        status = cmd_catalog_load(&a, c);
    else if (strcmp(argv[i], "client") == 0 && i + 1 < argc) {
        if (strcmp(argv[i + 1], "create") == 0) status = cmd_client_create(argc - i - 2, argv + i + 2, c);
        else if (strcmp(argv[i + 1], "list") == 0 && i + 2 == argc) status = cmd_client_list(c);
        else if (strcmp(argv[i + 1], "revoke") == 0 && i + 3 == argc) status = cmd_client_revoke(argv[i + 2], c);
        else status = usage();
    } else if (strcmp(argv[i], "result") == 0 && i + 1 < argc && strcmp(argv[i + 1], "issue") == 0)
        status = cmd_result_issue(&a, argc - i - 2, argv + i + 2, c);
    else if (strcmp(argv[i], "result") == 0 && i + 2 <= argc && strcmp(argv[i + 1], "mark") == 0 &&
             (i + 2 == argc || (i + 3 == argc && strcmp(argv[i + 2], "--missing") == 0)))
        status = cmd_result_mark(&a, i + 3 == argc, c);
    else if (strcmp(argv[i], "audit") == 0 && i + 2 == argc && strcmp(argv[i + 1], "verify") == 0)
        status = cmd_audit_verify(c);
    else status = usage();
out:
    db_conn_close(c);
    calendar_free(a.cal);
    catalog_free(a.cat);
    xmlCleanupParser();
    mysql_library_end();
    return status;
}
