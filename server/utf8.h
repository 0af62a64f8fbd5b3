/* utf8.h - strict UTF-8 checking (pure): what the XML parser accepts and what text columns store. */
#ifndef MC_UTF8_H
#define MC_UTF8_H

#include <stddef.h>

/* Length of the longest prefix of s[0..n) that is strict UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF, no truncated sequence. */
size_t utf8_valid_prefix(const unsigned char *s, size_t n);

/* How many of the n bytes of UTF-8 text s to keep so that at most cap remain and no character is
 * split: n itself when it fits, else cap moved back to the start of the character it falls in. */
size_t utf8_cut(const char *s, size_t n, size_t cap);

#endif
