/* test_xverify.c - what the verifier hands back from hostile signed documents, without the signing
 * suite's CA fixture: the trust anchor and documents are the fuzzing ones (fuzz/xverify-ca.pem,
 * fuzz/corpus/xverify, fuzz/regressions/xverify). Every string in a report reaches JSON, so each must
 * be valid UTF-8 even when cut to its buffer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sign.h"
#include "utf8.h"
#include "xverify.h"

#define FUZZ MOTCUA_SOURCE_DIR "/fuzz"

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = malloc(64 * 1024);
    assert_non_null(f);
    assert_non_null(buf);
    *len = fread(buf, 1, 64 * 1024, f);
    fclose(f);
    return buf;
}

static int setup(void **state)
{
    xverify_trust *t = NULL;
    char why[256];
    if (sign_global_init() != MC_OK)
        return -1;
    if (xverify_trust_new(FUZZ "/xverify-ca.pem", NULL, MOTCUA_SOURCE_DIR "/schemas/result.xsd", &t, why,
                          sizeof(why)) != MC_OK) {
        print_error("trust: %s\n", why);
        return -1;
    }
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    xverify_trust_free(*state);
    sign_global_shutdown();
    return 0;
}

static bool utf8_ok(const char *s)
{
    return utf8_valid_prefix((const unsigned char *)s, strlen(s)) == strlen(s);
}

/* The seeds verify: the fixture itself is sound. */
static void test_seeds_verify(void **state)
{
    static const char *const seeds[] = {FUZZ "/corpus/xverify/signed-ward-20242.xml",
                                        FUZZ "/corpus/xverify/signed-ward-20242-ec.xml"};
    static xverify_report rep;
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        size_t len;
        char *xml = slurp(seeds[i], &len);
        if (xverify_result(*state, xml, len, &rep) != MC_OK)
            fail_msg("%s: %s (%s)", seeds[i], rep.slug, rep.why);
        assert_true(utf8_ok(rep.cert_subject));
        free(xml);
    }
}

/* A self-made certificate whose Vietnamese subject (931 bytes as RFC 2253 text) is longer than
 * cert_subject: the cut must fall between characters (it split one, and the public verify reply lost
 * the field in jansson). Found by fuzz/fuzz_xverify.c's UTF-8 check. */
static void test_long_subject_cut(void **state)
{
    static xverify_report rep;
    size_t len;
    char *xml = slurp(FUZZ "/regressions/xverify/cert-subject-cut-in-utf8.xml", &len);
    assert_int_not_equal(xverify_result(*state, xml, len, &rep), MC_OK);
    assert_string_equal(rep.slug, "untrusted-certificate");
    assert_true(strlen(rep.cert_subject) > 400);
    assert_true(utf8_ok(rep.cert_subject));
    free(xml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seeds_verify),
        cmocka_unit_test(test_long_subject_cut),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
