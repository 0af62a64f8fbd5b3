/* fuzz_catalog.c - the catalog loader (catalog.json, units.json) on hostile JSON. catalog_load reads a
 * directory, so the harness keeps a private one under $TMPDIR: the XSDs are links to schemas/, the input
 * replaces catalog.json (first byte even) or units.json (odd), the other file is the real one. On
 * success every lookup, fee and plan the server would run is exercised. */
#include <dirent.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "catalog.h"
#include "fuzz.h"

#define SCHEMAS MOTCUA_SOURCE_DIR "/schemas"

static char g_dir[256];
static char *g_real[2];      /* catalog.json, units.json as shipped */
static size_t g_real_len[2];
static const char *const g_names[2] = {"catalog.json", "units.json"};

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        *len = fread(buf, 1, (size_t)n, f);
        buf[*len] = '\0';
    }
    fclose(f);
    return buf;
}

static void write_file(const char *name, const void *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len)
        fuzz_fail("cannot write %s", path);
    fclose(f);
}

static void cleanup(void)
{
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", g_dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *tmp = getenv("TMPDIR");
    DIR *d = NULL;
    struct dirent *e;
    char src[512], dst[512];
    (void)argc, (void)argv;

    xmlInitParser();
    snprintf(g_dir, sizeof(g_dir), "%s/motcua-fuzz-catalog-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir))
        fuzz_fail("mkdtemp %s", g_dir);
    atexit(cleanup);
    if (!(d = opendir(SCHEMAS)))
        fuzz_fail("opendir %s", SCHEMAS);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".xsd") != 0)
            continue;
        snprintf(src, sizeof(src), "%s/%s", SCHEMAS, e->d_name);
        snprintf(dst, sizeof(dst), "%s/%s", g_dir, e->d_name);
        if (symlink(src, dst) != 0)
            fuzz_fail("symlink %s", dst);
    }
    closedir(d);
    for (int i = 0; i < 2; i++) {
        snprintf(src, sizeof(src), "%s/%s", SCHEMAS, g_names[i]);
        if (!(g_real[i] = slurp(src, &g_real_len[i])))
            fuzz_fail("read %s", src);
    }
    return 0;
}

static void exercise(const catalog *cat)
{
    static dossier_doc d;
    catalog_plan_list plan;
    char why[512];
    for (size_t i = 0; i < catalog_count(cat); i++) {
        const catalog_proc *p = catalog_at(cat, i);
        if (catalog_find(cat, p->code) != p)
            fuzz_fail("find %s", p->code);
        for (int c = 1; c <= 3; c++) {
            long fee = -1;
            if (catalog_fee_total(&p->fee, c, 20 * c, &fee) != MC_OK || fee < 0)
                fuzz_fail("fee of %s", p->code);
        }
        /* An empty dossier: planned or refused with a reason, never anything else. */
        memset(&d, 0, sizeof(d));
        mc_err rc = catalog_plan(p, &d, &plan, why, sizeof(why));
        if (rc != MC_OK && (rc != MC_ERR_XSD_INVALID || !why[0]))
            fuzz_fail("plan of %s: %d", p->code, rc);
        for (size_t k = 0; k < p->n_components; k++)
            if (catalog_find_component(p, p->components[k].code) != &p->components[k])
                fuzz_fail("component %s of %s", p->components[k].code, p->code);
        (void)catalog_how_name((catalog_how)(i % 5));
    }
    for (size_t i = 0; i < catalog_unit_count(cat); i++) {
        const catalog_unit *u = catalog_unit_at(cat, i);
        if (catalog_find_unit(cat, u->code) != u)
            fuzz_fail("unit %s", u->code);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    catalog *cat = NULL;
    char why[512];
    if (size == 0)
        return 0;
    int which = data[0] & 1;
    write_file(g_names[which], data + 1, size - 1);
    write_file(g_names[!which], g_real[!which], g_real_len[!which]);
    mc_err rc = catalog_load(g_dir, &cat, why, sizeof(why));
    if (getenv("FUZZ_VERBOSE"))
        fprintf(stderr, "catalog_load: %d %s\n", rc, rc ? why : "ok");
    if (rc == MC_OK) {
        if (!cat)
            fuzz_fail("MC_OK without a catalog");
        exercise(cat);
    } else if (cat || (rc != MC_ERR_CONFIG && rc != MC_ERR_IO) || !why[0]) {
        fuzz_fail("rc %d why \"%s\"", rc, why);
    }
    catalog_free(cat);
    return 0;
}
