/* curlev.c - libcurl multi handle driven by libevent (after curl's docs/examples/multi-event.c).
 * curl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake it
 * (CURLMOPT_TIMERFUNCTION); libevent calls curl_multi_socket_action back. Nothing here blocks. */
#include "curlev.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* One watched socket; lives from curl's first POLL_IN/OUT for it until POLL_REMOVE. */
typedef struct curlev_sock {
    struct event ev;
    curlev *cv;
    curl_socket_t fd;
    struct curlev_sock *prev, *next;
} curlev_sock;

/* One transfer, queued or running. */
typedef struct curlev_xfer {
    curlev *cv;
    CURL *easy;
    struct curl_slist *headers;
    char *buf;              /* response body, NUL-terminated, at most cv->max_body bytes */
    size_t len, cap;
    bool too_large;
    char errbuf[CURL_ERROR_SIZE];
    curlev_done_fn done;
    void *arg;
    struct curlev_xfer *prev, *next; /* in cv->active, or next only in the queue */
} curlev_xfer;

struct curlev {
    struct event_base *base;
    CURLM *multi;
    CURLSH *share;
    struct event timer;
    char *ca_file, *client_cert, *client_key;
    unsigned max_inflight, max_queued;
    unsigned start_burst, burst_left; /* new transfers started per loop iteration */
    struct event pump;                /* next iteration: refill burst_left, start queued */
    bool pump_armed;
    size_t max_body;
    bool allow_plain;
    curlev_xfer *active;            /* running transfers, doubly linked */
    unsigned n_active;
    curlev_xfer *q_head, *q_tail;   /* FIFO of transfers waiting for a slot */
    unsigned n_queued;
    curlev_sock *socks;
};

static pthread_once_t curlev_global_once = PTHREAD_ONCE_INIT;
static CURLcode curlev_global_rc = CURLE_FAILED_INIT;

static void curlev_global_init(void)
{
    curlev_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static char *curlev_strdup_opt(const char *s, bool *failed)
{
    char *copy = NULL;

    if(!s)
        return NULL;
    copy = strdup(s);
    if(!copy)
        *failed = true;
    return copy;
}

bool curlev_code_is_transient(int curl_code)
{
    switch(curl_code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return true;
    default:
        return false;
    }
}

bool curlev_code_is_tls(int curl_code)
{
    switch(curl_code) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CLIENTCERT:
        return true;
    default:
        return false;
    }
}

static void curlev_xfer_free(curlev_xfer *x)
{
    if(!x)
        return;
    if(x->easy)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    free(x->buf);
    free(x);
}

/* Fill free slots from the queue, within this loop iteration's start budget. */
static void curlev_start_queued(curlev *cv);
static void curlev_on_pump(evutil_socket_t fd, short what, void *arg);

