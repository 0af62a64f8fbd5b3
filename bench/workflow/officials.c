/* officials.c - the officials' phase of bench/workflow in C (libcurl, one thread per official, one
 * kept-alive connection each), so the load generator is not what is measured: for each dossier code
 * GET (ETag) -> receive -> approve -> return_result, each with If-Match. Prints completed/s and per-step
 * p50/p99. usage: bench-officials BASE_URL KEYS_FILE CODES_FILE */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define MAX_CODES 100000
#define MAX_KEYS 256

static char *codes[MAX_CODES], *keys[MAX_KEYS];
static size_t ncodes, nkeys, next_code;
static const char *base;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static double *lat[3];
static size_t nlat[3], errors;
static const char *steps[3] = {"receive", "approve", "return_result"};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
    char *etag = arg;
    size_t len = size * n;
    if (len > 6 && strncasecmp(buf, "ETag: ", 6) == 0) {
        size_t k = len - 6;
        while (k && (buf[6 + k - 1] == '\r' || buf[6 + k - 1] == '\n')) k--;
        if (k < 63) {
            memcpy(etag, buf + 6, k);
            etag[k] = '\0';
        }
    }
    return len;
}

static size_t sink(char *buf, size_t size, size_t n, void *arg)
{
    (void)buf;
    (void)arg;
    return size * n;
}

/* One request; returns the HTTP status and refreshes etag from the reply. */
static long call(CURL *h, const char *key, const char *url, const char *post, char *etag)
{
    struct curl_slist *hd = NULL;
    char auth[128], im[96];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", key);
    hd = curl_slist_append(hd, auth);
    if (post) {
        snprintf(im, sizeof(im), "If-Match: %s", etag);
        hd = curl_slist_append(hd, im);
        hd = curl_slist_append(hd, "Content-Type: application/json");
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    if (post) curl_easy_setopt(h, CURLOPT_POSTFIELDS, post);
    else curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, etag);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hd);
    return status;
}

static void *official(void *arg)
{
    const char *key = arg;
    CURL *h = curl_easy_init();
    char url[512], etag[64];
    for (;;) {
        pthread_mutex_lock(&mu);
        const char *code = next_code < ncodes ? codes[next_code++] : NULL;
        pthread_mutex_unlock(&mu);
        if (!code) break;
        snprintf(url, sizeof(url), "%s/v1/dossiers/%s", base, code);
        if (call(h, key, url, NULL, etag) != 200) goto err;
        for (int s = 0; s < 3; s++) {
            snprintf(url, sizeof(url), "%s/v1/dossiers/%s/actions/%s", base, code, steps[s]);
            double t0 = now();
            if (call(h, key, url, "{}", etag) != 200) goto err;
            pthread_mutex_lock(&mu);
            lat[s][nlat[s]++] = (now() - t0) * 1e3;
            pthread_mutex_unlock(&mu);
        }
        continue;
    err:
        pthread_mutex_lock(&mu);
        errors++;
        pthread_mutex_unlock(&mu);
    }
    curl_easy_cleanup(h);
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static size_t load(const char *path, char **out, size_t cap)
{
    FILE *f = fopen(path, "r");
    char line[256];
    size_t n = 0;
    while (f && n < cap && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0]) out[n++] = strdup(line);
    }
    if (f) fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s BASE_URL KEYS_FILE CODES_FILE\n", argv[0]);
        return 2;
    }
    base = argv[1];
    nkeys = load(argv[2], keys, MAX_KEYS);
    ncodes = load(argv[3], codes, MAX_CODES);
    if (!nkeys || !ncodes) return 2;
    for (int s = 0; s < 3; s++) lat[s] = calloc(ncodes, sizeof(double));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    pthread_t t[MAX_KEYS];
    double t0 = now();
    for (size_t i = 0; i < nkeys; i++) pthread_create(&t[i], NULL, official, keys[i]);
    for (size_t i = 0; i < nkeys; i++) pthread_join(t[i], NULL);
    double el = now() - t0;
    printf("officials=%zu completed=%zu errors=%zu officials_phase=%.2fs completed_per_s=%.0f\n", nkeys, nlat[2],
           errors, el, (double)nlat[2] / el);
    for (int s = 0; s < 3; s++) {
        qsort(lat[s], nlat[s], sizeof(double), cmp);
        printf("step=%s p50_ms=%.2f p99_ms=%.2f\n", steps[s], nlat[s] ? lat[s][nlat[s] / 2] : 0,
               nlat[s] ? lat[s][(size_t)((double)nlat[s] * 0.99)] : 0);
        free(lat[s]);
    }
    curl_global_cleanup();
    return 0;
}
