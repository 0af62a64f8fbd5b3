/* test_rmark.c - verification marks: a seal changes with every sealed field, the key and the trust;
 * length prefixes keep field boundaries apart; key files are refused when short, long or readable by
 * others. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "rmark.h"

static rmark sample(void)
{
    rmark m;
    memset(&m, 0, sizeof(m));
    for (int i = 0; i < 32; i++) {
        m.sha[i] = (unsigned char)i;
        m.trust[i] = (unsigned char)(0xA0 + i);
    }
    snprintf(m.result_id, sizeof(m.result_id), "KQ-H17.48.01-251126-0001");
    snprintf(m.result_type, sizeof(m.result_type), "KQ.G15.000033");
    snprintf(m.holder, sizeof(m.holder), "048095001234");
    snprintf(m.valid_until, sizeof(m.valid_until), "2026-05-26");
    return m;
}

static rmark_key key_of(unsigned char fill)
{
    rmark_key k;
    memset(&k, 0, sizeof(k));
    memset(k.k, fill, 32);
    k.len = 32;
    return k;
}

static void seal_authenticates_only_itself(void **state)
{
    (void)state;
    rmark_key k = key_of(7), other = key_of(8);
    rmark m = sample();
    unsigned char mac[32];
    assert_true(rmark_seal(&k, &m, mac));
    assert_true(rmark_authentic(&k, &m, mac));
    assert_false(rmark_authentic(&other, &m, mac));
    /* every field is sealed: change any one and the seal no longer fits */
    rmark e = m; e.sha[31] ^= 1;                                assert_false(rmark_authentic(&k, &e, mac));
    e = m; e.trust[0] ^= 1;                                    assert_false(rmark_authentic(&k, &e, mac));
    e = m; e.result_id[3] = 'X';                               assert_false(rmark_authentic(&k, &e, mac));
    e = m; snprintf(e.result_type, sizeof(e.result_type), "KQ.G15.000034"); assert_false(rmark_authentic(&k, &e, mac));
    e = m; snprintf(e.holder, sizeof(e.holder), "048095001235"); assert_false(rmark_authentic(&k, &e, mac));
    e = m; e.valid_until[0] = '\0';                            assert_false(rmark_authentic(&k, &e, mac));
    e = m; snprintf(e.deceased, sizeof(e.deceased), "048095001234"); assert_false(rmark_authentic(&k, &e, mac));
    unsigned char bad[32];
    memcpy(bad, mac, 32);
    bad[0] ^= 0x80;
    assert_false(rmark_authentic(&k, &m, bad));
}

static void fields_do_not_run_together(void **state)
{
    (void)state;
    rmark_key k = key_of(7);
    rmark a = sample(), b = sample();
    unsigned char ma[32], mb[32];
    /* "2026-05-26" + "" and "2026-05-2" + "6": the same bytes without length prefixes */
    snprintf(b.valid_until, sizeof(b.valid_until), "2026-05-2");
    snprintf(b.deceased, sizeof(b.deceased), "6");
    assert_true(rmark_seal(&k, &a, ma));
    assert_true(rmark_seal(&k, &b, mb));
    assert_memory_not_equal(ma, mb, 32);
}

static char *write_key(const char *name, const void *bytes, size_t n, mode_t mode)
{
    static char path[256];
    snprintf(path, sizeof(path), "%s/motcua-rmark-%d-%s", P_tmpdir, (int)getpid(), name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
    return path;
}

static void key_files(void **state)
{
    (void)state;
    unsigned char buf[80];
    char why[300];
    rmark_key k;
    memset(buf, 0x5a, sizeof(buf));
    char *p = write_key("good", buf, 32, 0600);
    assert_int_equal(rmark_key_load(p, &k, why, sizeof(why)), MC_OK);
    assert_int_equal(k.len, 32);
    assert_memory_equal(k.k, buf, 32);
    unlink(p);
    p = write_key("short", buf, 31, 0600);
    assert_int_equal(rmark_key_load(p, &k, why, sizeof(why)), MC_ERR_CONFIG);
    assert_non_null(strstr(why, "random bytes"));
    unlink(p);
    p = write_key("long", buf, 65, 0600);
    assert_int_equal(rmark_key_load(p, &k, why, sizeof(why)), MC_ERR_CONFIG);
    unlink(p);
    p = write_key("open", buf, 32, 0640);
    assert_int_equal(rmark_key_load(p, &k, why, sizeof(why)), MC_ERR_CONFIG);
    assert_non_null(strstr(why, "group or others"));
    unlink(p);
    assert_int_equal(rmark_key_load("/nonexistent/motcua/mark.key", &k, why, sizeof(why)), MC_ERR_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(seal_authenticates_only_itself),
        cmocka_unit_test(fields_do_not_run_together),
        cmocka_unit_test(key_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
