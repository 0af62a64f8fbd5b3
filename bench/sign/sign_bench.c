/* sign_bench.c - throughput of in-process signing/verification of a ~3.5 KiB result document,
 * against raw RSA-2048 (`openssl speed`) and the per-document cost of the xmlsec1 command line.
 * Usage: sign-bench CERTDIR [seconds]  (run from the repo root; see bench/sign/run.sh). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "sign.h"
#include "xverify.h"

extern char **environ;

static const char *g_certs;
static double g_secs = 3.0;
static time_t g_now;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void path(char *buf, size_t cap, const char *name, const char *ext)
{
    snprintf(buf, cap, "%s/%s.%s", g_certs, name, ext);
}

static const sign_field g_content[] = {
    {"childName", "Trần Minh Khôi"},
    {"sex", "Nam"},
    {"dateOfBirth", "2025-01-10"},
    {"placeOfBirth", "Bệnh viện Phụ sản - Nhi Đà Nẵng, 402 Lê Văn Hiến, phường Ngũ Hành Sơn"},
    {"ethnicity", "Kinh"},
    {"nationality", "Việt Nam"},
    {"father", "Trần Văn Nam"},
    {"fatherPersonalId", "048090001111"},
    {"mother", "Nguyễn Thị Bích"},
    {"motherPersonalId", "048092002222"},
    {"registrationBook", "Sổ đăng ký khai sinh số 01/2025, quyển 01"},
    {"registrar", "Lê Thị Hồng Nhung, công chức tư pháp - hộ tịch"},
};

static sign_result_fields fields(void)
{
    sign_result_fields f = {
        .result_id = "KQ-2025-000123", .result_type = "KQ.G15.000031", .procedure = "1.001193",
        .dossier_code = "H17.48.20242-250115-0001", .issuer_agency_id = "20242",
        .issuer_name = "UBND phường Hải Châu", .holder_personal_id = "048205001234",
        .holder_full_name = "Trần Minh Khôi", .content = g_content,
        .content_count = sizeof(g_content) / sizeof(g_content[0]), .issued_at = 1736908200,
        .valid_until = NULL,
    };
    return f;
}

typedef struct worker {
    pthread_t th;
    sign_ctx *ctx;                 /* one per thread (sign_ctx_dup) */
    const xverify_trust *trust;    /* shared, read-only */
    const char *doc;
    size_t doclen;
    bool verify;
    long ops;
    double cpu;                    /* this thread's CPU seconds */
    int failed;
} worker;

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *work(void *arg)
{
    worker *w = arg;
    sign_result_fields f = fields();
    double end = now_s() + g_secs, c0 = cpu_s();
    char why[256];
    while (true) {
        for (int i = 0; i < 16; i++) {
            if (w->verify) {
                xverify_report rep;
                if (xverify_result(w->trust, w->doc, w->doclen, &rep) != MC_OK) {
                    fprintf(stderr, "verify failed: %s (%s)\n", rep.slug, rep.why);
                    w->failed = 1;
                    return NULL;
                }
            } else {
                char *out = NULL;
                size_t len = 0;
                if (sign_result(w->ctx, &f, g_now, &out, &len, why, sizeof(why)) != MC_OK) {
                    fprintf(stderr, "sign failed: %s\n", why);
                    w->failed = 1;
                    return NULL;
                }
                free(out);
            }
            w->ops++;
        }
        if (now_s() >= end)
            break;
    }
    w->cpu = cpu_s() - c0;
    return NULL;
}

/* Wall-clock ops/s with n threads; sign (verify=false) or verify. *per_cpu (if not NULL) gets ops
 * per CPU-second of the workers: what `openssl speed` reports (it divides by user CPU time), and
 * robust when other processes share the machine. */
static double measure(int n, bool verify, sign_ctx *proto, const xverify_trust *trust,
                      const char *doc, size_t doclen, double *per_cpu)
{
    double cpu = 0;
    worker *w = calloc((size_t)n, sizeof(*w));
    char why[256];
    long total = 0;
    int failed = 0;
    if (w == NULL)
        exit(1);
    for (int i = 0; i < n; i++) {
        w[i].trust = trust;
        w[i].doc = doc;
        w[i].doclen = doclen;
        w[i].verify = verify;
        if (!verify && sign_ctx_dup(proto, &w[i].ctx, why, sizeof(why)) != MC_OK) {
            fprintf(stderr, "sign_ctx_dup: %s\n", why);
            exit(1);
        }
    }
    double t0 = now_s();
    for (int i = 0; i < n; i++)
        pthread_create(&w[i].th, NULL, work, &w[i]);
    for (int i = 0; i < n; i++) {
        pthread_join(w[i].th, NULL);
        total += w[i].ops;
        cpu += w[i].cpu;
        failed |= w[i].failed;
        sign_ctx_free(w[i].ctx);
    }
    double dt = now_s() - t0;
    free(w);
    if (failed)
        exit(1);
    if (per_cpu != NULL)
        *per_cpu = cpu > 0 ? (double)total / cpu : 0;
    return (double)total / dt;
}

