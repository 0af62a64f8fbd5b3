/* db.c - MariaDB Connector/C wrapper: prepared statements with a per-connection cache, text results,
 * and the worker pool that keeps blocking database calls off the libevent loop. */
#include "db.h"

#include <errno.h>
#include <limits.h>
#include <event2/event.h>
#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STMT_CACHE_CAP 48
#define MAX_PARAMS 64
#define MAX_COLS 64
#define MAX_VALUE (16u << 20)
#define MAX_ROWS 100000
#define WORKER_NICE 5 /* workers yield the CPU to the loop thread */

typedef struct {
    const char *sql;
    MYSQL_STMT *st;
} stmt_slot;

struct db_conn {
    MYSQL *my;
    bool broken;
    bool bulk;      /* array binding usable: the server has bulk operations and the DSN did not turn them off */
    bool implicit;  /* autocommit off: a transaction starts with the first statement (db_conn_implicit) */
    char err[256];
    stmt_slot cache[STMT_CACHE_CAP];
    size_t ncache;
    char small[MAX_COLS][256]; /* db_query's fetch buffers: one per connection, not an allocation a query */
};

/* ---------------- DSN ---------------- */

static mc_err copy_part(char *dst, size_t cap, const char *s, size_t n, const char *what, char *why,
                        size_t whycap)
{
    if (n >= cap) {
        snprintf(why, whycap, "db_dsn: %s too long", what);
        return MC_ERR_CONFIG;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return MC_OK;
}

mc_err db_dsn_parse(const char *dsn, db_dsn *out, char *why, size_t whycap)
{
    static const char scheme[] = "mariadb://";
    memset(out, 0, sizeof(*out));
    if (strncmp(dsn, scheme, sizeof(scheme) - 1) != 0) {
        snprintf(why, whycap, "db_dsn: must start with %s", scheme);
        return MC_ERR_CONFIG;
    }
    const char *p = dsn + sizeof(scheme) - 1;
    const char *at = strrchr(p, '@');
    const char *slash = at ? strchr(at, '/') : NULL;
    if (!at || !slash) {
        snprintf(why, whycap, "db_dsn: expected mariadb://user:pass@host[:port]/db[?socket=/path][&bulk=off]");
        return MC_ERR_CONFIG;
    }
    const char *colon = memchr(p, ':', (size_t)(at - p));
    mc_err rc = copy_part(out->user, sizeof(out->user), p, (size_t)((colon ? colon : at) - p), "user", why, whycap);
    if (!rc && colon)
        rc = copy_part(out->password, sizeof(out->password), colon + 1, (size_t)(at - colon - 1), "password", why,
                       whycap);
    if (rc) return rc;
    const char *h = at + 1;
    const char *pc = memchr(h, ':', (size_t)(slash - h));
    if ((rc = copy_part(out->host, sizeof(out->host), h, (size_t)((pc ? pc : slash) - h), "host", why, whycap)))
        return rc;
    if (pc) {
        char *end = NULL;
        long port = strtol(pc + 1, &end, 10);
        if (end != slash || port <= 0 || port > 65535) {
            snprintf(why, whycap, "db_dsn: bad port");
            return MC_ERR_CONFIG;
        }
        out->port = (unsigned)port;
    }
    const char *q = strchr(slash, '?');
    if ((rc = copy_part(out->dbname, sizeof(out->dbname), slash + 1, (size_t)((q ? q : slash + strlen(slash)) - slash - 1),
                        "database", why, whycap)))
        return rc;
    if (!out->dbname[0]) {
        snprintf(why, whycap, "db_dsn: database name missing");
        return MC_ERR_CONFIG;
    }
    out->bulk = true;
    for (const char *o = q; o && *o; o = strchr(o, '&')) { /* ?name=value[&name=value] */
        o++;
        size_t n = strcspn(o, "&");
        if (n > 7 && strncmp(o, "socket=", 7) == 0) {
            if ((rc = copy_part(out->socket, sizeof(out->socket), o + 7, n - 7, "socket", why, whycap))) return rc;
        } else if (n == 7 && strncmp(o, "bulk=on", 7) == 0) {
            out->bulk = true;
        } else if (n == 8 && strncmp(o, "bulk=off", 8) == 0) {
            out->bulk = false;
        } else {
            snprintf(why, whycap, "db_dsn: unknown option '%.*s' (known: socket=/path, bulk=on|off)",
                     (int)(n < 40 ? n : 40), o);
            return MC_ERR_CONFIG;
        }
    }
    return MC_OK;
}

/* ---------------- connection ---------------- */

static mc_err map_errno(db_conn *c, unsigned no, const char *msg)
{
    snprintf(c->err, sizeof(c->err), "%u: %s", no, msg ? msg : "");
    switch (no) {
    case ER_DUP_ENTRY:
        return MC_ERR_CONFLICT;
    case ER_LOCK_DEADLOCK:
    case ER_LOCK_WAIT_TIMEOUT:
        return MC_ERR_DB_RETRY;
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_LOST_EXTENDED:
    case ER_SERVER_SHUTDOWN:
    case ER_CONNECTION_KILLED:
    case 4031: /* ER_CLIENT_INTERACTION_TIMEOUT */
        c->broken = true;
        return MC_ERR_DB_UNAVAILABLE;
    default:
        if (no >= 2000 && no < 3000) { /* any other client-side error: do not trust the link */
            c->broken = true;
            return MC_ERR_DB_UNAVAILABLE;
        }
        return MC_ERR_INTERNAL;
    }
}

mc_err db_conn_open(const db_dsn *dsn, int timeout_s, db_conn **out, char *why, size_t whycap)
{
    db_conn *c = NULL;
    mc_err rc = MC_ERR_DB_UNAVAILABLE;
    *out = NULL;
    if (!(c = calloc(1, sizeof(*c))) || !(c->my = mysql_init(NULL))) {
        rc = MC_ERR_NOMEM;
        goto fail;
    }
    unsigned to = (unsigned)timeout_s, rw = 30;
    mysql_optionsv(c->my, MYSQL_OPT_CONNECT_TIMEOUT, &to);
    mysql_optionsv(c->my, MYSQL_OPT_READ_TIMEOUT, &rw);
    mysql_optionsv(c->my, MYSQL_OPT_WRITE_TIMEOUT, &rw);
    mysql_optionsv(c->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_optionsv(c->my, MYSQL_INIT_COMMAND, "SET time_zone = '+00:00'");
    if (!mysql_real_connect(c->my, dsn->host, dsn->user, dsn->password, dsn->dbname, dsn->port,
                            dsn->socket[0] ? dsn->socket : NULL, 0)) {
        snprintf(why, whycap, "cannot connect to MariaDB: %s", mysql_error(c->my));
        goto fail;
    }
    unsigned long caps = 0, ext = 0;
    if (dsn->bulk && !mariadb_get_infov(c->my, MARIADB_CONNECTION_SERVER_CAPABILITIES, &caps) &&
        !mariadb_get_infov(c->my, MARIADB_CONNECTION_EXTENDED_SERVER_CAPABILITIES, &ext))
        c->bulk = !(caps & CLIENT_MYSQL) && (ext & (MARIADB_CLIENT_STMT_BULK_OPERATIONS >> 32));
    *out = c;
    return MC_OK;
fail:
    db_conn_close(c);
    return rc;
}

void db_conn_close(db_conn *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->ncache; i++) mysql_stmt_close(c->cache[i].st);
    if (c->my) mysql_close(c->my);
    free(c);
}

bool db_conn_broken(const db_conn *c) { return !c || c->broken; }

db_conn *db_conn_reopen(db_conn *c, const db_dsn *dsn, int timeout_s, char *why, size_t whycap)
{
    if (c && !c->broken) return c;
    db_conn_close(c);
    c = NULL;
    (void)db_conn_open(dsn, timeout_s, &c, why, whycap);
    return c;
}

void db_thread_end(void) { mysql_thread_end(); }
const char *db_conn_error(const db_conn *c) { return c ? c->err : "no connection"; }

static mc_err get_stmt(db_conn *c, const char *sql, MYSQL_STMT **out)
{
    for (size_t i = 0; i < c->ncache; i++)
        if (c->cache[i].sql == sql) {
            *out = c->cache[i].st;
            return MC_OK;
        }
    MYSQL_STMT *st = mysql_stmt_init(c->my);
    if (!st) return map_errno(c, mysql_errno(c->my), mysql_error(c->my));
    if (mysql_stmt_prepare(st, sql, (unsigned long)strlen(sql))) {
        mc_err rc = map_errno(c, mysql_stmt_errno(st), mysql_stmt_error(st));
        mysql_stmt_close(st);
        return rc;
    }
    if (c->ncache < STMT_CACHE_CAP) c->cache[c->ncache++] = (stmt_slot){sql, st};
    else { /* cache full: evict the oldest; literals in db/ are far fewer than the cap */
        mysql_stmt_close(c->cache[0].st);
        memmove(&c->cache[0], &c->cache[1], (STMT_CACHE_CAP - 1) * sizeof(c->cache[0]));
        c->cache[STMT_CACHE_CAP - 1] = (stmt_slot){sql, st};
    }
    *out = st;
    return MC_OK;
}

#define LONG_DATA_MIN (256u << 10)  /* blobs from this size are streamed to the server ... */
#define LONG_DATA_PIECE (1u << 20)  /* ... in pieces of this size */

static bool long_data(const db_param *p) { return p->type == DB_P_BLOB && p->len >= LONG_DATA_MIN; }

static mc_err bind_and_execute(db_conn *c, const char *sql, const db_param *params, size_t n, MYSQL_STMT **out)
{
    MYSQL_BIND b[MAX_PARAMS];
    unsigned long lens[MAX_PARAMS];
    MYSQL_STMT *st = NULL;
    mc_err rc;
    if (c->broken) return MC_ERR_DB_UNAVAILABLE;
    if (n > MAX_PARAMS) return MC_ERR_INTERNAL;
    if ((rc = get_stmt(c, sql, &st))) return rc;
    if (mysql_stmt_param_count(st) != n) {
        snprintf(c->err, sizeof(c->err), "parameter count mismatch for: %.80s", sql);
        return MC_ERR_INTERNAL;
    }
    memset(b, 0, sizeof(b[0]) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) {
        switch (params[i].type) {
        case DB_P_NULL: b[i].buffer_type = MYSQL_TYPE_NULL; break;
        case DB_P_I64:
            b[i].buffer_type = MYSQL_TYPE_LONGLONG;
            b[i].buffer = (void *)&params[i].i64;
            break;
        case DB_P_STR:
        case DB_P_BLOB:
            b[i].buffer_type = params[i].type == DB_P_STR ? MYSQL_TYPE_STRING : MYSQL_TYPE_BLOB;
            if (long_data(&params[i])) break; /* sent with mysql_stmt_send_long_data below */
            b[i].buffer = (void *)params[i].ptr;
            lens[i] = (unsigned long)params[i].len;
            b[i].buffer_length = lens[i];
            b[i].length = &lens[i];
            break;
        }
    }
    if (n && mysql_stmt_bind_param(st, b)) return map_errno(c, mysql_stmt_errno(st), mysql_stmt_error(st));
    for (size_t i = 0; i < n; i++) { /* large blobs stream in pieces: no second full copy in a packet */
        if (!long_data(&params[i])) continue;
        for (size_t off = 0; off < params[i].len; off += LONG_DATA_PIECE) {
            size_t len = params[i].len - off < LONG_DATA_PIECE ? params[i].len - off : LONG_DATA_PIECE;
            if (mysql_stmt_send_long_data(st, (unsigned)i, (const char *)params[i].ptr + off, (unsigned long)len))
                return map_errno(c, mysql_stmt_errno(st), mysql_stmt_error(st));
        }
    }
    if (mysql_stmt_execute(st)) return map_errno(c, mysql_stmt_errno(st), mysql_stmt_error(st));
    *out = st;
    return MC_OK;
}

mc_err db_exec(db_conn *c, const char *sql, const db_param *params, size_t n, uint64_t *affected,
               uint64_t *insert_id)
{
    MYSQL_STMT *st = NULL;
    mc_err rc = bind_and_execute(c, sql, params, n, &st);
    if (rc) return rc;
    if (affected) *affected = mysql_stmt_affected_rows(st);
    if (insert_id) *insert_id = mysql_stmt_insert_id(st);
    return MC_OK;
}

static mc_err fetch_rows(db_conn *c, MYSQL_STMT *st, db_rows **acc);

/* Column-wise array binding (MariaDB bulk execution): one round trip, no text encoding of the values.
 * Strings and blobs are bound as arrays of pointers, integers as contiguous arrays; a NULL is an
 * indicator. A column's type is its first non-NULL value's; the other rows must agree. Rows (out != NULL,
 * db_query_bulk) are read from every result set the statement gives. */
static mc_err bulk(db_conn *c, const char *sql, const db_param *params, size_t ncols, size_t nrows, uint64_t *affected,
                   db_rows **out)
{
    typedef union {
        const void *p;
        long long v;
    } cell;
    /* the connector steps integer columns by 8 bytes and reads string columns as void *[] */
    _Static_assert(sizeof(cell) == sizeof(long long) && sizeof(cell) == sizeof(void *), "one cell per value");
    MYSQL_BIND b[MAX_PARAMS];
    MYSQL_STMT *st = NULL;
    cell *vals = NULL;
    unsigned long *lens = NULL;
    char *inds = NULL;
    unsigned int rows = (unsigned int)nrows, none = 0;
    mc_err rc;
    if (nrows == 0) return MC_OK;
    if (c->broken) return MC_ERR_DB_UNAVAILABLE;
    if (ncols == 0 || ncols > MAX_PARAMS || nrows > UINT_MAX) return MC_ERR_INTERNAL;
    bool one_by_one = !c->bulk; /* MySQL, a proxy without COM_STMT_BULK_EXECUTE, or bulk=off */
    for (size_t k = 0; k < ncols * nrows && !one_by_one; k++)
        one_by_one = long_data(&params[k]); /* a large blob is streamed, which only single rows can do */
    if (one_by_one) { /* the same rows, one statement each */
        uint64_t sum = 0, one = 0;
        for (size_t i = 0; i < nrows; i++, sum += one) {
            if (!out) rc = db_exec(c, sql, &params[i * ncols], ncols, &one, NULL);
            else if (!(rc = bind_and_execute(c, sql, &params[i * ncols], ncols, &st))) {
                one = mysql_stmt_affected_rows(st);
                rc = fetch_rows(c, st, out);
                mysql_stmt_free_result(st);
            }
            if (rc) return rc;
        }
        if (affected) *affected = sum;
        return MC_OK;
    }
    if ((rc = get_stmt(c, sql, &st))) return rc;
    if (mysql_stmt_param_count(st) != ncols) {
        snprintf(c->err, sizeof(c->err), "parameter count mismatch for: %.80s", sql);
        return MC_ERR_INTERNAL;
    }
    rc = MC_ERR_NOMEM;
    if (!(vals = calloc(ncols * nrows, sizeof(*vals))) || !(lens = calloc(ncols * nrows, sizeof(*lens))) ||
        !(inds = calloc(ncols * nrows, 1)))
        goto done;
    rc = MC_ERR_INTERNAL;
    memset(b, 0, sizeof(b[0]) * ncols);
    for (size_t j = 0; j < ncols; j++) {
        db_param_type t = DB_P_NULL;
        for (size_t i = 0; i < nrows && t == DB_P_NULL; i++) t = params[i * ncols + j].type;
        b[j].buffer_type = t == DB_P_I64 ? MYSQL_TYPE_LONGLONG : t == DB_P_BLOB ? MYSQL_TYPE_BLOB : MYSQL_TYPE_STRING;
        b[j].buffer = &vals[j * nrows];
        b[j].length = &lens[j * nrows];
        b[j].u.indicator = &inds[j * nrows];
        for (size_t i = 0; i < nrows; i++) {
            const db_param *p = &params[i * ncols + j];
            size_t k = j * nrows + i;
            if (p->type == DB_P_NULL) {
                inds[k] = STMT_INDICATOR_NULL;
                continue;
            }
            if (p->type != t) { /* one type per column */
                snprintf(c->err, sizeof(c->err), "column %zu changes type at row %zu in: %.60s", j, i, sql);
                goto done;
            }
            if (t == DB_P_I64) vals[k].v = p->i64;
            else {
                vals[k].p = p->ptr;
                lens[k] = (unsigned long)p->len;
            }
        }
    }
    if (mysql_stmt_attr_set(st, STMT_ATTR_ARRAY_SIZE, &rows) || mysql_stmt_bind_param(st, b) ||
        mysql_stmt_execute(st)) {
        rc = map_errno(c, mysql_stmt_errno(st), mysql_stmt_error(st));
        goto done;
    }
    if (affected) *affected = mysql_stmt_affected_rows(st);
    rc = MC_OK;
    /* INSERT ... RETURNING: the server may answer the array with one result set or with several; all
     * are read (after a failed fetch too), or the connection would be out of step */
    for (int more = 0; out && more == 0;) {
        if (!rc && mysql_stmt_field_count(st) > 0) rc = fetch_rows(c, st, out);
        mysql_stmt_free_result(st);
        if ((more = mysql_stmt_next_result(st)) > 0 && !rc) rc = map_errno(c, mysql_stmt_errno(st), mysql_stmt_error(st));
    }
done:
    if (st) (void)mysql_stmt_attr_set(st, STMT_ATTR_ARRAY_SIZE, &none); /* the cached statement is single-row again */
    free(vals);
    free(lens);
    free(inds);
    return rc;
}

mc_err db_exec_bulk(db_conn *c, const char *sql, const db_param *params, size_t ncols, size_t nrows,
                    uint64_t *affected)
{
    return bulk(c, sql, params, ncols, nrows, affected, NULL);
}

mc_err db_query_bulk(db_conn *c, const char *sql, const db_param *params, size_t ncols, size_t nrows, db_rows **out)
{
    db_rows *r = NULL;
    *out = NULL;
    mc_err rc = bulk(c, sql, params, ncols, nrows, NULL, &r);
    if (rc) db_rows_free(r);
    else *out = r;
    return rc;
}

struct db_rows {
    size_t nrows, ncols, cap;
    char **vals;   /* nrows * ncols, NULL for SQL NULL */
    size_t *lens;
};

size_t db_rows_count(const db_rows *r) { return r ? r->nrows : 0; }

const char *db_rows_get(const db_rows *r, size_t i, size_t j, size_t *len)
{
    if (!r || i >= r->nrows || j >= r->ncols) return NULL;
    if (len) *len = r->lens[i * r->ncols + j];
    return r->vals[i * r->ncols + j];
}

mc_err db_rows_set(db_rows *r, size_t i, size_t j, const char *val)
{
    if (!r || i >= r->nrows || j >= r->ncols) return MC_ERR_INTERNAL;
    char *v = NULL;
    size_t len = val ? strlen(val) : 0;
    if (val && !(v = strdup(val))) return MC_ERR_NOMEM;
    free(r->vals[i * r->ncols + j]);
    r->vals[i * r->ncols + j] = v;
    r->lens[i * r->ncols + j] = len;
    return MC_OK;
}

void db_rows_free(db_rows *r)
{
    if (!r) return;
    for (size_t k = 0; k < r->nrows * r->ncols; k++) free(r->vals[k]);
    free(r->vals);
    free(r->lens);
    free(r);
}

static mc_err rows_push(db_rows *r, MYSQL_STMT *st, MYSQL_BIND *b, unsigned long *lens, my_bool *nulls,
                        my_bool *errs, char (*small)[256])
{
    if (r->nrows >= MAX_ROWS) return MC_ERR_INTERNAL;
    if (r->nrows == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 16;
        char **v = realloc(r->vals, nc * r->ncols * sizeof(*v));
        if (!v) return MC_ERR_NOMEM;
        r->vals = v;
        size_t *l = realloc(r->lens, nc * r->ncols * sizeof(*l));
        if (!l) return MC_ERR_NOMEM;
        r->lens = l;
        r->cap = nc;
    }
    mc_err rc = MC_OK;
    size_t row = r->nrows * r->ncols, j = 0;
    for (; j < r->ncols; j++) {
        size_t k = row + j;
        r->vals[k] = NULL;
        r->lens[k] = 0;
        if (nulls[j]) continue;
        size_t len = lens[j];
        if (len > MAX_VALUE) {
            rc = MC_ERR_INTERNAL;
            goto fail;
        }
        char *v = malloc(len + 1);
        if (!v) {
            rc = MC_ERR_NOMEM;
            goto fail;
        }
        if (errs[j] || len > sizeof(small[0])) { /* truncated: fetch the whole column */
            MYSQL_BIND big;
            memset(&big, 0, sizeof(big));
            big.buffer_type = MYSQL_TYPE_STRING;
            big.buffer = v;
            big.buffer_length = len;
            if (mysql_stmt_fetch_column(st, &big, (unsigned)j, 0)) {
                free(v);
                rc = MC_ERR_INTERNAL;
                goto fail;
            }
        } else {
            memcpy(v, small[j], len);
        }
        v[len] = '\0';
        r->vals[k] = v;
        r->lens[k] = len;
    }
    (void)b;
    r->nrows++;
    return MC_OK;
fail:
    /* the row is not counted, so db_rows_free would not see its earlier columns: free them here */
    while (j-- > 0) {
        free(r->vals[row + j]);
        r->vals[row + j] = NULL;
    }
    return rc;
}

/* Append the rows of st's current result set to *acc (made on the first call; every result set must
 * have its column count). Every column is fetched as text into the connection's buffers. */
static mc_err fetch_rows(db_conn *c, MYSQL_STMT *st, db_rows **acc)
{
    char (*small)[256] = c->small;
    MYSQL_BIND b[MAX_COLS];
    unsigned long lens[MAX_COLS];
    my_bool nulls[MAX_COLS], errs[MAX_COLS];
    /* the column count from the prepared statement: result metadata would copy every field's
     * description into a fresh MEM_ROOT on each query */
    unsigned ncols = mysql_stmt_field_count(st);
    if (ncols == 0 || ncols > MAX_COLS || (*acc && (*acc)->ncols != ncols)) return MC_ERR_INTERNAL;
    if (!*acc) {
        if (!(*acc = calloc(1, sizeof(**acc)))) return MC_ERR_NOMEM;
        (*acc)->ncols = ncols;
    }
    memset(b, 0, sizeof(b[0]) * ncols);
    for (unsigned j = 0; j < ncols; j++) {
        b[j].buffer_type = MYSQL_TYPE_STRING;
        b[j].buffer = small[j];
        b[j].buffer_length = sizeof(small[0]) - 1;
        b[j].length = &lens[j];
        b[j].is_null = &nulls[j];
        b[j].error = &errs[j];
    }
    if (mysql_stmt_bind_result(st, b)) return map_errno(c, mysql_stmt_errno(st), mysql_stmt_error(st));
    for (;;) {
        int f = mysql_stmt_fetch(st);
        if (f == MYSQL_NO_DATA) return MC_OK;
        if (f == 1) return map_errno(c, mysql_stmt_errno(st), mysql_stmt_error(st));
        mc_err rc = rows_push(*acc, st, b, lens, nulls, errs, small);
        if (rc) return rc;
    }
}

mc_err db_query(db_conn *c, const char *sql, const db_param *params, size_t n, db_rows **out)
{
    MYSQL_STMT *st = NULL;
    db_rows *r = NULL;
    *out = NULL;
    mc_err rc = bind_and_execute(c, sql, params, n, &st);
    if (rc) return rc;
    if (!(rc = fetch_rows(c, st, &r))) {
        *out = r;
        r = NULL;
    }
    mysql_stmt_free_result(st);
    db_rows_free(r);
    return rc;
}

static mc_err simple(db_conn *c, my_bool ok)
{
    if (c->broken) return MC_ERR_DB_UNAVAILABLE;
    return ok ? MC_OK : map_errno(c, mysql_errno(c->my), mysql_error(c->my));
}

/* autocommit stays on: START TRANSACTION opens an explicit transaction and COMMIT/ROLLBACK ends it,
 * one round trip each (toggling autocommit would cost a second one per transaction). On a connection
 * made implicit the server opens the transaction with the next statement: no round trip. */
mc_err db_begin(db_conn *c)
{
    if (c->implicit) return c->broken ? MC_ERR_DB_UNAVAILABLE : MC_OK;
    return simple(c, mysql_real_query(c->my, "START TRANSACTION", 17) == 0);
}

mc_err db_conn_implicit(db_conn *c)
{
    if (c->implicit) return MC_OK;
    mc_err rc = simple(c, mysql_autocommit(c->my, 0) == 0);
    if (!rc) c->implicit = true;
    return rc;
}

mc_err db_commit(db_conn *c) { return simple(c, mysql_commit(c->my) == 0); }

void db_rollback(db_conn *c)
{
    if (c->broken) return;
    if (mysql_rollback(c->my) != 0) (void)map_errno(c, mysql_errno(c->my), mysql_error(c->my));
}

mc_err db_ping(db_conn *c) { return simple(c, mysql_ping(c->my) == 0); }

mc_err db_script(db_conn *c, const char *sql, char *why, size_t whycap)
{
    mc_err rc = MC_OK;
    mysql_set_server_option(c->my, MYSQL_OPTION_MULTI_STATEMENTS_ON);
    int status = mysql_real_query(c->my, sql, (unsigned long)strlen(sql));
    while (status == 0) {
        MYSQL_RES *res = mysql_store_result(c->my);
        if (res) mysql_free_result(res);
        status = mysql_next_result(c->my);
    }
    if (status > 0) {
        snprintf(why, whycap, "%s", mysql_error(c->my));
        rc = map_errno(c, mysql_errno(c->my), mysql_error(c->my));
        if (rc == MC_OK) rc = MC_ERR_INTERNAL;
    }
    mysql_set_server_option(c->my, MYSQL_OPTION_MULTI_STATEMENTS_OFF);
    return rc;
}

/* ---------------- worker pool ---------------- */

typedef struct db_job {
    db_work_fn work;
    db_done_fn done;
    void *arg;
    struct db_job *next;
    struct db_pool *pool;
} db_job;

struct db_pool {
    db_dsn dsn;
    int timeout_s;
    int nworkers;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    db_job *head, *tail;      /* waiting */
    size_t queued, cap, pending;
    db_job *done_head;        /* finished, waiting for the loop */
    struct event *done_ev;
    size_t deferred;          /* handed over by db_pool_defer, not resumed yet */
    pthread_cond_t resumed;   /* signalled when deferred reaches 0 */
    bool stopping;
};

static _Thread_local db_job *running; /* the job this worker thread runs */
static _Thread_local bool handed_over; /* its work called db_pool_defer: it is not this thread's any more */

/* j's work is over, on the worker or (resumed) on the thread it was handed to: to the loop. */
static void to_loop(db_pool *p, db_job *j, bool resumed)
{
    pthread_mutex_lock(&p->mu);
    j->next = p->done_head;
    p->done_head = j;
    if (resumed && --p->deferred == 0) pthread_cond_broadcast(&p->resumed);
    pthread_mutex_unlock(&p->mu);
    event_active(p->done_ev, EV_READ, 0);
}

static void *worker_main(void *argp)
{
    db_pool *p = argp;
    db_conn *conn = NULL;
    /* Workers do throughput work (parsing, XSD, signing, SQL); the loop thread answers /healthz and
     * drives every socket: under full CPU, let it run first. Raising one's own nice needs no privilege. */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), WORKER_NICE);
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (!p->head && !p->stopping) pthread_cond_wait(&p->cv, &p->mu);
        if (!p->head) { /* stopping and drained */
            pthread_mutex_unlock(&p->mu);
            break;
        }
        db_job *j = p->head;
        p->head = j->next;
        if (!p->head) p->tail = NULL;
        p->queued--;
        pthread_mutex_unlock(&p->mu);

        char why[256];
        conn = db_conn_reopen(conn, &p->dsn, p->timeout_s, why, sizeof(why));
        running = j;
        handed_over = false;
        j->work(conn, j->arg);
        running = NULL;
        if (!handed_over) to_loop(p, j, false); /* else db_pool_resume ends it, maybe already has */
    }
    db_conn_close(conn);
    db_thread_end();
    return NULL;
}

