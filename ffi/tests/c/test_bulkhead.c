/* tg_bulkhead: the limit holds under 32 threads, bad limits and bad releases are refused
 * with a message, and a bulkhead composes with a breaker.
 * TG_TEST_ITERATIONS (default 20000) sets the churn iterations per thread; run_c_tests.sh
 * lowers it under valgrind, which runs one thread at a time. */
#define _POSIX_C_SOURCE 200112L
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "tg_test.h"

#define THREADS 32
#define LIMIT 4

static int iterations = 20000;

static tg_bulkhead *new_bulkhead(uint32_t limit) {
    tg_bulkhead *b = NULL;
    CHECK_OK(tg_bulkhead_new(limit, &b));
    return b;
}

static tg_bulkhead_metrics snapshot(const tg_bulkhead *b) {
    tg_bulkhead_metrics m;
    memset(&m, 0xff, sizeof m);
    CHECK_OK(tg_bulkhead_snapshot(b, &m));
    return m;
}

static void bad_limits_are_refused_with_field_and_range(void) {
    tg_bulkhead *sentinel = (tg_bulkhead *)&sentinel;
    const uint32_t bad[] = {0, TG_BULKHEAD_LIMIT_MAX + 1, UINT32_MAX};
    const char *shown[] = {"limit = 0", "limit = 1000001", "limit = 4294967295"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tg_bulkhead *b = sentinel;
        CHECK_STATUS(tg_bulkhead_new(bad[i], &b), TG_ERR_INVALID_ARG);
        CHECK(b == sentinel); /* out-parameter not written */
        CHECK_ERROR_MENTIONS("tg_bulkhead_new");
        CHECK_ERROR_MENTIONS(shown[i]);
        CHECK_ERROR_MENTIONS("allowed 1..=1000000");
    }
    int from_c = -1; /* a negative int converted at the call: out of range, not huge */
    tg_bulkhead *b = sentinel;
    CHECK_STATUS(tg_bulkhead_new((uint32_t)from_c, &b), TG_ERR_INVALID_ARG);
    CHECK(b == sentinel);

    b = new_bulkhead(1);
    CHECK(snapshot(b).limit == 1);
    tg_bulkhead_free(b);
    b = new_bulkhead(TG_BULKHEAD_LIMIT_MAX);
    CHECK(snapshot(b).limit == TG_BULKHEAD_LIMIT_MAX);
    tg_bulkhead_free(b);
}

static void null_arguments_are_refused(void) {
    tg_bulkhead *b = new_bulkhead(2);
    tg_bulkhead_permit p = {0};
    tg_bulkhead_metrics m;
    CHECK_STATUS(tg_bulkhead_new(1, NULL), TG_ERR_NULL);
    CHECK(strcmp(last_error(), "tg_bulkhead_new: out is NULL") == 0);
    CHECK_STATUS(tg_bulkhead_try_acquire(NULL, &p), TG_ERR_NULL);
    CHECK(strcmp(last_error(), "tg_bulkhead_try_acquire: bulkhead is NULL") == 0);
    CHECK_STATUS(tg_bulkhead_try_acquire(b, NULL), TG_ERR_NULL);
    CHECK(strcmp(last_error(), "tg_bulkhead_try_acquire: out is NULL") == 0);
    CHECK_STATUS(tg_bulkhead_release(NULL, &p), TG_ERR_NULL);
    CHECK(strcmp(last_error(), "tg_bulkhead_release: bulkhead is NULL") == 0);
    CHECK_STATUS(tg_bulkhead_release(b, NULL), TG_ERR_NULL);
    CHECK(strcmp(last_error(), "tg_bulkhead_release: permit is NULL") == 0);
    CHECK_STATUS(tg_bulkhead_snapshot(NULL, &m), TG_ERR_NULL);
    CHECK_STATUS(tg_bulkhead_snapshot(b, NULL), TG_ERR_NULL);
    CHECK(strcmp(last_error(), "tg_bulkhead_snapshot: out is NULL") == 0);
    m = snapshot(b);
    CHECK(m.in_flight == 0 && m.rejected == 0 && m.invalid_releases == 0);
    tg_bulkhead_free(NULL); /* no-op */
    tg_bulkhead_free(b);
}

