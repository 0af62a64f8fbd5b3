/* reuse_seed.c - fills the results repository for bench/reuse: N marital status confirmations
 * (KQ.G15.000033), each really signed with a ward key (so each verifies) for its own holder
 * 0480 90 nnnnnn (male, born 1990), inserted 500 per transaction; then times the strict verifier on a
 * sample of them (the re-verification cost of one reused result with a cold cache).
 * usage: bench-reuse-seed DSN KEY.pem CERT.pem CA.pem RESULT.xsd N */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "results.h"
#include "sign.h"
#include "tfmt.h"
#include "xverify.h"

#define BATCH 500
#define VERIFY_SAMPLE 2000

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    db_dsn dsn;
    db_conn *c = NULL;
    sign_ctx *sc = NULL;
    xverify_trust *trust = NULL;
    xverify_report *rep = NULL;
    char why[512] = "", **docs = NULL;
    size_t *lens = NULL;
    double *lat = NULL;
    uint64_t dossier_id = 0;
    int status = 1;
    if (argc != 7) {
        fprintf(stderr, "usage: %s DSN KEY.pem CERT.pem CA.pem RESULT.xsd N\n", argv[0]);
        return 2;
    }
    long n = atol(argv[6]);
    if (n < 1 || n > 999999) {
        fprintf(stderr, "N must be 1..999999\n");
        return 2;
    }
    if (sign_global_init() || db_dsn_parse(argv[1], &dsn, why, sizeof(why)) ||
        db_conn_open(&dsn, 10, &c, why, sizeof(why)) || sign_ctx_new(argv[2], argv[3], &sc, why, sizeof(why)) ||
        xverify_trust_new(argv[4], NULL, argv[5], &trust, why, sizeof(why))) {
        fprintf(stderr, "setup: %s\n", why);
        goto out;
    }
    /* the dossier every seeded result names as its source (result.dossier_id is a foreign key) */
    db_param dp[] = {db_str("BENCH-SOURCE")};
    if (db_exec(c,
                "INSERT INTO dossier (code, procedure_code, ward, agency_id, channel, source, client_id,"
                " applicant_pid, applicant_name, applicant_birth, applicant_gender, summary, state, national_status,"
                " received_at, body_sha256, body) VALUES (?, '1.004873', '20242', 'H17.48.01', 2, 'portal', 0,"
                " '048090000000', 'Bench', '1990-01-01', 'M', 'bench', 'done', 9, UTC_TIMESTAMP(6),"
                " UNHEX(REPEAT('00', 32)), '')",
                dp, 1, NULL, &dossier_id)) {
        fprintf(stderr, "source dossier: %s\n", db_conn_error(c));
        goto out;
    }
    docs = calloc(VERIFY_SAMPLE, sizeof(*docs));
    lens = calloc(VERIFY_SAMPLE, sizeof(*lens));
    lat = calloc(VERIFY_SAMPLE, sizeof(*lat));
    rep = malloc(sizeof(*rep));
    if (!docs || !lens || !lat || !rep) goto out;
    double t0 = now();
    for (long i = 0; i < n; i++) {
        char rid[64], pid[16], issued[32], signed_db[32];
        unsigned char sha[32];
        unsigned int shalen = 32;
        char *xml = NULL;
        size_t len = 0;
        time_t t = time(NULL);
        snprintf(rid, sizeof(rid), "KQ-BENCH-%06ld", i);
        snprintf(pid, sizeof(pid), "048090%06ld", i % 1000000);
        sign_field f[] = {{"maritalStatus", "single"}, {"purpose", "Đăng ký kết hôn"}};
        sign_result_fields rf = {.result_id = rid, .result_type = "KQ.G15.000033", .procedure = "1.004873",
                                 .dossier_code = "BENCH-SOURCE", .issuer_agency_id = "20242",
                                 .issuer_name = "UBND phường Hải Châu", .holder_personal_id = pid,
                                 .holder_full_name = "Công dân Bench", .content = f, .content_count = 2,
                                 .issued_at = t};
        if (i % BATCH == 0 && db_begin(c)) goto db_fail;
        if (sign_result(sc, &rf, t, &xml, &len, why, sizeof(why))) {
            fprintf(stderr, "sign: %s\n", why);
            goto out;
        }
        EVP_Digest(xml, len, sha, &shalen, EVP_sha256(), NULL);
        tfmt_db(t, 0, issued, sizeof(issued));
        tfmt_db(t, 0, signed_db, sizeof(signed_db));
        signed_db[19] = '\0';
        results_row row = {.result_id = rid, .result_type = "KQ.G15.000033", .procedure = "1.004873",
                           .holder_pid = pid, .dossier_id = dossier_id, .dossier_code = "BENCH-SOURCE",
                           .issuer_agency = "H17.48.01", .issuer_ward = "20242",
                           .signer_cert_sha256 = sign_ctx_cert_sha256(sc), .issued_at = issued,
                           .signed_at = signed_db, .xml = xml, .xml_len = len, .sha256 = sha};
        mc_err rc = results_insert(c, &row, NULL);
        if (i < VERIFY_SAMPLE) {
            docs[i] = xml;
            lens[i] = len;
        } else {
            free(xml);
        }
        if (rc) goto db_fail;
        if ((i % BATCH == BATCH - 1 || i == n - 1) && db_commit(c)) goto db_fail;
    }
    double secs = now() - t0;
    printf("seeded=%ld signed_and_stored_per_s=%.0f seconds=%.1f\n", n, (double)n / secs, secs);
    size_t m = (size_t)(n < VERIFY_SAMPLE ? n : VERIFY_SAMPLE);
    for (size_t i = 0; i < m; i++) {
        double a = now();
        if (xverify_result(trust, docs[i], lens[i], rep) || rep->reason != XVERIFY_OK) {
            fprintf(stderr, "seeded result %zu does not verify: %s\n", i, rep->slug);
            goto out;
        }
        lat[i] = (now() - a) * 1e6;
    }
    qsort(lat, m, sizeof(*lat), cmp_d);
    printf("reverify_us_p50=%.0f reverify_us_p99=%.0f sample=%zu\n", lat[m / 2], lat[m * 99 / 100], m);
    status = 0;
    goto out;
db_fail:
    fprintf(stderr, "database: %s\n", db_conn_error(c));
out:
    if (docs)
        for (size_t i = 0; i < VERIFY_SAMPLE; i++) free(docs[i]);
    free(docs);
    free(lens);
    free(lat);
    free(rep);
    xverify_trust_free(trust);
    sign_ctx_free(sc);
    db_conn_close(c);
    sign_global_shutdown();
    return status;
}