static void deliver_done(db_pool *p)
{
    pthread_mutex_lock(&p->mu);
    db_job *list = p->done_head;
    p->done_head = NULL;
    pthread_mutex_unlock(&p->mu);
    /* reverse to completion order */
    db_job *rev = NULL;
    while (list) {
        db_job *n = list->next;
        list->next = rev;
        rev = list;
        list = n;
    }
    while (rev) {
        db_job *n = rev->next;
        pthread_mutex_lock(&p->mu);
        p->pending--;
        pthread_mutex_unlock(&p->mu);
        if (rev->done) rev->done(rev->arg);
        free(rev);
        rev = n;
    }
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    deliver_done(arg);
}

mc_err db_pool_new(struct event_base *base, const db_dsn *dsn, int timeout_s, int nworkers, int queue_cap,
                   db_pool **out)
{
    db_pool *p = calloc(1, sizeof(*p));
    *out = NULL;
    if (!p) return MC_ERR_NOMEM;
    p->dsn = *dsn;
    p->timeout_s = timeout_s;
    p->cap = (size_t)queue_cap;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    pthread_cond_init(&p->resumed, NULL);
    if (!(p->done_ev = event_new(base, -1, 0, on_done, p)) || !(p->threads = calloc((size_t)nworkers, sizeof(pthread_t)))) {
        db_pool_free(p);
        return MC_ERR_NOMEM;
    }
    for (int i = 0; i < nworkers; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0) {
            db_pool_free(p);
            return MC_ERR_INTERNAL;
        }
        p->nworkers++;
    }
    *out = p;
    return MC_OK;
}