static void admits_its_limit_then_rejects(void) {
    tg_bulkhead *b = new_bulkhead(3);
    tg_bulkhead_permit p[3];
    for (int i = 0; i < 3; i++) CHECK_OK(tg_bulkhead_try_acquire(b, &p[i]));
    tg_bulkhead_permit untouched = {12345};
    CHECK_STATUS(tg_bulkhead_try_acquire(b, &untouched), TG_REJECTED);
    CHECK(untouched.bulkhead_id == 12345); /* not written on TG_REJECTED */
    tg_bulkhead_metrics m = snapshot(b);
    CHECK(m.limit == 3 && m.in_flight == 3 && m.rejected == 1 && m.invalid_releases == 0);

    CHECK_OK(tg_bulkhead_release(b, &p[1]));
    CHECK(p[1].bulkhead_id == 0); /* cleared */
    CHECK_OK(tg_bulkhead_try_acquire(b, &p[1]));
    CHECK_STATUS(tg_bulkhead_try_acquire(b, &untouched), TG_REJECTED);
    for (int i = 0; i < 3; i++) CHECK_OK(tg_bulkhead_release(b, &p[i]));
    m = snapshot(b);
    CHECK(m.in_flight == 0 && m.rejected == 2 && m.invalid_releases == 0);
    tg_bulkhead_free(b);
}

