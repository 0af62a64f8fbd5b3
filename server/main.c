/* main.c - motcuad: load configuration and data, check the schema, serve HTTP on one libevent loop
 * with a bounded database worker pool, and drain gracefully on SIGTERM/SIGINT. */
#include <event2/event.h>
#include <event2/thread.h>
#include <libxml/parser.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mysql.h>

#include "boot.h"
#include "http.h"
#include "identity.h"
#include "intake.h"
#include "log.h"
#include "migrate.h"
#include "results_api.h"
#include "sign.h"

static struct timespec drain_start;
static struct event *drain_tick; /* freed after the loop */

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    app *a = arg;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    long waited = (now.tv_sec - drain_start.tv_sec) * 1000 + (now.tv_nsec - drain_start.tv_nsec) / 1000000;
    if (a->in_flight == 0 || waited >= a->cfg.shutdown_grace_ms) {
        if (a->in_flight) log_msg(LOG_WARN, "shutdown: %llu requests still in flight after %ld ms",
                                  (unsigned long long)a->in_flight, waited);
        event_base_loopexit(a->base, NULL);
    }
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    app *a = arg;
    if (a->draining) return;
    log_msg(LOG_INFO, "signal %d: no longer accepting, finishing %llu in-flight requests", (int)sig,
            (unsigned long long)a->in_flight);
    http_stop_accepting(a);
    clock_gettime(CLOCK_MONOTONIC, &drain_start);
    drain_tick = event_new(a->base, -1, EV_PERSIST, on_drain_tick, a);
    struct timeval tv = {0, 20000};
    if (drain_tick) event_add(drain_tick, &tv);
    else event_base_loopexit(a->base, NULL);
}

static int usage(void)
{
    fprintf(stderr, "usage: motcuad [-c config-file] | motcuad --config-table\n"
                    "Every config key can also be set as MOTCUA_<KEY> in the environment.\n");
    return 2;
}

int main(int argc, char **argv)
{
    app a;
    const char *cfg_path = NULL;
    struct event *sigs[2] = {NULL, NULL};
    db_conn *probe = NULL;
    db_dsn dsn;
    int status = 1;
    char why[512] = "";

    memset(&a, 0, sizeof(a));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) cfg_path = argv[++i];
        else if (strcmp(argv[i], "--config-table") == 0) {
            config_print_table();
            return 0;
        } else return usage();
    }
    signal(SIGPIPE, SIG_IGN);
    if (boot_config(&a.cfg, cfg_path)) return 1;
    if (evthread_use_pthreads() != 0 || mysql_library_init(0, NULL, NULL) != 0) {
        fprintf(stderr, "motcuad: cannot initialise threading or the MariaDB client\n");
        return 1;
    }
    xmlInitParser();
    if (boot_data(&a)) goto out;
    if (sign_global_init()) {
        fprintf(stderr, "motcuad: cannot initialise xmlsec/OpenSSL for signed results\n");
        goto out;
    }
    /* keys and trust are loaded once here; a missing part only makes the routes that need it 503 */
    if (results_api_svc_new(&a.cfg, &a.results, why, sizeof(why))) {
        fprintf(stderr, "motcuad: results: %s\n", why);
        goto out;
    }
    if (boot_connect(&a.cfg, &dsn, &probe)) goto out;
    if (migrate_check(probe, why, sizeof(why))) {
        fprintf(stderr, "motcuad: %s\n", why);
        goto out;
    }
    db_conn_close(probe);
    probe = NULL;

    if (!(a.base = event_base_new()) || !(a.auth = auth_cache_new(a.cfg.auth_cache_ttl_s, a.cfg.rate_limit_rps,
                                                                  a.cfg.rate_limit_burst))) {
        fprintf(stderr, "motcuad: out of memory\n");
        goto out;
    }
    if (db_pool_new(a.base, &dsn, a.cfg.db_connect_timeout_s, a.cfg.db_pool_size, a.cfg.db_queue_cap, &a.pool)) {
        fprintf(stderr, "motcuad: cannot start the database workers\n");
        goto out;
    }
    if (intake_start(&dsn, a.cfg.db_connect_timeout_s, (size_t)a.cfg.intake_inflight_max)) {
        fprintf(stderr, "motcuad: cannot start the intake writer\n");
        goto out;
    }
    if (http_start(&a, why, sizeof(why))) {
        fprintf(stderr, "motcuad: %s\n", why);
        goto out;
    }
    if (identity_new(&a, &a.identity, why, sizeof(why))) {
        fprintf(stderr, "motcuad: %s\n", why);
        goto out;
    }
    sigs[0] = evsignal_new(a.base, SIGTERM, on_signal, &a);
    sigs[1] = evsignal_new(a.base, SIGINT, on_signal, &a);
    for (int i = 0; i < 2; i++)
        if (sigs[i]) event_add(sigs[i], NULL);
    log_msg(LOG_INFO, "motcuad listening on http://%s:%d (schema v%d, %zu procedures, %d db workers)",
            a.cfg.listen_addr, a.cfg.listen_port, migrate_known_version(), catalog_count(a.cat), a.cfg.db_pool_size);
    event_base_dispatch(a.base);
    log_msg(LOG_INFO, "motcuad stopped after %llu requests", (unsigned long long)a.served);
    intake_stats is = intake_stats_get();
    if (is.batches)
        log_msg(LOG_INFO, "intake group commit: %llu dossiers in %llu batches (%.1f a batch), %.2f ms a batch's transaction",
                is.dossiers, is.batches, (double)is.dossiers / (double)is.batches,
                (double)is.write_us / 1000.0 / (double)is.batches);
    status = 0;
out:
    identity_stop(a.identity);
    /* workers first: completions still pending are answered while their requests are alive */
    db_pool_free(a.pool); /* joins workers after the queue drains, closes their connections */
    intake_stop();        /* after the workers: db_pool_free waits for the writer to end the jobs handed to it */
    results_api_svc_free(a.results); /* after the workers: they hold its per-thread signers */
    identity_free(a.identity);
    http_free(&a);
    for (int i = 0; i < 2; i++)
        if (sigs[i]) event_free(sigs[i]);
    if (drain_tick) event_free(drain_tick);
    db_conn_close(probe);
    auth_cache_free(a.auth);
    if (a.base) event_base_free(a.base);
    calendar_free(a.cal);
    catalog_free(a.cat);
    sign_global_shutdown();
    xmlCleanupParser();
    mysql_library_end();
    return status;
}