static mc_err submit(db_pool *p, db_work_fn work, db_done_fn done, void *arg, bool first)
{
    db_job *j = malloc(sizeof(*j));
    if (!j) return MC_ERR_NOMEM;
    *j = (db_job){.work = work, .done = done, .arg = arg, .pool = p};
    pthread_mutex_lock(&p->mu);
    if (p->stopping || p->queued >= p->cap) {
        pthread_mutex_unlock(&p->mu);
        free(j);
        return MC_ERR_BUSY;
    }
    if (first) {
        j->next = p->head;
        p->head = j;
        if (!p->tail) p->tail = j;
    } else {
        if (p->tail) p->tail->next = j;
        else p->head = j;
        p->tail = j;
    }
    p->queued++;
    p->pending++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return MC_OK;
}

mc_err db_pool_submit(db_pool *p, db_work_fn work, db_done_fn done, void *arg)
{
    return submit(p, work, done, arg, false);
}

mc_err db_pool_submit_first(db_pool *p, db_work_fn work, db_done_fn done, void *arg)
{
    return submit(p, work, done, arg, true);
}

db_deferred *db_pool_defer(void)
{
    db_job *j = running;
    if (!j || handed_over) return NULL;
    handed_over = true;
    pthread_mutex_lock(&j->pool->mu);
    j->pool->deferred++;
    pthread_mutex_unlock(&j->pool->mu);
    return j;
}

void db_pool_resume(db_deferred *j)
{
    if (j) to_loop(j->pool, j, true);
}

size_t db_pool_pending(db_pool *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->pending;
    pthread_mutex_unlock(&p->mu);
    return n;
}

void db_pool_free(db_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_lock(&p->mu);
    while (p->deferred) pthread_cond_wait(&p->resumed, &p->mu); /* whoever took them ends them */
    pthread_mutex_unlock(&p->mu);
    if (p->done_ev) deliver_done(p);
    if (p->done_ev) event_free(p->done_ev);
    free(p->threads);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    pthread_cond_destroy(&p->resumed);
    free(p);
}
