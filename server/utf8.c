/* utf8.c - strict UTF-8 checking (pure). */
#include "utf8.h"

/* Length of the longest prefix of s[0..n) that is strict UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF, no truncated sequence. */
size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c == 0xE0) {
            need = 2, lo = 0xA0;
        } else if (c == 0xED) {
            need = 2, hi = 0x9F; /* U+D800..DFFF are surrogates */
        } else if (c >= 0xE1 && c <= 0xEF) {
            need = 2;
        } else if (c == 0xF0) {
            need = 3, lo = 0x90;
        } else if (c >= 0xF1 && c <= 0xF3) {
            need = 3;
        } else if (c == 0xF4) {
            need = 3, hi = 0x8F;
        } else {
            return i; /* C0, C1 (overlong), F5..FF, or a stray continuation byte */
        }
        if (n - i <= need || s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += need + 1;
    }
    return n;
}

size_t utf8_cut(const char *s, size_t n, size_t cap)
{
    if (n <= cap) return n;
    while (cap > 0 && ((unsigned char)s[cap] & 0xC0) == 0x80) cap--;
    return cap;
}
