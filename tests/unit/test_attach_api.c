/* test_attach_api.c - table-driven tests of the pure parts of attachments: type detection by content
 * (attach_sniff) and the stored file-name rule (attach_name_ok). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "attach_api.h"

typedef struct {
    const char *what;
    const char *bytes;
    size_t len;
    const char *want; /* NULL: refused */
} sniff_case;

#define B(s) s, sizeof(s) - 1
static const sniff_case sniff_cases[] = {
    {"pdf", B("%PDF-1.7\n%\xe2\xe3"), "application/pdf"},
    {"pdf, magic only", B("%PDF-"), "application/pdf"},
    {"pdf without dash", B("%PDF1.7"), NULL},
    {"pdf magic after a space", B(" %PDF-1.7"), NULL},
    {"pdf lower case", B("%pdf-1.7"), NULL},
    {"jpeg jfif", B("\xff\xd8\xff\xe0\x00\x10JFIF"), "image/jpeg"},
    {"jpeg exif", B("\xff\xd8\xff\xe1"), "image/jpeg"},
    {"jpeg, two bytes", B("\xff\xd8"), NULL},
    {"png", B("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), "image/png"},
    {"png, 7 of 8 signature bytes", B("\x89PNG\r\n\x1a"), NULL},
    {"png with LF for CRLF", B("\x89PNG\n\n\x1a\n"), NULL},
    {"gif", B("GIF89a"), NULL},
    {"exe", B("MZ\x90\x00"), NULL},
    {"html", B("<html>"), NULL},
    {"zip (docx)", B("PK\x03\x04"), NULL},
    {"empty", "", 0, NULL},
};

static void test_sniff_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(sniff_cases) / sizeof(sniff_cases[0]); i++) {
        const sniff_case *c = &sniff_cases[i];
        const char *got = attach_sniff(c->bytes, c->len);
        if (!c->want) {
            if (got) fail_msg("%s: want refused, got %s", c->what, got);
        } else if (!got || strcmp(got, c->want) != 0) {
            fail_msg("%s: want %s, got %s", c->what, c->want, got ? got : "NULL");
        }
    }
    assert_null(attach_sniff(NULL, 10));
}

typedef struct {
    const char *name;
    bool ok;
} name_case;

static void test_name_table(void **state)
{
    (void)state;
    char long_ok[256], long_bad[257];
    memset(long_ok, 'a', 255);
    long_ok[255] = '\0';
    memset(long_bad, 'a', 256);
    long_bad[256] = '\0';
    const name_case cases[] = {
        {"to-khai.pdf", true},
        {"giấy khai sinh.pdf", true},          /* UTF-8 Vietnamese */
        {"scan 2024 (1).png", true},
        {long_ok, true},
        {long_bad, false},
        {"", false},
        {NULL, false},
        {".", false},
        {"..", false},
        {"../etc/passwd", false},
        {"a/b.pdf", false},
        {"a\\b.pdf", false},
        {"a\tb.pdf", false},
        {"a\x7f.pdf", false},
        {"line\r\nbreak.pdf", false},
        {"\xc3", false},                      /* truncated sequence */
        {"\xc0\xaf.pdf", false},              /* overlong '/' */
        {"\xed\xa0\x80.pdf", false},          /* surrogate */
        {"\xf4\x90\x80\x80.pdf", false},      /* beyond U+10FFFF */
        {"\xc2\x85.pdf", false},              /* C1 control (NEL) */
        {"\xff.pdf", false},
        {"\xf0\x9f\x93\x84.pdf", true},       /* 4-byte emoji */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (attach_name_ok(cases[i].name) != cases[i].ok)
            fail_msg("case %zu (%.20s): want %s", i, cases[i].name ? cases[i].name : "NULL",
                     cases[i].ok ? "accepted" : "refused");
}

static void test_disposition(void **state)
{
    (void)state;
    static const struct {
        const char *name, *want;
    } cases[] = {
        {"to-khai.pdf", "attachment; filename=\"to-khai.pdf\"; filename*=UTF-8''to-khai.pdf"},
        {"giấy khai sinh.pdf", "attachment; filename=\"gi_y_khai_sinh.pdf\"; filename*=UTF-8''gi%E1%BA%A5y%20khai%20sinh.pdf"},
        /* a quote, a semicolon and a percent sign cannot end the parameter or fake an escape */
        {"a\";b%.pdf", "attachment; filename=\"a__b_.pdf\"; filename*=UTF-8''a%22%3Bb%25.pdf"},
        {"scan (1).png", "attachment; filename=\"scan__1_.png\"; filename*=UTF-8''scan%20%281%29.png"},
    };
    char out[ATTACH_DISPOSITION_CAP];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        attach_disposition(cases[i].name, out, sizeof(out));
        assert_string_equal(out, cases[i].want);
    }
    /* the longest name allowed, every byte escaped, fits */
    char longest[256];
    memset(longest, 0xe1, 255); /* not valid UTF-8, but the worst case for the encoder */
    longest[255] = '\0';
    attach_disposition(longest, out, sizeof(out));
    assert_int_equal(strlen(out), 42 + 255 + 3 * 255);
    char small[64] = "x";
    attach_disposition("a.pdf", small, sizeof(small));
    assert_string_equal(small, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sniff_table),
        cmocka_unit_test(test_name_table),
        cmocka_unit_test(test_disposition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
