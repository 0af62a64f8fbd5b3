/* fuzz_actions.c - the request-header parsers of the workflow API (actions_api.h): If-Match, the
 * time filter and the queue cursor. Input: if-match NUL time NUL cursor, then 4 bytes of version.
 * A decoded cursor must re-encode to a token that decodes to the same key and id. */
#include "actions_api.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_strdup(data, size);
    char key[32], tok[ACTIONS_CURSOR_CAP], key2[32];
    uint64_t id = 0, id2 = 0;
    time_t t = 42;
    if (!buf)
        return 0;
    const char *f[3];
    fuzz_fields(buf, size, f, 3);
    const char *im = f[0], *ts = f[1], *cur = f[2];
    unsigned version = 0;
    for (size_t i = 0; i < 4 && i < size; i++)
        version = version << 8 | data[size - 1 - i];

    mc_err rc = actions_if_match(im, version);
    if (rc != MC_OK && rc != MC_ERR_PRECONDITION_REQUIRED && rc != MC_ERR_PRECONDITION_FAILED)
        fuzz_fail("if_match rc %d", rc);

    rc = actions_parse_time(ts, (int)(version % (28 * 3600 + 1)) - 14 * 3600, &t);
    if (rc != MC_OK && (rc != MC_ERR_BAD_REQUEST || t != 42))
        fuzz_fail("parse_time rc %d changed *out", rc);

    rc = actions_cursor_decode(cur, key, sizeof(key), &id);
    if (rc == MC_OK) {
        if (strlen(key) != 26)
            fuzz_fail("cursor key \"%s\"", key);
        actions_cursor_encode(key, id, tok, sizeof(tok));
        if (!tok[0] || actions_cursor_decode(tok, key2, sizeof(key2), &id2) != MC_OK || strcmp(key, key2) != 0 ||
            id != id2)
            fuzz_fail("cursor does not round-trip: \"%s\"", cur);
    } else if (rc != MC_ERR_BAD_REQUEST) {
        fuzz_fail("cursor rc %d", rc);
    }
    free(buf);
    return 0;
}
