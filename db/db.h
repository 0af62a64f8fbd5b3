/* db.h - MariaDB access: DSN parsing, one connection with a prepared-statement cache, a tiny typed
 * parameter/result API (prepared statements only), and a bounded worker pool that runs database work
 * off the libevent loop and hands completions back to it. All SQL text lives in db/. */
#ifndef MC_DB_H
#define MC_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "err.h"

struct event_base;

typedef struct db_dsn {
    char user[64];
    char password[128];
    char host[128];
    unsigned port;
    char dbname[64];
    char socket[256];
    bool bulk;          /* bulk=on|off (default on): array binding when the server supports it */
} db_dsn;

/* Parse "mariadb://user:pass@host[:port]/db[?socket=/path][&bulk=off]" (options in any order). */
mc_err db_dsn_parse(const char *dsn, db_dsn *out, char *why, size_t whycap);

typedef struct db_conn db_conn;

/* Open a connection (UTC session time zone, utf8mb4, autocommit on). *out owned by caller. */
mc_err db_conn_open(const db_dsn *dsn, int timeout_s, db_conn **out, char *why, size_t whycap);
void db_conn_close(db_conn *c);
/* True once a server-gone/lost error was seen: the pool reconnects before the next job. */
bool db_conn_broken(const db_conn *c);
/* c itself while usable, else a new connection (c closed) or NULL with *why when none can be made:
 * how a long-lived thread keeps its connection across database restarts. */
db_conn *db_conn_reopen(db_conn *c, const db_dsn *dsn, int timeout_s, char *why, size_t whycap);
/* Release the connector's per-thread state; the last call of a thread that used a connection. */
void db_thread_end(void);
/* Last MariaDB error text on this connection (for logs; never sent to clients). */
const char *db_conn_error(const db_conn *c);

typedef enum { DB_P_NULL, DB_P_STR, DB_P_I64, DB_P_BLOB } db_param_type;
typedef struct {
    db_param_type type;
    const void *ptr;
    size_t len;
    long long i64;
} db_param;

static inline db_param db_str(const char *s)
{
    return s ? (db_param){DB_P_STR, s, __builtin_strlen(s), 0} : (db_param){DB_P_NULL, NULL, 0, 0};
}
static inline db_param db_blob(const void *p, size_t n) { return (db_param){DB_P_BLOB, p, n, 0}; }
static inline db_param db_i64(long long v) { return (db_param){DB_P_I64, NULL, 0, v}; }
static inline db_param db_null(void) { return (db_param){DB_P_NULL, NULL, 0, 0}; }
/* An optional text: NULL or "" is SQL NULL. */
static inline db_param db_str_opt(const char *s) { return s && *s ? db_str(s) : db_null(); }

/* Execute a statement (text must be a string literal: it keys the per-connection statement cache).
 * Errors: MC_ERR_CONFLICT (duplicate key), MC_ERR_DB_RETRY (deadlock/lock wait),
 * MC_ERR_DB_UNAVAILABLE (server gone), MC_ERR_INTERNAL. affected/insert_id may be NULL. */
mc_err db_exec(db_conn *c, const char *sql, const db_param *params, size_t nparams, uint64_t *affected,
               uint64_t *insert_id);

/* Execute sql once per row in one round trip (array binding): params holds nrows rows of ncols values,
 * row-major. Each column keeps one type (NULLs aside). Only for INSERT/UPDATE/DELETE; no streamed blobs,
 * so the caller keeps the rows under max_allowed_packet. Where the server (or a proxy) has no bulk
 * operations, or the DSN says bulk=off, or a blob is large enough to be streamed (db_exec), the rows go
 * one statement each, with the same result. */
mc_err db_exec_bulk(db_conn *c, const char *sql, const db_param *params, size_t ncols, size_t nrows,
                    uint64_t *affected);

/* Run a query; every column is fetched as text (NULL stays NULL), capped at 16 MiB per value. */
typedef struct db_rows db_rows;
mc_err db_query(db_conn *c, const char *sql, const db_param *params, size_t nparams, db_rows **out);
/* db_exec_bulk for a statement that gives rows (INSERT ... RETURNING): the rows of every parameter row
 * in one db_rows, in the server's order. */
mc_err db_query_bulk(db_conn *c, const char *sql, const db_param *params, size_t ncols, size_t nrows, db_rows **out);
size_t db_rows_count(const db_rows *r);
/* Value of row i, column j, or NULL for SQL NULL; *len (may be NULL) gets its length. */
const char *db_rows_get(const db_rows *r, size_t i, size_t j, size_t *len);
/* Replace row i, column j with a copy of val (NULL: SQL NULL), e.g. to show a locked row as the caller
 * has just updated it without reading it again. MC_ERR_INTERNAL when (i, j) is outside r. */
mc_err db_rows_set(db_rows *r, size_t i, size_t j, const char *val);
void db_rows_free(db_rows *r);

mc_err db_begin(db_conn *c);
/* Turn autocommit off for good on c, a connection that only runs transactions: every statement is in
 * one, which the next statement after COMMIT/ROLLBACK opens, and db_begin costs no round trip. Every
 * read must then be followed by db_commit or db_rollback, or the next transaction reuses its view.
 * Once done, calling it again costs nothing. */
mc_err db_conn_implicit(db_conn *c);
mc_err db_commit(db_conn *c);
void db_rollback(db_conn *c);
/* Run a multi-statement SQL script (migrations only). */
mc_err db_script(db_conn *c, const char *sql, char *why, size_t whycap);
mc_err db_ping(db_conn *c);

/* ---- worker pool ---- */
typedef struct db_pool db_pool;
/* Runs on a worker thread. conn is NULL when the database cannot be reached: report 503. */
typedef void (*db_work_fn)(db_conn *conn, void *arg);
/* Runs on the loop thread after work finished. */
typedef void (*db_done_fn)(void *arg);

/* Start nworkers threads (each opens its own connection lazily and reconnects after failures) and a
 * queue of at most queue_cap jobs. */
mc_err db_pool_new(struct event_base *base, const db_dsn *dsn, int timeout_s, int nworkers, int queue_cap,
                   db_pool **out);
/* Queue a job. MC_ERR_BUSY when the queue is full (caller answers 503), nothing queued then. */
mc_err db_pool_submit(db_pool *p, db_work_fn work, db_done_fn done, void *arg);
/* The same, ahead of every job waiting: for work another thread is blocked on. */
mc_err db_pool_submit_first(db_pool *p, db_work_fn work, db_done_fn done, void *arg);

/* A job whose work handed it over to another thread (db_pool_defer): that thread ends it later. */
typedef struct db_job db_deferred;
/* Called by a work function: returning does not end this job, db_pool_resume does (any thread, once);
 * the worker goes on to the next job meanwhile. NULL outside a work function. */
db_deferred *db_pool_defer(void);
/* End a deferred job: its done callback runs on the loop thread as if its work had just returned. */
void db_pool_resume(db_deferred *d);
/* Jobs queued, running, deferred or waiting for the loop. */
size_t db_pool_pending(db_pool *p);
/* Stop workers after the queue drains and join them, wait for deferred jobs to be resumed; completions
 * still pending are delivered first. */
void db_pool_free(db_pool *p);

#endif
