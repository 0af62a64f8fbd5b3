/* test_pid.c - table-driven tests of pid_check (province table, gender/century digit, birth
 * year digits, shape) and pid_mask. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "pid.h"

typedef struct {
    const char *pid;
    const char *birth;
    char gender;
    mc_err want;
    const char *why_has; /* substring of the reason, NULL for MC_OK */
} pid_case;

static const pid_case cases[] = {
    {"048095001234", "1995-03-14", 'M', MC_OK, NULL},                 /* Da Nang, male 1900s */
    {"049197004321", "1997-08-21", 'F', MC_OK, NULL},                 /* Quang Nam, female */
    {"048214001357", "2014-05-20", 'M', MC_OK, NULL},                 /* male 2000s */
    {"048301000246", "2001-10-10", 'F', MC_OK, NULL},                 /* female 2000s */
    {"001400000001", "2100-01-01", 'M', MC_OK, NULL},                 /* male 2100s */
    {"096599000001", "2199-12-31", 'F', MC_OK, NULL},                 /* female 2100s, Ca Mau */
    {"079000123456", "1900-01-01", 'M', MC_OK, NULL},                 /* HCMC, year 1900 */
    {"048095001234", "1995", 'M', MC_OK, NULL},                       /* year only */
    {"048095001234", "1995-03-14", 'F', MC_ERR_PID_INVALID, "fourth digit 0 means male"},
    {"048195001234", "1995-03-14", 'M', MC_ERR_PID_INVALID, "fourth digit 1 means female"},
    {"048295001234", "1995-03-14", 'M', MC_ERR_PID_INVALID, "born in the 2000s, not in 1995"},
    {"048014001357", "2014-05-20", 'M', MC_ERR_PID_INVALID, "born in the 1900s, not in 2014"},
    {"048401000246", "2001-10-10", 'M', MC_ERR_PID_INVALID, "born in the 2100s"},
    {"048096001234", "1995-03-14", 'M', MC_ERR_PID_INVALID, "digits five and six 96"},
    {"048215001357", "2014-05-20", 'M', MC_ERR_PID_INVALID, "birth year 2014"},
    {"000095001234", "1995-03-14", 'M', MC_ERR_PID_INVALID, "first three digits 000"},
    {"099095001234", "1995-03-14", 'M', MC_ERR_PID_INVALID, "first three digits 099"},
    {"003095001234", "1995-03-14", 'M', MC_ERR_PID_INVALID, "first three digits 003"},
    {"097095001234", "1995-03-14", 'M', MC_ERR_PID_INVALID, "first three digits 097"},
    {"048695001234", "1995-03-14", 'M', MC_ERR_PID_INVALID, "not a valid gender-and-century"},
    {"048995001234", "1995-03-14", 'F', MC_ERR_PID_INVALID, "not a valid gender-and-century"},
    {"04809500123A", "1995-03-14", 'M', MC_ERR_PID_INVALID, "exactly 12 digits"},
    {"04809500123", "1995-03-14", 'M', MC_ERR_PID_INVALID, "exactly 12 digits"},
    {"0480950012345", "1995-03-14", 'M', MC_ERR_PID_INVALID, "exactly 12 digits"},
    {" 48095001234", "1995-03-14", 'M', MC_ERR_PID_INVALID, "exactly 12 digits"},
    {"", "1995-03-14", 'M', MC_ERR_PID_INVALID, "exactly 12 digits"},
    {NULL, "1995-03-14", 'M', MC_ERR_PID_INVALID, "exactly 12 digits"},
    {"048095001234", "95-03-14", 'M', MC_ERR_PID_INVALID, "date of birth"},
    {"048095001234", NULL, 'M', MC_ERR_PID_INVALID, "date of birth"},
    {"048095001234", "1995-03-14", 'X', MC_ERR_PID_INVALID, "must be M or F"},
    {"048099001234", "1899-03-14", 'M', MC_ERR_PID_INVALID, "outside 1900-2199"},
};

static void test_pid_check_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const pid_case *c = &cases[i];
        char why[512] = "untouched";
        mc_err rc = pid_check(c->pid, c->birth, c->gender, why, sizeof(why));

        if (rc != c->want || (c->why_has && !strstr(why, c->why_has)) ||
            (!c->why_has && why[0] != '\0')) {
            print_error("case %zu (%s, %s, %c): rc %d want %d, why \"%s\"\n", i,
                        c->pid ? c->pid : "NULL", c->birth ? c->birth : "NULL", c->gender, rc,
                        c->want, why);
            fail();
        }
    }
}

static void test_pid_check_small_why(void **state)
{
    char why[8];

    (void)state;
    assert_int_equal(pid_check("000095001234", "1995-03-14", 'M', why, sizeof(why)),
                     MC_ERR_PID_INVALID);
    assert_true(strlen(why) < sizeof(why));
    assert_int_equal(pid_check("000095001234", "1995-03-14", 'M', NULL, 0), MC_ERR_PID_INVALID);
}

static void test_province_table(void **state)
{
    static const char *known[] = {"001", "002", "031", "046", "048", "049", "079", "092", "096"};
    static const char *unknown[] = {"000", "003", "005", "047", "050", "097", "099", "48", "0480"};
    int n = 0;
    char code[4];

    (void)state;
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        assert_true(pid_province_known(known[i]));
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
        assert_false(pid_province_known(unknown[i]));
    assert_string_equal(pid_province_name("048"), "Đà Nẵng");
    assert_string_equal(pid_province_name("049"), "Quảng Nam");
    for (int i = 0; i < 1000; i++) {
        snprintf(code, sizeof(code), "%03d", i);
        n += pid_province_known(code);
    }
    assert_int_equal(n, 63);
}

typedef struct {
    const char *pid;
    size_t cap;
    const char *want;
} mask_case;

static void test_pid_mask(void **state)
{
    static const mask_case mc[] = {
        {"048095001234", 32, "048******234"},
        {"048095001234", 13, "048******234"},
        {"048095001234", 5, "****"},       /* no room: reveal nothing */
        {"04809500123A", 32, "************"},
        {"0480950012345", 32, "*************"},
        {"abc", 32, "***"},
        {"", 32, ""},
        {NULL, 32, ""},
        {"0123456789012345678901234567890123456789", 10, "*********"},
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof(mc) / sizeof(mc[0]); i++) {
        memset(out, 'x', sizeof(out));
        assert_ptr_equal(pid_mask(mc[i].pid, out, mc[i].cap), out);
        if (strcmp(out, mc[i].want) != 0) {
            print_error("mask case %zu: \"%s\" want \"%s\"\n", i, out, mc[i].want);
            fail();
        }
    }
    out[0] = 'x';
    pid_mask("048095001234", out, 0);
    assert_int_equal(out[0], 'x');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pid_check_table),
        cmocka_unit_test(test_pid_check_small_why),
        cmocka_unit_test(test_province_table),
        cmocka_unit_test(test_pid_mask),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
