/* 8 threads share one breaker, through permits and tg_call: the totals in the snapshot
 * equal the calls made.
 * TG_TEST_ITERATIONS (default 20000) sets the calls per thread; run_c_tests.sh lowers it
 * under valgrind, which runs one thread at a time. */
#define _POSIX_C_SOURCE 199309L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "tg_test.h"

#define THREADS 8

static int iterations = 20000;

typedef struct {
    const tg_breaker *breaker;
    int index;
    uint64_t successes, failures, ignored, released, errors;
    int own_error_ok;
} worker;

static atomic_int stop_readers;

/* The call tg_call guards: returns the outcome it is given. */
static tg_outcome answer_with(void *userdata) {
    return *(const tg_outcome *)userdata;
}

static void *work(void *arg) {
    worker *w = arg;
    for (int i = 0; i < iterations; i++) {
        if ((i + w->index) % 6 == 5) { /* the call handed to the breaker */
            const tg_outcome cycle[3] = {TG_SUCCESS, TG_FAILURE_OTHER, TG_IGNORED};
            tg_outcome outcome = cycle[i % 3];
            if (tg_call(w->breaker, answer_with, &outcome) != TG_OK) w->errors++;
            if (outcome == TG_SUCCESS) {
                w->successes++;
            } else if (outcome == TG_IGNORED) {
                w->ignored++;
            } else {
                w->failures++;
            }
            continue;
        }
        tg_permit p;
        if (tg_try_acquire(w->breaker, &p) != TG_OK) {
            w->errors++;
            continue;
        }
        tg_status s;
        switch ((i + w->index) % 6) {
        case 0:
        case 1:
            s = tg_record(w->breaker, &p, TG_SUCCESS, (uint64_t)(i % 1000) + 1);
            w->successes++;
            break;
        case 2:
            s = tg_record(w->breaker, &p, TG_FAILURE_TIMEOUT + (i % 5), 0);
            w->failures++;
            break;
        case 3:
            s = tg_record(w->breaker, &p, TG_IGNORED, 0);
            w->ignored++;
            break;
        default:
            s = tg_release(w->breaker, &p);
            w->released++;
            break;
        }
        if (s != TG_OK) w->errors++;
    }
    /* The last error is per thread: make one and read it back. */
    char want[64], got[128];
    snprintf(want, sizeof want, "unknown outcome %d", 100 + w->index);
    tg_permit p;
    if (tg_try_acquire(w->breaker, &p) == TG_OK) {
        if (tg_record(w->breaker, &p, 100 + w->index, 0) == TG_ERR_INVALID_ARG &&
            tg_last_error_message(got, sizeof got) < sizeof got && strstr(got, want) != NULL) {
            w->own_error_ok = 1;
        }
        tg_release(w->breaker, &p);
        w->released++;
    }
    return NULL;
}

static void *read_snapshots(void *arg) {
    const tg_breaker *b = arg;
    uint64_t last_calls = 0;
    int monotonic = 1;
    while (!atomic_load(&stop_readers)) {
        tg_metrics m;
        if (tg_snapshot(b, &m) != TG_OK) return (void *)1;
        if (m.calls < last_calls) monotonic = 0;
        last_calls = m.calls;
        struct timespec pause = {0, 200000}; /* a monitoring reader, not a spinning one */
        nanosleep(&pause, NULL);
    }
    return monotonic ? NULL : (void *)1;
}

