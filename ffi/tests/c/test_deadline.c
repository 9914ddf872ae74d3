/* A permit's deadline (tg_permit_deadline_ns): admission plus the call_timeout in
 * force, on the breaker's clock; TG_NO_DEADLINE without a timeout; read without
 * consuming the permit; refused for the spent, a foreign or an altered permit and for
 * NULL arguments. */
#include <stdint.h>

#include "tg_test.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* A breaker on a manual clock reading `start`, with a call_timeout of `timeout_ns`
 * (none when 0). */
static tg_breaker *make(uint64_t start, uint64_t timeout_ns) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_set_consecutive_failures(c, 1));
    CHECK_OK(tg_config_set_open_duration_ns(c, 10 * SEC));
    if (timeout_ns != 0) CHECK_OK(tg_config_set_call_timeout_ns(c, timeout_ns));
    tg_breaker *b = NULL;
    CHECK_OK(tg_breaker_new_with_manual_clock(c, start, &b));
    tg_config_free(c);
    return b;
}

static uint64_t now_of(const tg_breaker *b) {
    uint64_t now = 0;
    CHECK_OK(tg_clock_now_ns(b, &now));
    return now;
}

static void a_permit_reads_admission_plus_the_timeout_and_stays_to_be_answered(void) {
    tg_breaker *b = make(5 * SEC, 250 * MS);
    tg_permit p;
    CHECK_OK(tg_try_acquire(b, &p));
    uint64_t deadline = 0;
    CHECK_OK(tg_permit_deadline_ns(b, &p, &deadline));
    CHECK(deadline == 5 * SEC + 250 * MS);
    /* The clock moves, the deadline does not; reading twice changes nothing. */
    CHECK_OK(tg_clock_advance_ns(b, 100 * MS));
    uint64_t again = 0;
    CHECK_OK(tg_permit_deadline_ns(b, &p, &again));
    CHECK(again == deadline);
    CHECK(deadline - now_of(b) == 150 * MS); /* the time left for the call's I/O */

    /* Still the caller's to answer, once: at the deadline, whatever the call says is
     * counted as a timeout. */
    CHECK_OK(tg_clock_advance_ns(b, 150 * MS));
    CHECK(now_of(b) == deadline);
    CHECK_OK(tg_record(b, &p, TG_SUCCESS, 0));
    tg_metrics m;
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.calls == 1 && m.failures_timeout == 1 && m.successes == 0 && m.abandoned == 0);

    /* One nanosecond before it, the outcome counts as reported (a fresh breaker: the
     * timeout above tripped this one). */
    tg_breaker *fresh = make(5 * SEC, 250 * MS);
    tg_permit q;
    CHECK_OK(tg_try_acquire(fresh, &q));
    CHECK_OK(tg_clock_advance_ns(fresh, 250 * MS - 1));
    CHECK_OK(tg_record(fresh, &q, TG_IGNORED, 0));
    CHECK_OK(tg_snapshot(fresh, &m));
    CHECK(m.failures_timeout == 0 && m.ignored == 1);
    tg_breaker_free(fresh);

    /* The spent permit tg_record left in the variable is refused, *out untouched. */
    uint64_t untouched = 42;
    CHECK_STATUS(tg_permit_deadline_ns(b, &p, &untouched), TG_ERR_INVALID_PERMIT);
    CHECK_ERROR_MENTIONS("tg_permit_deadline_ns");
    CHECK_ERROR_MENTIONS("already answered");
    CHECK(untouched == 42);
    tg_breaker_free(b);
}