/* `openssl speed -seconds 3 rsa2048`: sign/s from the "rsa 2048 bits" line. */
static double openssl_speed_rsa2048(void)
{
    FILE *p = popen("openssl speed -seconds 3 rsa2048 2>/dev/null", "r");
    char line[512];
    double sign = 0, verify = 0, ts, tv;
    if (p == NULL)
        return 0;
    while (fgets(line, sizeof(line), p) != NULL) {
        if (sscanf(line, "rsa 2048 bits %lfs %lfs %lf %lf", &ts, &tv, &sign, &verify) == 4)
            break;
    }
    pclose(p);
    return sign;
}

static int spawn_wait(char *const argv[])
{
    pid_t pid;
    int st;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return -1;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Wall seconds per document for `xmlsec1 --sign` over n runs of a template made from doc;
 * *cpu_per_doc gets the children's CPU seconds (user+sys) per document. */
static double xmlsec1_cli_cost(const char *doc, int n, double *cpu_per_doc)
{
    char tmpl[512], key[600], cert[600], keycert[1300];
    snprintf(tmpl, sizeof(tmpl), "%s/bench-template.xml", g_certs);
    xmlDocPtr d = xmlReadMemory(doc, (int)strlen(doc), NULL, NULL, XML_PARSE_NONET);
    /* blank what xmlsec1 must fill in */
    const char *blank[] = {"DigestValue", "SignatureValue", "X509Certificate"};
    for (xmlNodePtr cur = xmlDocGetRootElement(d); cur != NULL;) {
        for (size_t i = 0; i < 3; i++)
            if (cur->type == XML_ELEMENT_NODE && strcmp((const char *)cur->name, blank[i]) == 0)
                xmlNodeSetContent(cur, NULL);
        if (cur->children != NULL) {
            cur = cur->children;
            continue;
        }
        while (cur != NULL && cur->next == NULL)
            cur = cur->parent;
        if (cur != NULL)
            cur = cur->next;
    }
    if (xmlSaveFile(tmpl, d) < 0) {
        xmlFreeDoc(d);
        return 0;
    }
    xmlFreeDoc(d);
    path(key, sizeof(key), "ward-20242", "key");
    path(cert, sizeof(cert), "ward-20242", "crt");
    snprintf(keycert, sizeof(keycert), "%s,%s", key, cert);
    char *argv[] = {"xmlsec1", "--sign", "--privkey-pem", keycert, "--id-attr:Id",
                    "urn:motcua:result:1:result", "--output", "/dev/null", tmpl, NULL};
    struct rusage r0, r1;
    getrusage(RUSAGE_CHILDREN, &r0);
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        if (spawn_wait(argv) != 0) {
            fprintf(stderr, "xmlsec1 --sign failed\n");
            return 0;
        }
    }
    double wall = (now_s() - t0) / n;
    getrusage(RUSAGE_CHILDREN, &r1);
    *cpu_per_doc = ((double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
                    (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
                    (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6 +
                    (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6) / n;
    return wall;
}

int main(int argc, char **argv)
{
    char key[512], cert[512], ca[512], crl[512], why[256];
    sign_ctx *rsa = NULL, *ec = NULL;
    xverify_trust *trust = NULL;
    char *doc = NULL, *doc_ec = NULL;
    size_t doclen = 0, doclen_ec = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s CERTDIR [seconds]\n", argv[0]);
        return 2;
    }
    g_certs = argv[1];
    if (argc > 2)
        g_secs = atof(argv[2]);
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (sign_global_init() != MC_OK)
        return 1;
    g_now = time(NULL);
    path(key, sizeof(key), "ward-20242", "key");
    path(cert, sizeof(cert), "ward-20242", "crt");
    path(ca, sizeof(ca), "ca", "crt");
    path(crl, sizeof(crl), "crl", "pem");
    if (sign_ctx_new(key, cert, &rsa, why, sizeof(why)) != MC_OK ||
        xverify_trust_new(ca, crl, "schemas/result.xsd", &trust, why, sizeof(why)) != MC_OK) {
        fprintf(stderr, "setup: %s\n", why);
        return 1;
    }
    path(key, sizeof(key), "ward-20242-ec", "key");
    path(cert, sizeof(cert), "ward-20242-ec", "crt");
    if (sign_ctx_new(key, cert, &ec, why, sizeof(why)) != MC_OK) {
        fprintf(stderr, "setup: %s\n", why);
        return 1;
    }
    sign_result_fields f = fields();
    if (sign_result(rsa, &f, g_now, &doc, &doclen, why, sizeof(why)) != MC_OK ||
        sign_result(ec, &f, g_now, &doc_ec, &doclen_ec, why, sizeof(why)) != MC_OK) {
        fprintf(stderr, "sign: %s\n", why);
        return 1;
    }

    printf("machine: %d cores; document %zu bytes (RSA), %zu bytes (EC); %.1f s per run\n", cores,
           doclen, doclen_ec, g_secs);
    double rsa1c, ec1c, ver1c, verec1c, clicpu = 0;
    double rsa1 = measure(1, false, rsa, NULL, NULL, 0, &rsa1c);
    double rsaN = measure(cores, false, rsa, NULL, NULL, 0, NULL);
    double ec1 = measure(1, false, ec, NULL, NULL, 0, &ec1c);
    double ecN = measure(cores, false, ec, NULL, NULL, 0, NULL);
    double ver1 = measure(1, true, NULL, trust, doc, doclen, &ver1c);
    double verN = measure(cores, true, NULL, trust, doc, doclen, NULL);
    double verec1 = measure(1, true, NULL, trust, doc_ec, doclen_ec, &verec1c);
    double raw = openssl_speed_rsa2048();
    double cli = xmlsec1_cli_cost(doc, 50, &clicpu);
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);

    printf("%-40s %9s %9s %11s\n", "", "wall /s", "CPU /s", "ms/doc CPU");
    printf("%-40s %9.0f %9.0f %11.3f\n", "sign RSA-2048, 1 thread", rsa1, rsa1c, 1e3 / rsa1c);
    printf("%-40s %9.0f %9s\n", "sign RSA-2048, all cores", rsaN, "-");
    printf("%-40s %9.0f %9.0f %11.3f\n", "sign ECDSA P-256, 1 thread", ec1, ec1c, 1e3 / ec1c);
    printf("%-40s %9.0f %9s\n", "sign ECDSA P-256, all cores", ecN, "-");
    printf("%-40s %9.0f %9.0f %11.3f\n", "xverify_result RSA, 1 thread", ver1, ver1c, 1e3 / ver1c);
    printf("%-40s %9.0f %9s\n", "xverify_result RSA, all cores", verN, "-");
    printf("%-40s %9.0f %9.0f %11.3f\n", "xverify_result ECDSA, 1 thread", verec1, verec1c,
           1e3 / verec1c);
    printf("%-40s %9s %9.0f\n", "openssl speed -seconds 3 rsa2048, sign", "-", raw);
    printf("%-40s %9.1f %9.1f %11.2f  (wall %.2f ms)\n", "xmlsec1 --sign command line, N=50",
           cli > 0 ? 1 / cli : 0, clicpu > 0 ? 1 / clicpu : 0, clicpu * 1e3, cli * 1e3);
    if (raw > 0)
        printf("in-process sign / raw RSA-2048 sign (CPU): %5.1f%%   (target >= 70%%)\n",
               100 * rsa1c / raw);
    if (clicpu > 0 && cli > 0)
        printf("in-process sign / xmlsec1 CLI:  %5.0fx CPU, %5.0fx wall   (target >= 50x)\n",
               rsa1c * clicpu, rsa1 * cli);
    printf("sign scaling 1 -> %d threads (wall): %.2fx\n", cores, rsaN / rsa1);
    printf("load average during the run: %.2f %.2f %.2f (other processes share the cores)\n",
           load[0], load[1], load[2]);

    free(doc);
    free(doc_ec);
    sign_ctx_free(rsa);
    sign_ctx_free(ec);
    xverify_trust_free(trust);
    sign_global_shutdown();
    return 0;
}
