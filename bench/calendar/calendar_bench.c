/* calendar_bench.c - how long calendar_due takes for long working-day limits on the real holiday file
 * (every intake computes one due time). Prints figures; asserts nothing (tests/unit/test_calendar.c
 * checks the answers). usage: calendar-bench [holidays file] (default schemas/calendar/holidays-vn.txt,
 * run from the source tree) */
#include <stdio.h>
#include <time.h>

#include "calendar.h"

static double us_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return ((double)(t1.tv_sec - t0->tv_sec) * 1e9 + (double)(t1.tv_nsec - t0->tv_nsec)) / 1e3;
}

int main(int argc, char **argv)
{
    const char *file = argc > 1 ? argv[1] : "schemas/calendar/holidays-vn.txt";
    static const int days[] = {1, 3, 15, 60, 1000};
    char why[256];
    calendar *cal = calendar_new();
    if (!cal || calendar_load_file(cal, file, why, sizeof(why)) != MC_OK) {
        fprintf(stderr, "calendar-bench: cannot load %s: %s\n", file, cal ? why : "out of memory");
        calendar_free(cal);
        return 1;
    }
    const time_t start = 1735693200; /* 2025-01-01 08:00 +07:00 */
    for (size_t k = 0; k < sizeof(days) / sizeof(days[0]); k++) {
        calendar_rule r = {CAL_RULE_WORKING_DAYS, days[k]};
        struct timespec t0;
        time_t sink = 0;
        int n = 20000;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int i = 0; i < n; i++) sink ^= calendar_due(cal, r, start + (time_t)i * 4111, NULL);
        printf("calendar_due working_days=%d: %.3f us/call (%d calls, sink %lld)\n", days[k], us_since(&t0) / n, n,
               (long long)sink);
    }
    calendar_free(cal);
    return 0;
}