static void without_a_timeout_there_is_no_deadline_and_a_reconfiguration_moves_it(void) {
    tg_breaker *b = make(1 * SEC, 0);
    tg_permit p;
    CHECK_OK(tg_try_acquire(b, &p));
    uint64_t deadline = 0;
    CHECK_OK(tg_permit_deadline_ns(b, &p, &deadline));
    CHECK(deadline == TG_NO_DEADLINE);
    CHECK(TG_NO_DEADLINE == UINT64_MAX);
    CHECK_OK(tg_release(b, &p));

    /* Under a timeout set live, a permit admitted after it carries its deadline; a
     * longer timeout moves it, none removes it. One admitted before it has none (the
     * default config times calls: that must not give it one). */
    tg_permit early;
    CHECK_OK(tg_try_acquire(b, &early));
    tg_config *c = NULL;
    CHECK_OK(tg_breaker_get_config(b, &c));
    CHECK_OK(tg_config_set_call_timeout_ns(c, 100 * MS));
    CHECK_OK(tg_reconfigure(b, c));
    CHECK_OK(tg_permit_deadline_ns(b, &early, &deadline));
    CHECK(deadline == TG_NO_DEADLINE);
    CHECK_OK(tg_release(b, &early));
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK_OK(tg_permit_deadline_ns(b, &p, &deadline));
    CHECK(deadline == 1 * SEC + 100 * MS);
    CHECK_OK(tg_config_set_call_timeout_ns(c, 2 * SEC));
    CHECK_OK(tg_reconfigure(b, c));
    CHECK_OK(tg_permit_deadline_ns(b, &p, &deadline));
    CHECK(deadline == 3 * SEC);
    CHECK_OK(tg_config_clear_call_timeout(c));
    CHECK_OK(tg_reconfigure(b, c));
    CHECK_OK(tg_permit_deadline_ns(b, &p, &deadline));
    CHECK(deadline == TG_NO_DEADLINE);
    CHECK_OK(tg_record(b, &p, TG_SUCCESS, 0));
    tg_config_free(c);
    tg_breaker_free(b);
}

static void a_half_open_probe_carries_its_deadline(void) {
    tg_breaker *b = make(0, 40 * MS);
    CHECK_OK(tg_open_for_ns(b, 2 * SEC));
    CHECK_OK(tg_clock_advance_ns(b, 2 * SEC));
    tg_permit probe;
    CHECK_OK(tg_try_acquire(b, &probe));
    tg_breaker_state s = -1;
    CHECK_OK(tg_state(b, &s));
    CHECK(s == TG_STATE_HALF_OPEN);
    uint64_t deadline = 0;
    CHECK_OK(tg_permit_deadline_ns(b, &probe, &deadline));
    CHECK(deadline == 2 * SEC + 40 * MS);
    CHECK_OK(tg_record(b, &probe, TG_SUCCESS, 0));
    CHECK_OK(tg_state(b, &s));
    CHECK(s == TG_STATE_CLOSED);
    tg_breaker_free(b);
}

static void foreign_altered_and_null_are_refused(void) {
    tg_breaker *b = make(0, 100 * MS);
    tg_breaker *other = make(0, 100 * MS);
    tg_permit mine, theirs;
    CHECK_OK(tg_try_acquire(b, &mine));
    CHECK_OK(tg_try_acquire(other, &theirs));
    uint64_t out = 7;
    CHECK_STATUS(tg_permit_deadline_ns(b, &theirs, &out), TG_ERR_INVALID_PERMIT);
    CHECK_ERROR_MENTIONS("not issued by this breaker");
    tg_permit flipped = mine;
    flipped._opaque[1] ^= 1; /* the admission time */
    CHECK_STATUS(tg_permit_deadline_ns(b, &flipped, &out), TG_ERR_INVALID_PERMIT);
    tg_permit zeroed = {{0, 0, 0}};
    CHECK_STATUS(tg_permit_deadline_ns(b, &zeroed, &out), TG_ERR_INVALID_PERMIT);
    CHECK(out == 7);

    CHECK_STATUS(tg_permit_deadline_ns(NULL, &mine, &out), TG_ERR_NULL);
    CHECK_STATUS(tg_permit_deadline_ns(b, NULL, &out), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("tg_permit_deadline_ns");
    CHECK_STATUS(tg_permit_deadline_ns(b, &mine, NULL), TG_ERR_NULL);
    CHECK(out == 7);

    /* Nothing was consumed: both genuine permits are answered once each. */
    CHECK_OK(tg_record(b, &mine, TG_SUCCESS, 0));
    CHECK_OK(tg_release(other, &theirs));
    tg_metrics m;
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.successes == 1 && m.failures == 0);
    tg_breaker_free(b);
    tg_breaker_free(other);
}

int main(void) {
    RUN(a_permit_reads_admission_plus_the_timeout_and_stays_to_be_answered);
    RUN(without_a_timeout_there_is_no_deadline_and_a_reconfiguration_moves_it);
    RUN(a_half_open_probe_carries_its_deadline);
    RUN(foreign_altered_and_null_are_refused);
    return finish();
}
