/* fuzz_attach.c - attachment names (X-File-Name) and the Content-Disposition built from them, plus
 * content sniffing. An accepted name must give a header value of printable ASCII only (no header
 * injection), within ATTACH_DISPOSITION_CAP. */
#include "attach_api.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char out[ATTACH_DISPOSITION_CAP];
    char *name = fuzz_strdup(data, size);
    if (!name)
        return 0;
    (void)attach_sniff(data, size);
    if (attach_name_ok(name)) {
        size_t n = strlen(name);
        if (n == 0 || n > 255 || strchr(name, '/') || strchr(name, '\\'))
            fuzz_fail("accepted name \"%s\"", name);
        memset(out, 'x', sizeof(out));
        attach_disposition(name, out, sizeof(out));
        size_t len = strnlen(out, sizeof(out));
        if (len >= sizeof(out) || strncmp(out, "attachment; filename=\"", 22) != 0)
            fuzz_fail("disposition not terminated or misshapen");
        for (size_t i = 0; i < len; i++)
            if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] > 0x7E)
                fuzz_fail("byte 0x%02x in the header value", (unsigned char)out[i]);
        /* The quoted fallback has no quote of its own: exactly the two around it and none after. */
        const char *q = strchr(out + 22, '"');
        if (!q || strncmp(q, "\"; filename*=UTF-8''", 20) != 0 || strchr(q + 1, '"'))
            fuzz_fail("quoted fallback broken: %s", out);
        attach_disposition(name, out, 10);
        if (out[0] != '\0')
            fuzz_fail("small cap wrote");
    }
    free(name);
    return 0;
}