static void curlev_finish(curlev_xfer *x, CURLcode rc)
{
    curlev_result res;
    long status = 0;
    curl_off_t total_us = 0;

    memset(&res, 0, sizeof(res));
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    res.curl_code = (int)rc;
    res.status = status;
    res.body = x->buf ? x->buf : "";
    res.body_len = x->len;
    res.body_too_large = x->too_large;
    res.error = rc == CURLE_OK ? "" : (x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    res.elapsed_ms = (long)(total_us / 1000);
    x->done(&res, x->arg);
    curlev_xfer_free(x);
}

static void curlev_unlink_active(curlev *cv, curlev_xfer *x)
{
    if(x->prev)
        x->prev->next = x->next;
    else
        cv->active = x->next;
    if(x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    cv->n_active--;
}

static void curlev_check_multi_info(curlev *cv)
{
    CURLMsg *msg = NULL;
    int left = 0;

    while((msg = curl_multi_info_read(cv->multi, &left))) {
        curlev_xfer *x = NULL;
        CURLcode rc;

        if(msg->msg != CURLMSG_DONE)
            continue;
        rc = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        curl_multi_remove_handle(cv->multi, x->easy);
        curlev_unlink_active(cv, x);
        /* Refill the slot before the callback so queued work keeps FIFO order against
         * whatever the callback submits. */
        curlev_start_queued(cv);
        curlev_finish(x, rc);
    }
}

static void curlev_on_socket_event(evutil_socket_t fd, short what, void *arg)
{
    curlev *cv = ((curlev_sock *)arg)->cv;
    int flags = 0;
    int running = 0;

    if(what & EV_READ)
        flags |= CURL_CSELECT_IN;
    if(what & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    /* arg may be freed inside this call (CURL_POLL_REMOVE): only cv is used afterwards. */
    curl_multi_socket_action(cv->multi, fd, flags, &running);
    curlev_check_multi_info(cv);
}

static void curlev_on_timer(evutil_socket_t fd, short what, void *arg)
{
    curlev *cv = arg;
    int running = 0;

    (void)fd;
    (void)what;
    curl_multi_socket_action(cv->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    curlev_check_multi_info(cv);
}

static void curlev_sock_free(curlev *cv, curlev_sock *s)
{
    event_del(&s->ev);
    if(s->prev)
        s->prev->next = s->next;
    else
        cv->socks = s->next;
    if(s->next)
        s->next->prev = s->prev;
    free(s);
}

static int curlev_socket_cb(CURL *easy, curl_socket_t fd, int action, void *userp, void *socketp)
{
    curlev *cv = userp;
    curlev_sock *s = socketp;
    short events = EV_PERSIST;

    (void)easy;
    if(action == CURL_POLL_REMOVE) {
        if(s) {
            curl_multi_assign(cv->multi, fd, NULL);
            curlev_sock_free(cv, s);
        }
        return 0;
    }
    if(!s) {
        s = calloc(1, sizeof(*s));
        if(!s)
            return -1; /* curl fails the transfer */
        s->cv = cv;
        s->fd = fd;
        s->next = cv->socks;
        if(cv->socks)
            cv->socks->prev = s;
        cv->socks = s;
        curl_multi_assign(cv->multi, fd, s);
    } else {
        event_del(&s->ev);
    }
    if(action == CURL_POLL_IN || action == CURL_POLL_INOUT)
        events |= EV_READ;
    if(action == CURL_POLL_OUT || action == CURL_POLL_INOUT)
        events |= EV_WRITE;
    event_assign(&s->ev, cv->base, fd, events, curlev_on_socket_event, s);
    event_add(&s->ev, NULL);
    return 0;
}

static int curlev_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    curlev *cv = userp;
    struct timeval tv;

    (void)multi;
    evtimer_del(&cv->timer);
    if(timeout_ms < 0)
        return 0;
    /* 0 means "as soon as possible": go through the loop rather than recurse into curl. */
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    evtimer_add(&cv->timer, &tv);
    return 0;
}

static size_t curlev_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    curlev_xfer *x = userdata;
    size_t n = size * nmemb;
    size_t max = x->cv->max_body;

    if(n > max || x->len > max - n) {
        x->too_large = true;
        return 0; /* CURLE_WRITE_ERROR */
    }
    if(x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 4096;
        char *nb = NULL;

        while(cap < x->len + n + 1)
            cap *= 2;
        if(cap > max + 1)
            cap = max + 1;
        nb = realloc(x->buf, cap);
        if(!nb)
            return 0;
        x->buf = nb;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, ptr, n);
    x->len += n;
    x->buf[x->len] = '\0';
    return n;
}

mc_err curlev_new(struct event_base *base, const curlev_opts *opts, curlev **out)
{
    curlev *cv = NULL;
    bool failed = false;
    mc_err err = MC_ERR_INTERNAL;

    if(!base || !opts || !out)
        return MC_ERR_INTERNAL;
    if((!opts->ca_file || !opts->ca_file[0]) && !opts->allow_plain)
        return MC_ERR_CONFIG;
    if(!opts->client_cert != !opts->client_key)
        return MC_ERR_CONFIG;
    pthread_once(&curlev_global_once, curlev_global_init);
    if(curlev_global_rc != CURLE_OK)
        return MC_ERR_INTERNAL;

    cv = calloc(1, sizeof(*cv));
    if(!cv)
        return MC_ERR_NOMEM;
    cv->base = base;
    evtimer_assign(&cv->timer, base, curlev_on_timer, cv);
    evtimer_assign(&cv->pump, base, curlev_on_pump, cv);
    cv->start_burst = opts->start_burst ? opts->start_burst : CURLEV_DEFAULT_START_BURST;
    cv->burst_left = cv->start_burst;
    cv->max_inflight = opts->max_inflight ? opts->max_inflight : CURLEV_DEFAULT_MAX_INFLIGHT;
    cv->max_queued = opts->max_queued ? opts->max_queued : CURLEV_DEFAULT_MAX_QUEUED;
    cv->max_body = opts->max_body ? opts->max_body : CURLEV_DEFAULT_MAX_BODY;
    cv->allow_plain = opts->allow_plain;
    cv->ca_file = curlev_strdup_opt(opts->ca_file, &failed);
    cv->client_cert = curlev_strdup_opt(opts->client_cert, &failed);
    cv->client_key = curlev_strdup_opt(opts->client_key, &failed);
    if(failed) {
        err = MC_ERR_NOMEM;
        goto fail;
    }
    cv->multi = curl_multi_init();
    cv->share = curl_share_init();
    if(!cv->multi || !cv->share)
        goto fail;
    /* TLS sessions and DNS answers are reused across transfers; connections are reused by
     * the multi handle's own cache (sized to the in-flight cap below). */
    curl_share_setopt(cv->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    curl_share_setopt(cv->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_multi_setopt(cv->multi, CURLMOPT_SOCKETFUNCTION, curlev_socket_cb);
    curl_multi_setopt(cv->multi, CURLMOPT_SOCKETDATA, cv);
    curl_multi_setopt(cv->multi, CURLMOPT_TIMERFUNCTION, curlev_timer_cb);
    curl_multi_setopt(cv->multi, CURLMOPT_TIMERDATA, cv);
    curl_multi_setopt(cv->multi, CURLMOPT_MAXCONNECTS, (long)cv->max_inflight);
    *out = cv;
    return MC_OK;

fail:
    curlev_free(cv);
    return err;
}

void curlev_free(curlev *cv)
{
    curlev_xfer *x = NULL;

    if(!cv)
        return;
    while((x = cv->active)) {
        curlev_unlink_active(cv, x);
        curl_multi_remove_handle(cv->multi, x->easy);
        curlev_xfer_free(x);
    }
    while((x = cv->q_head)) {
        cv->q_head = x->next;
        curlev_xfer_free(x);
    }
    if(cv->multi)
        curl_multi_cleanup(cv->multi); /* may still report POLL_REMOVEs */
    while(cv->socks)
        curlev_sock_free(cv, cv->socks);
    if(cv->share)
        curl_share_cleanup(cv->share);
    evtimer_del(&cv->timer);
    evtimer_del(&cv->pump);
    free(cv->ca_file);
    free(cv->client_cert);
    free(cv->client_key);
    free(cv);
}

/* Add x to the multi handle and the active list. */
static mc_err curlev_start(curlev *cv, curlev_xfer *x)
{
    if(curl_multi_add_handle(cv->multi, x->easy) != CURLM_OK)
        return MC_ERR_INTERNAL;
    x->prev = NULL;
    x->next = cv->active;
    if(cv->active)
        cv->active->prev = x;
    cv->active = x;
    cv->n_active++;
    return MC_OK;
}

/* Come back on the next loop iteration with a fresh start budget. */
static void curlev_arm_pump(curlev *cv)
{
    struct timeval now = {0, 0};

    if(!cv->pump_armed) {
        cv->pump_armed = true;
        evtimer_add(&cv->pump, &now);
    }
}

static void curlev_on_pump(evutil_socket_t fd, short what, void *arg)
{
    curlev *cv = arg;

    (void)fd;
    (void)what;
    cv->pump_armed = false;
    cv->burst_left = cv->start_burst;
    curlev_start_queued(cv);
}

static void curlev_start_queued(curlev *cv)
{
    while(cv->q_head && cv->n_active < cv->max_inflight) {
        curlev_xfer *x = cv->q_head;

        if(cv->burst_left == 0) {
            curlev_arm_pump(cv);
            return;
        }
        cv->burst_left--;
        cv->q_head = x->next;
        if(!cv->q_head)
            cv->q_tail = NULL;
        cv->n_queued--;
        x->next = NULL;
        if(curlev_start(cv, x) != MC_OK) {
            /* We are on the loop, not inside curlev_submit: reporting now is allowed. */
            curlev_finish(x, CURLE_FAILED_INIT);
        }
    }
}

static mc_err curlev_setup_easy(curlev *cv, curlev_xfer *x, const curlev_request *req)
{
    CURL *e = x->easy;
    long timeout = req->timeout_ms > 0 ? req->timeout_ms : CURLEV_DEFAULT_TIMEOUT_MS;
    int rc = CURLE_OK; /* setopt results OR-ed: any non-zero is a failure */

    for(size_t i = 0; i < req->n_headers; i++) {
        struct curl_slist *l = curl_slist_append(x->headers, req->headers[i]);

        if(!l)
            return MC_ERR_NOMEM;
        x->headers = l;
    }
    if(req->body_len > 0) {
        /* curl would otherwise wait for "100 Continue" on bodies over 1 KiB. */
        struct curl_slist *l = curl_slist_append(x->headers, "Expect:");

        if(!l)
            return MC_ERR_NOMEM;
        x->headers = l;
    }
    rc |= curl_easy_setopt(e, CURLOPT_URL, req->url);
    rc |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, cv->allow_plain ? "http,https" : "https");
    rc |= curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    rc |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curlev_write_cb);
    rc |= curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    rc |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    rc |= curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, timeout);
    rc |= curl_easy_setopt(e, CURLOPT_SHARE, cv->share);
    rc |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    rc |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    /* Trust only the configured CA file: clear the compiled-in CA directory too. */
    rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    rc |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if(cv->ca_file) {
        rc |= curl_easy_setopt(e, CURLOPT_CAINFO, cv->ca_file);
        rc |= curl_easy_setopt(e, CURLOPT_CAPATH, (char *)NULL);
    }
    if(cv->client_cert) {
        rc |= curl_easy_setopt(e, CURLOPT_SSLCERT, cv->client_cert);
        rc |= curl_easy_setopt(e, CURLOPT_SSLKEY, cv->client_key);
    }
    if(strcmp(req->method, "POST") == 0) {
        rc |= curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        rc |= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
    } else {
        rc |= curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    }
    return rc == CURLE_OK ? MC_OK : MC_ERR_BAD_REQUEST;
}

mc_err curlev_submit(curlev *cv, const curlev_request *req, curlev_done_fn done, void *arg)
{
    curlev_xfer *x = NULL;
    bool start_now = false;
    mc_err err = MC_OK;

    if(!cv || !req || !done)
        return MC_ERR_INTERNAL;
    if(!req->url || !req->method ||
       (strcmp(req->method, "GET") != 0 && strcmp(req->method, "POST") != 0))
        return MC_ERR_BAD_REQUEST;
    if(req->body_len > 0 && !req->body)
        return MC_ERR_BAD_REQUEST;
    start_now = cv->n_active < cv->max_inflight && !cv->q_head && cv->burst_left > 0;
    if(!start_now && cv->n_queued >= cv->max_queued)
        return MC_ERR_BUSY;

    x = calloc(1, sizeof(*x));
    if(!x)
        return MC_ERR_NOMEM;
    x->cv = cv;
    x->done = done;
    x->arg = arg;
    x->easy = curl_easy_init();
    if(!x->easy) {
        err = MC_ERR_NOMEM;
        goto fail;
    }
    err = curlev_setup_easy(cv, x, req);
    if(err)
        goto fail;
    if(start_now) {
        err = curlev_start(cv, x);
        if(err)
            goto fail;
        if(--cv->burst_left == 0)
            curlev_arm_pump(cv);
        return MC_OK;
    }
    if(cv->q_tail)
        cv->q_tail->next = x;
    else
        cv->q_head = x;
    cv->q_tail = x;
    cv->n_queued++;
    if(cv->n_active < cv->max_inflight)
        curlev_arm_pump(cv); /* waiting for budget, not for a slot */
    return MC_OK;

fail:
    curlev_xfer_free(x);
    return err;
}

unsigned curlev_inflight(const curlev *cv)
{
    return cv ? cv->n_active : 0;
}

unsigned curlev_queued(const curlev *cv)
{
    return cv ? cv->n_queued : 0;
}
