/* utf8.h - strict UTF-8 checking (pure): what the XML parser accepts and what text columns store. */
#ifndef MC_UTF8_H
#define MC_UTF8_H

#include <stddef.h>

/* Length of the longest prefix of s[0..n) that is strict UTF-8: no overlong forms, no surrogates,
 * nothing above U+10FFFF, no truncated sequence. */
size_t utf8_valid_prefix(const unsigned char *s, size_t n);

#endif