static void eight_threads_conserve_totals(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_clear_failure_rate_threshold(c)); /* never trips */
    CHECK_OK(tg_config_set_count_window_buckets(c, 1000000, 100));
    CHECK_OK(tg_config_set_track_in_flight(c, true));
    tg_breaker *b = NULL;
    CHECK_OK(tg_breaker_new(c, &b));
    tg_config_free(c);

    worker w[THREADS];
    pthread_t t[THREADS], reader;
    atomic_store(&stop_readers, 0);
    CHECK(pthread_create(&reader, NULL, read_snapshots, b) == 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.breaker = b, .index = i};
        CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0);
    }
    uint64_t successes = 0, failures = 0, ignored = 0, released = 0, errors = 0;
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(t[i], NULL) == 0);
        successes += w[i].successes;
        failures += w[i].failures;
        ignored += w[i].ignored;
        released += w[i].released;
        errors += w[i].errors;
        CHECK(w[i].own_error_ok);
    }
    atomic_store(&stop_readers, 1);
    void *reader_result = (void *)1;
    CHECK(pthread_join(reader, &reader_result) == 0);
    CHECK(reader_result == NULL);

    tg_metrics m;
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(errors == 0);
    CHECK(successes + failures + ignored + released == (uint64_t)THREADS * (uint64_t)iterations + THREADS);
    CHECK(m.state == TG_STATE_CLOSED);
    CHECK(m.calls == successes + failures);
    CHECK(m.successes == successes);
    CHECK(m.failures == failures);
    CHECK(m.failures_timeout + m.failures_connection + m.failures_server_error +
              m.failures_rejected + m.failures_other == failures);
    CHECK(m.ignored == ignored);
    CHECK(m.abandoned == released);
    CHECK(m.rejected == 0);
    CHECK(m.has_in_flight && m.in_flight == 0);
    CHECK(m.window_calls == successes + failures);
    /* Latency figures are over the window and approximate under concurrency (the core
     * conserves counts, not histogram samples); lifetime totals above are exact. */
    CHECK(m.has_latency && m.latency.count > 0 && m.latency.count <= successes + failures);
    if (m.latency.count != successes + failures) {
        fprintf(stderr, "  note: latency.count %llu, window_calls %llu, calls %llu\n",
                (unsigned long long)m.latency.count, (unsigned long long)m.window_calls,
                (unsigned long long)(successes + failures));
    }
    if (m.calls != successes + failures) {
        fprintf(stderr, "  calls %llu != %llu\n", (unsigned long long)m.calls,
                (unsigned long long)(successes + failures));
    }
    tg_breaker_free(b);
}

/* Threads race to trip one breaker: one transition, seen once by the listener. */
static atomic_int transitions_seen;

static void count_transition(void *userdata, const tg_transition *t) {
    (void)userdata;
    if (t->to == TG_STATE_OPEN) atomic_fetch_add(&transitions_seen, 1);
}

static void *fail_many(void *arg) {
    const tg_breaker *b = arg;
    for (int i = 0; i < 2000; i++) {
        tg_permit p;
        tg_status s = tg_try_acquire(b, &p);
        if (s == TG_OK) tg_record(b, &p, TG_FAILURE_CONNECTION, 0);
    }
    return NULL;
}

static void racing_trip_emits_one_transition(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_set_count_window(c, 100));
    CHECK_OK(tg_config_set_minimum_calls(c, 20));
    CHECK_OK(tg_config_set_open_duration_ns(c, 3600ull * 1000000000ull));
    tg_breaker *b = NULL;
    CHECK_OK(tg_breaker_new_with_manual_clock(c, 0, &b));
    tg_config_free(c);
    atomic_store(&transitions_seen, 0);
    CHECK_OK(tg_breaker_set_listener(b, count_transition, NULL));
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) CHECK(pthread_create(&t[i], NULL, fail_many, b) == 0);
    for (int i = 0; i < THREADS; i++) CHECK(pthread_join(t[i], NULL) == 0);
    tg_metrics m;
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.state == TG_STATE_OPEN);
    CHECK(m.transitions == 1);
    CHECK(atomic_load(&transitions_seen) == 1);
    CHECK(m.calls + m.rejected == (uint64_t)THREADS * 2000);
    tg_breaker_free(b);
}

int main(void) {
    const char *env = getenv("TG_TEST_ITERATIONS");
    if (env != NULL && atoi(env) > 0) iterations = atoi(env);
    RUN(eight_threads_conserve_totals);
    RUN(racing_trip_emits_one_transition);
    return finish();
}
