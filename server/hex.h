/* hex.h - lower-case hexadecimal text of bytes (digests, tokens, cursors), back, and random hex tokens.
 * Pure except hex_random, which reads OpenSSL's CSPRNG. */
#ifndef MC_HEX_H
#define MC_HEX_H

#include <stdbool.h>
#include <stddef.h>

/* Write the 2n hex digits of in[0..n) and a NUL into out (room for 2n+1 bytes). */
void hex_encode(const unsigned char *in, size_t n, char *out);
/* Read the 2n lower-case hex digits at hex into n bytes; false (out undefined) on any other
 * character. */
bool hex_decode(const char *hex, size_t n, unsigned char *out);
/* Write 2n hex digits of n random bytes and a NUL into out (room for 2n+1); all zeros if the
 * random generator fails (the callers use these as identifiers, never as secrets). */
void hex_random(size_t n, char *out);

#endif