static void bad_releases_are_refused_and_change_no_count(void) {
    tg_bulkhead *a = new_bulkhead(2), *other = new_bulkhead(2);

    tg_bulkhead_permit never = {0}; /* release without an acquire */
    CHECK_STATUS(tg_bulkhead_release(a, &never), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("tg_bulkhead_release: the permit holds no slot");

    tg_bulkhead_permit p = {0}, held = {0};
    CHECK_OK(tg_bulkhead_try_acquire(a, &held)); /* keeps one slot taken throughout */
    CHECK_OK(tg_bulkhead_try_acquire(a, &p));
    tg_bulkhead_permit copy = p, foreign = p;
    CHECK_STATUS(tg_bulkhead_release(other, &foreign), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("issued by another bulkhead");
    CHECK(foreign.bulkhead_id == copy.bulkhead_id); /* a refused release leaves it alone */

    CHECK_OK(tg_bulkhead_release(a, &p));
    CHECK_STATUS(tg_bulkhead_release(a, &p), TG_ERR_INVALID_ARG); /* twice */
    CHECK_ERROR_MENTIONS("holds no slot");
    CHECK(snapshot(a).in_flight == 1);

    CHECK_OK(tg_bulkhead_release(a, &held));
    /* A copy of a released permit, with no slot left: the count cannot go below 0. */
    CHECK_STATUS(tg_bulkhead_release(a, &copy), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("no slot is held");

    tg_bulkhead_metrics m = snapshot(a);
    CHECK(m.in_flight == 0 && m.invalid_releases == 3 && m.rejected == 0);
    CHECK(snapshot(other).invalid_releases == 1);
    /* Still exactly its limit. */
    tg_bulkhead_permit q[3];
    CHECK_OK(tg_bulkhead_try_acquire(a, &q[0]));
    CHECK_OK(tg_bulkhead_try_acquire(a, &q[1]));
    CHECK_STATUS(tg_bulkhead_try_acquire(a, &q[2]), TG_REJECTED);
    CHECK_OK(tg_bulkhead_release(a, &q[0]));
    CHECK_OK(tg_bulkhead_release(a, &q[1]));
    tg_bulkhead_free(a);
    tg_bulkhead_free(other);
}

/* Ask the bulkhead first, then the breaker; a breaker refusal gives the slot back. */
static void bulkhead_then_breaker(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    tg_breaker *breaker = NULL;
    CHECK_OK(tg_breaker_new(c, &breaker));
    tg_config_free(c);
    tg_bulkhead *b = new_bulkhead(1);

    for (int round = 0; round < 2; round++) {
        if (round == 1) CHECK_OK(tg_force_open(breaker));
        tg_bulkhead_permit slot = {0};
        CHECK_OK(tg_bulkhead_try_acquire(b, &slot));
        tg_permit permit;
        tg_status s = tg_try_acquire(breaker, &permit);
        CHECK(s == (round == 0 ? TG_OK : TG_REJECTED));
        if (s == TG_OK) CHECK_OK(tg_record(breaker, &permit, TG_SUCCESS, 1000));
        CHECK_OK(tg_bulkhead_release(b, &slot));
    }
    tg_metrics bm;
    CHECK_OK(tg_snapshot(breaker, &bm));
    CHECK(bm.successes == 1 && bm.rejected == 1);
    tg_bulkhead_metrics m = snapshot(b);
    CHECK(m.in_flight == 0 && m.rejected == 0);
    tg_breaker_free(breaker);
    tg_bulkhead_free(b);
}

/* ---- 32 threads on one bulkhead of limit 4 ---- */

typedef struct {
    tg_bulkhead *bulkhead;
    pthread_barrier_t *all_tried;
    int index;
    tg_status first;        /* phase 1: the one acquire made while nobody releases */
    uint64_t admitted, rejected, errors;
} worker;

static atomic_int inside;     /* callers holding a slot, as they count themselves */
static atomic_int max_inside; /* the most ever seen at once */

static void note_inside(void) {
    int now = atomic_fetch_add(&inside, 1) + 1;
    int seen = atomic_load(&max_inside);
    while (now > seen && !atomic_compare_exchange_weak(&max_inside, &seen, now)) {
    }
}

static void *work(void *arg) {
    worker *w = arg;
    /* Phase 1: every thread asks once and admitted ones hold their slot until all have
     * asked: exactly LIMIT are admitted, whatever the interleaving. */
    tg_bulkhead_permit p = {0};
    w->first = tg_bulkhead_try_acquire(w->bulkhead, &p);
    if (w->first == TG_OK) note_inside();
    pthread_barrier_wait(w->all_tried);
    if (w->first == TG_OK) {
        atomic_fetch_sub(&inside, 1);
        if (tg_bulkhead_release(w->bulkhead, &p) != TG_OK) w->errors++;
    }
    pthread_barrier_wait(w->all_tried);

    /* Phase 2: churn. A holder sometimes yields its CPU while holding, so that others
     * find the bulkhead full. */
    for (int i = 0; i < iterations; i++) {
        tg_bulkhead_permit q = {0};
        tg_status s = tg_bulkhead_try_acquire(w->bulkhead, &q);
        if (s == TG_REJECTED) {
            w->rejected++;
            continue;
        }
        if (s != TG_OK) {
            w->errors++;
            continue;
        }
        w->admitted++;
        note_inside();
        if ((i + w->index) % 4 == 0) sched_yield();
        atomic_fetch_sub(&inside, 1); /* before the release: never counted outside a slot */
        if (tg_bulkhead_release(w->bulkhead, &q) != TG_OK) w->errors++;
    }
    return NULL;
}

static void thirty_two_threads_never_exceed_the_limit(void) {
    tg_bulkhead *b = new_bulkhead(LIMIT);
    pthread_barrier_t all_tried;
    CHECK(pthread_barrier_init(&all_tried, NULL, THREADS) == 0);
    atomic_store(&inside, 0);
    atomic_store(&max_inside, 0);

    worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.bulkhead = b, .all_tried = &all_tried, .index = i};
        CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0);
    }
    uint64_t first_ok = 0, first_rejected = 0, admitted = 0, rejected = 0, errors = 0;
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(t[i], NULL) == 0);
        first_ok += w[i].first == TG_OK;
        first_rejected += w[i].first == TG_REJECTED;
        admitted += w[i].admitted;
        rejected += w[i].rejected;
        errors += w[i].errors;
    }
    pthread_barrier_destroy(&all_tried);

    CHECK(first_ok == LIMIT);
    CHECK(first_rejected == THREADS - LIMIT);
    CHECK(errors == 0);
    CHECK(atomic_load(&max_inside) <= LIMIT);
    CHECK(atomic_load(&max_inside) == LIMIT); /* phase 1 reached it */
    CHECK(admitted + rejected == (uint64_t)THREADS * (uint64_t)iterations);
    tg_bulkhead_metrics m = snapshot(b);
    CHECK(m.limit == LIMIT);
    CHECK(m.in_flight == 0);
    CHECK(m.rejected == first_rejected + rejected);
    CHECK(m.invalid_releases == 0);
    printf("  note: churn admitted %llu, rejected %llu\n", (unsigned long long)admitted,
           (unsigned long long)rejected);
    tg_bulkhead_free(b);
}

int main(void) {
    const char *env = getenv("TG_TEST_ITERATIONS");
    if (env != NULL && atoi(env) > 0) iterations = atoi(env);
    RUN(bad_limits_are_refused_with_field_and_range);
    RUN(null_arguments_are_refused);
    RUN(admits_its_limit_then_rejects);
    RUN(bad_releases_are_refused_and_change_no_count);
    RUN(bulkhead_then_breaker);
    RUN(thirty_two_threads_never_exceed_the_limit);
    return finish();
}
