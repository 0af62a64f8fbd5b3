/* migrate.c - applies db/migrations/NNN_*.sql in order and records each in schema_version. */
#include "migrate.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MIGRATIONS 999
#define MAX_FILE (4u << 20)

static const char SQL_CREATE_VERSION[] =
    "CREATE TABLE IF NOT EXISTS schema_version ("
    " version INT NOT NULL PRIMARY KEY, name VARCHAR(200) NOT NULL, applied_at DATETIME(6) NOT NULL"
    ") ENGINE=InnoDB";
static const char SQL_MAX_VERSION[] = "SELECT COALESCE(MAX(version), 0) FROM schema_version";
static const char SQL_RECORD[] = "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, UTC_TIMESTAMP(6))";
static const char SQL_LOCK[] = "SELECT GET_LOCK('motcua_migrate', 60)";
static const char SQL_UNLOCK[] = "SELECT RELEASE_LOCK('motcua_migrate')";

int migrate_known_version(void) { return MOTCUA_SCHEMA_VERSION; }

static mc_err current_version(db_conn *c, int *v)
{
    db_rows *r = NULL;
    mc_err rc = db_query(c, SQL_MAX_VERSION, NULL, 0, &r);
    if (!rc) *v = atoi(db_rows_get(r, 0, 0, NULL) ? db_rows_get(r, 0, 0, NULL) : "0");
    db_rows_free(r);
    return rc;
}

static char *read_file(const char *path, char *why, size_t whycap)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (!f) {
        snprintf(why, whycap, "cannot open %s", path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n >= 0 && (size_t)n < MAX_FILE && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
            if (fread(buf, 1, (size_t)n, f) == (size_t)n) buf[n] = '\0';
            else { free(buf); buf = NULL; }
        }
    }
    fclose(f);
    if (!buf) snprintf(why, whycap, "cannot read %s", path);
    return buf;
}

/* Find the file named NNN_*.sql for version v. */
static mc_err find_migration(const char *dir, int v, char *path, size_t cap, char *name, size_t namecap)
{
    DIR *d = opendir(dir);
    if (!d) return MC_ERR_IO;
    char prefix[16];
    snprintf(prefix, sizeof(prefix), "%03d_", v % 1000);
    struct dirent *e;
    mc_err rc = MC_ERR_NOT_FOUND;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, 4) == 0 && n > 4 && strcmp(e->d_name + n - 4, ".sql") == 0) {
            snprintf(path, cap, "%s/%s", dir, e->d_name);
            snprintf(name, namecap, "%s", e->d_name);
            rc = MC_OK;
            break;
        }
    }
    closedir(d);
    return rc;
}

mc_err migrate_apply(db_conn *c, const char *dir, int *from, int *to, char *why, size_t whycap)
{
    db_rows *lock = NULL;
    char *sql = NULL;
    int v = 0;
    mc_err rc = db_script(c, SQL_CREATE_VERSION, why, whycap);
    if (rc) return rc;
    if ((rc = db_query(c, SQL_LOCK, NULL, 0, &lock))) return rc;
    const char *got = db_rows_get(lock, 0, 0, NULL);
    if (!got || strcmp(got, "1") != 0) {
        snprintf(why, whycap, "another process holds the migration lock");
        rc = MC_ERR_BUSY;
        goto out;
    }
    if ((rc = current_version(c, &v))) goto unlock;
    *from = v;
    if (v > MOTCUA_SCHEMA_VERSION) {
        snprintf(why, whycap, "database schema is version %d, this build knows %d: refusing", v, MOTCUA_SCHEMA_VERSION);
        rc = MC_ERR_SCHEMA_TOO_NEW;
        goto unlock;
    }
    for (int next = v + 1; next <= MOTCUA_SCHEMA_VERSION && next <= MAX_MIGRATIONS; next++) {
        char path[1024], name[256];
        if (find_migration(dir, next, path, sizeof(path), name, sizeof(name))) {
            snprintf(why, whycap, "migration %03d not found in %s", next, dir);
            rc = MC_ERR_CONFIG;
            goto unlock;
        }
        if (!(sql = read_file(path, why, whycap))) {
            rc = MC_ERR_IO;
            goto unlock;
        }
        if ((rc = db_script(c, sql, why, whycap))) goto unlock;
        db_param p[] = {db_i64(next), db_str(name)};
        if ((rc = db_exec(c, SQL_RECORD, p, 2, NULL, NULL))) goto unlock;
        free(sql);
        sql = NULL;
        v = next;
    }
unlock:
    *to = v;
    {
        db_rows *r = NULL;
        (void)db_query(c, SQL_UNLOCK, NULL, 0, &r);
        db_rows_free(r);
    }
out:
    free(sql);
    db_rows_free(lock);
    return rc;
}

mc_err migrate_check(db_conn *c, char *why, size_t whycap)
{
    int v = 0;
    db_rows *r = NULL;
    /* a missing table means version 0 */
    if (db_query(c, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE()"
                    " AND table_name = 'schema_version'", NULL, 0, &r) == MC_OK) {
        const char *n = db_rows_get(r, 0, 0, NULL);
        bool exists = n && strcmp(n, "0") != 0;
        db_rows_free(r);
        if (exists) {
            mc_err rc = current_version(c, &v);
            if (rc) return rc;
        }
    } else {
        return MC_ERR_DB_UNAVAILABLE;
    }
    if (v > MOTCUA_SCHEMA_VERSION) {
        snprintf(why, whycap, "database schema is version %d, newer than this build (%d): refusing to start", v,
                 MOTCUA_SCHEMA_VERSION);
        return MC_ERR_SCHEMA_TOO_NEW;
    }
    if (v < MOTCUA_SCHEMA_VERSION) {
        snprintf(why, whycap, "database schema is version %d, this build needs %d: run `motcua-admin migrate`", v,
                 MOTCUA_SCHEMA_VERSION);
        return MC_ERR_CONFIG;
    }
    return MC_OK;
}
