/* fuzz_pid.c - pid_check and pid_mask on hostile text. Input: pid NUL birth-date NUL gender-byte,
 * anything missing is "" / 0. An accepted ID must really be consistent with what was declared. */
#include "fuzz.h"
#include "pid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_strdup(data, size);
    char why[512], small[16], mask[32];
    if (!buf)
        return 0;
    const char *f[3];
    fuzz_fields(buf, size, f, 3);
    const char *pid = f[0], *birth = f[1];
    char gender = f[2][0];

    mc_err rc = pid_check(pid, birth, gender, why, sizeof(why));
    if (rc == MC_OK) {
        int year = atoi(birth);
        int cent = pid[3] - '0';
        if (why[0] || strlen(pid) != PID_LEN || strspn(pid, "0123456789") != PID_LEN)
            fuzz_fail("accepted a malformed pid \"%s\"", pid);
        char ppp[4] = {pid[0], pid[1], pid[2], 0};
        if (!pid_province_known(ppp) || cent > 5 || (cent % 2 == 1) != (gender == 'F') ||
            1900 + cent / 2 * 100 + (pid[4] - '0') * 10 + (pid[5] - '0') != year)
            fuzz_fail("accepted \"%s\" for %s %c", pid, birth, gender);
    } else if (rc != MC_ERR_PID_INVALID || !why[0] || !fuzz_text_ok(why, sizeof(why))) {
        fuzz_fail("rc %d why not a terminated UTF-8 reason", rc);
    }
    (void)pid_check(pid, birth, gender, small, sizeof(small));
    if (strnlen(small, sizeof(small)) >= sizeof(small))
        fuzz_fail("small why not terminated");
    (void)pid_check(pid, birth, gender, NULL, 0);

    size_t cap = size ? (size_t)(data[size - 1] % sizeof(mask)) : 0;
    memset(mask, 'x', sizeof(mask));
    pid_mask(pid, mask, cap);
    if (cap > 0) {
        size_t n = strnlen(mask, cap);
        if (n >= cap || strspn(mask, "0123456789*") != n)
            fuzz_fail("mask \"%.*s\" cap %zu", (int)cap, mask, cap);
        /* Never more than 6 digits revealed, and only of a real 12-digit ID. */
        if (strspn(mask, "*") != n && (n != PID_LEN || memcmp(mask + 3, "******", 6) != 0))
            fuzz_fail("mask reveals \"%s\"", mask);
    } else if (mask[0] != 'x') {
        fuzz_fail("mask wrote with cap 0");
    }
    (void)pid_province_name(pid);
    free(buf);
    return 0;
}
