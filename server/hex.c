/* hex.c - the one hexadecimal encoder of the project. */
#include "hex.h"

#include <openssl/rand.h>
#include <string.h>

void hex_encode(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void hex_random(size_t n, char *out)
{
    unsigned char r[64];
    if (n > sizeof(r)) n = sizeof(r);
    if (RAND_bytes(r, (int)n) != 1) memset(r, 0, n);
    hex_encode(r, n, out);
}
