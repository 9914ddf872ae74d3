/* acquire + record(success) through the C ABI, on one thread, in a tight loop: with a
 * permit (tg_try_acquire + tg_record) and with tg_call around a function that returns
 * TG_SUCCESS. Prints one line per path and configuration:
 * "c <link> <config> <best ns/op> <median ns/op>" for the permit path and
 * "c-call <link> <config> <best ns/op> <median ns/op>" for tg_call.
 * Usage: bench <link-label> [iterations] [runs]. Built and run by ffi/bench/run.sh. */
#define _POSIX_C_SOURCE 199309L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tripgate.h"

/* The thread's CPU time: on a shared machine, time spent preempted is not counted. */
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The guarded call of the tg_call loop: counts itself and succeeds. */
static tg_outcome succeed(void *userdata) {
    ++*(long *)userdata;
    return TG_SUCCESS;
}

static void bench(const char *link, const char *label, bool track_latency, bool through_call,
                  long iterations, int runs) {
    tg_config *c = NULL;
    tg_breaker *b = NULL;
    if (tg_config_new(&c) != TG_OK || tg_config_set_track_latency(c, track_latency) != TG_OK ||
        tg_breaker_new(c, &b) != TG_OK) {
        fprintf(stderr, "setup failed\n");
        exit(1);
    }
    tg_config_free(c);
    double per_op[64];
    long admitted = 0;
    for (int r = 0; r < runs && r < 64; r++) {
        uint64_t t0 = now_ns();
        if (through_call) {
            for (long i = 0; i < iterations; i++) {
                tg_call(b, succeed, &admitted);
            }
        } else {
            for (long i = 0; i < iterations; i++) {
                tg_permit p;
                if (tg_try_acquire(b, &p) == TG_OK) {
                    tg_record(b, &p, TG_SUCCESS, 0);
                    admitted++;
                }
            }
        }
        per_op[r] = (double)(now_ns() - t0) / (double)iterations;
    }
    qsort(per_op, (size_t)runs, sizeof per_op[0], cmp);
    tg_metrics m;
    tg_snapshot(b, &m);
    if ((long)m.calls != admitted || admitted != iterations * runs) {
        fprintf(stderr, "lost calls: %llu recorded, %ld admitted\n", (unsigned long long)m.calls,
                admitted);
        exit(1);
    }
    printf("%s %s %s %.2f %.2f\n", through_call ? "c-call" : "c", link, label, per_op[0],
           per_op[runs / 2]);
    tg_breaker_free(b);
}

int main(int argc, char **argv) {
    const char *link = argc > 1 ? argv[1] : "static";
    long iterations = argc > 2 ? atol(argv[2]) : 20000000;
    int runs = argc > 3 ? atoi(argv[3]) : 7;
    if (runs < 1 || runs > 64) runs = 7;
    for (int call = 0; call < 2; call++) {
        bench(link, "no-latency", false, call, iterations, runs);
        bench(link, "latency", true, call, iterations, runs);
    }
    return 0;
}
