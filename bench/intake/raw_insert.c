/* raw_insert.c - the raw ceiling for bench/intake: durable single-row inserts of the same size as a
 * dossier row, one transaction each, from N threads with one connection each, for D seconds.
 * Prints commits/s and p50/p99 commit latency. With "hot", each transaction also bumps one shared
 * counter row, as the gapless dossier sequence does. usage: bench-raw-insert DSN CONNS SECONDS BYTES [hot] */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mysql.h>

#include "db.h"

#define MAX_SAMPLES 2000000

static db_dsn dsn;
static double deadline;
static size_t row_bytes;
static double *lat;
static size_t nlat;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long errors;
static int hot; /* also bump one shared counter row per transaction, like the dossier sequence */

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
    (void)arg;
    char why[256];
    db_conn *c = NULL;
    char *payload = malloc(row_bytes);
    if (!payload || db_conn_open(&dsn, 5, &c, why, sizeof(why))) {
        fprintf(stderr, "connect: %s\n", why);
        free(payload);
        return NULL;
    }
    memset(payload, 'x', row_bytes);
    while (now() < deadline) {
        double t0 = now();
        db_param p[] = {db_blob(payload, row_bytes)};
        mc_err rc = db_begin(c);
        if (!rc) rc = db_exec(c, "INSERT INTO bench_raw (payload, at) VALUES (?, UTC_TIMESTAMP(6))", p, 1, NULL, NULL);
        if (!rc && hot)
            rc = db_exec(c, "INSERT INTO bench_hot (k, v) VALUES (1, 1) ON DUPLICATE KEY UPDATE v = v + 1", NULL, 0, NULL,
                         NULL);
        if (!rc) rc = db_commit(c);
        else db_rollback(c);
        double dt = now() - t0;
        pthread_mutex_lock(&mu);
        if (rc) errors++;
        else if (nlat < MAX_SAMPLES) lat[nlat++] = dt;
        pthread_mutex_unlock(&mu);
    }
    db_conn_close(c);
    free(payload);
    mysql_thread_end();
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    char why[256];
    db_conn *c = NULL;
    if (argc != 5 && argc != 6) {
        fprintf(stderr, "usage: %s DSN CONNS SECONDS BYTES [hot]\n", argv[0]);
        return 2;
    }
    int conns = atoi(argv[2]), secs = atoi(argv[3]);
    row_bytes = (size_t)atol(argv[4]);
    hot = argc == 6 && strcmp(argv[5], "hot") == 0;
    mysql_library_init(0, NULL, NULL);
    if (db_dsn_parse(argv[1], &dsn, why, sizeof(why)) || db_conn_open(&dsn, 5, &c, why, sizeof(why))) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    if (db_script(c, "CREATE TABLE IF NOT EXISTS bench_raw (id BIGINT AUTO_INCREMENT PRIMARY KEY,"
                     " payload MEDIUMBLOB NOT NULL, at DATETIME(6) NOT NULL) ENGINE=InnoDB; TRUNCATE bench_raw;"
                     " CREATE TABLE IF NOT EXISTS bench_hot (k INT PRIMARY KEY, v BIGINT NOT NULL) ENGINE=InnoDB",
                  why, sizeof(why))) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    lat = malloc(sizeof(double) * MAX_SAMPLES);
    pthread_t *t = calloc((size_t)conns, sizeof(*t));
    if (!lat || !t) return 1;
    deadline = now() + secs;
    double t0 = now();
    for (int i = 0; i < conns; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < conns; i++) pthread_join(t[i], NULL);
    double el = now() - t0;
    qsort(lat, nlat, sizeof(double), cmp);
    printf("raw_commits_per_s=%.0f p50_ms=%.2f p99_ms=%.2f errors=%ld conns=%d bytes=%zu hot=%d\n", (double)nlat / el,
           nlat ? lat[nlat / 2] * 1e3 : 0, nlat ? lat[(size_t)((double)nlat * 0.99)] * 1e3 : 0, errors, conns, row_bytes, hot);
    db_conn_close(c);
    free(lat);
    free(t);
    mysql_library_end();
    return 0;
}
