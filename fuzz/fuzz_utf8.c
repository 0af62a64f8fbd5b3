/* fuzz_utf8.c - utf8_valid_prefix against a second, deliberately different decoder (code points
 * computed, then range-checked, per Unicode table 3-7). Any disagreement is a bug in one of them. */
#include "fuzz.h"

/* Length of the valid sequence at s[0..n), or 0. */
static size_t ref_one(const unsigned char *s, size_t n)
{
    size_t len;
    uint32_t cp, min;
    if (s[0] < 0x80)
        return 1;
    if ((s[0] & 0xE0) == 0xC0)
        len = 2, cp = s[0] & 0x1F, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0)
        len = 3, cp = s[0] & 0x0F, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0)
        len = 4, cp = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static size_t ref_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0, k;
    while (i < n && (k = ref_one(s + i, n - i)) != 0)
        i += k;
    return i;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t got = utf8_valid_prefix(data, size), want = ref_prefix(data, size);
    if (got != want)
        fuzz_fail("utf8_valid_prefix %zu, reference %zu (size %zu)", got, want, size);
    /* A valid prefix stays valid on its own. */
    if (utf8_valid_prefix(data, got) != got)
        fuzz_fail("prefix %zu not valid by itself", got);
    return 0;
}
