/* fuzz.h - shared by the libFuzzer harnesses (fuzz/fuzz_*.c) and the corpus replayer (fuzz/replay.c).
 * A harness defines LLVMFuzzerTestOneInput (and LLVMFuzzerInitialize when it needs set-up); a broken
 * invariant calls fuzz_fail, which aborts so that libFuzzer and ctest both see a crash. */
#ifndef MC_FUZZ_H
#define MC_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define fuzz_fail(...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "fuzz invariant broken at %s:%d: ", __FILE__, __LINE__);                   \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
        abort();                                                                                   \
    } while (0)

/* s is NUL-terminated within cap bytes and valid UTF-8 (what reaches JSON and logs). */
static inline bool fuzz_text_ok(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    return n < cap && utf8_valid_prefix((const unsigned char *)s, n) == n;
}

/* A NUL-terminated copy of data[0..size) (malloc'd; the caller frees it), or NULL. */
static inline char *fuzz_strdup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s) {
        if (size)
            memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

/* Split s[0..size) (NUL-terminated at size) at NUL bytes into up to n fields; missing ones are "". */
static inline void fuzz_fields(const char *s, size_t size, const char **f, size_t n)
{
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        f[i] = at <= size ? s + at : "";
        if (at <= size)
            at += strlen(s + at) + 1;
    }
}

#endif
