/* replay.c - runs every file named on the command line (directories: every regular file in them,
 * sorted) through the harness's LLVMFuzzerTestOneInput once, without libFuzzer, so that ctest keeps
 * checking the committed corpus and regressions in the ordinary (gcc, ASan+UBSan) build. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX_FILE (4u << 20) /* corpus files are small; a bigger one is a mistake */

/* Weak: only harnesses that need set-up define it. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path, size_t *count)
{
    FILE *f = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = 1;

    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        goto out;
    }
    buf = malloc(REPLAY_MAX_FILE + 1);
    if (!buf)
        goto out;
    len = fread(buf, 1, REPLAY_MAX_FILE + 1, f);
    if (ferror(f) || len > REPLAY_MAX_FILE) {
        fprintf(stderr, "replay: %s: unreadable or over %u bytes\n", path, REPLAY_MAX_FILE);
        goto out;
    }
    /* An exact-size copy, so that ASan sees a read past the input as it would under libFuzzer. */
    uint8_t *exact = malloc(len ? len : 1);
    if (!exact)
        goto out;
    memcpy(exact, buf, len);
    LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    (*count)++;
    rc = 0;
out:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, size_t *count)
{
    DIR *d = NULL;
    struct dirent *e;
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 1;

    d = opendir(dir);
    if (!d) {
        /* A target with no regressions yet has no directory: nothing to replay. */
        rc = errno == ENOENT ? 0 : 1;
        if (rc)
            fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        goto out;
    }
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **grown = realloc(names, ncap * sizeof(*grown));
            if (!grown)
                goto out;
            names = grown;
            cap = ncap;
        }
        size_t need = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(need)))
            goto out;
        snprintf(names[n], need, "%s/%s", dir, e->d_name);
        n++;
    }
    qsort(names, n, sizeof(*names), cmp_names);
    rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct stat st;
        if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode))
            rc = run_file(names[i], count);
    }
out:
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (d)
        closedir(d);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    int rc = 0;

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc && rc == 0; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            rc = run_dir(argv[i], &count);
        else if (stat(argv[i], &st) != 0 && errno == ENOENT)
            continue; /* an absent regressions/<target> directory */
        else
            rc = run_file(argv[i], &count);
    }
    printf("replay: %zu input(s), %s\n", count, rc ? "FAILED" : "ok");
    return rc;
}
