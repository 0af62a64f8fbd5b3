/* test_utf8.c - utf8_cut: at most cap bytes, never inside a character (audit details, history notes). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "utf8.h"

static void test_cut(void **state)
{
    (void)state;
    static const char s[] = "ab\xc3\xa2" "c\xe1\xba\xab"; /* "abâcẫ": 2-byte at 2..3, 3-byte at 5..7 */
    static const struct {
        size_t cap, want;
    } cases[] = {{8, 8}, {100, 8}, {7, 5}, {6, 5}, {5, 5}, {4, 4}, {3, 2}, {2, 2}, {1, 1}, {0, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t got = utf8_cut(s, strlen(s), cases[i].cap);
        if (got != cases[i].want) fail_msg("cap %zu: kept %zu, want %zu", cases[i].cap, got, cases[i].want);
        assert_int_equal(utf8_valid_prefix((const unsigned char *)s, got), got); /* whole characters */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_cut)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
