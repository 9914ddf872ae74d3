/* tg_call: a C function run under the breaker. The outcome it returns is recorded once,
 * with the latency measured around it; a rejected call is not made; a call returning at
 * or after its deadline counts as a timeout; a value that is not an outcome is an error
 * and the call is counted as ignored; the function may use the breaker itself. */
#include <stdint.h>

#include "tg_test.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* What a guarded call does: advance the breaker's manual clock by `takes_ns`, then
 * return `returns`. Counts the times it ran. */
typedef struct {
    const tg_breaker *breaker;
    uint64_t takes_ns;
    tg_outcome returns;
    int ran;
} scripted_call;

static tg_outcome run_script(void *userdata) {
    scripted_call *s = userdata;
    s->ran++;
    if (s->takes_ns != 0) CHECK_OK(tg_clock_advance_ns(s->breaker, s->takes_ns));
    return s->returns;
}

/* A breaker on a manual clock: trips on `streak` consecutive failures, tracks latency,
 * calls slow from 100 ms; a call_timeout of `timeout_ns` (none when 0). */
static tg_breaker *make(uint32_t streak, uint64_t timeout_ns) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_set_consecutive_failures(c, streak));
    CHECK_OK(tg_config_set_open_duration_ns(c, 10 * SEC));
    CHECK_OK(tg_config_set_half_open_permits(c, 1));
    CHECK_OK(tg_config_set_half_open_success_threshold(c, 1));
    CHECK_OK(tg_config_set_track_latency(c, true));
    CHECK_OK(tg_config_set_slow_call_duration_ns(c, 100 * MS));
    if (timeout_ns != 0) CHECK_OK(tg_config_set_call_timeout_ns(c, timeout_ns));
    tg_breaker *b = NULL;
    CHECK_OK(tg_breaker_new_with_manual_clock(c, 1 * SEC, &b));
    tg_config_free(c);
    return b;
}

static tg_metrics snapshot(const tg_breaker *b) {
    tg_metrics m;
    memset(&m, 0, sizeof m);
    CHECK_OK(tg_snapshot(b, &m));
    return m;
}

static void each_outcome_is_recorded_once_as_returned(void) {
    tg_breaker *b = make(100, 0);
    scripted_call s = {b, 0, TG_SUCCESS, 0};
    CHECK_OK(tg_call(b, run_script, &s));
    s.returns = TG_FAILURE_CONNECTION;
    CHECK_OK(tg_call(b, run_script, &s));
    s.returns = TG_FAILURE_SERVER_ERROR;
    CHECK_OK(tg_call(b, run_script, &s));
    s.returns = TG_IGNORED;
    CHECK_OK(tg_call(b, run_script, &s));
    CHECK(s.ran == 4);
    tg_metrics m = snapshot(b);
    /* `calls` counts the calls that said something about the dependency. */
    CHECK(m.calls == 3 && m.successes == 1 && m.ignored == 1 && m.abandoned == 0);
    CHECK(m.failures == 2 && m.failures_connection == 1 && m.failures_server_error == 1);
    CHECK(m.consecutive_failures == 2); /* an ignored call neither extends nor breaks it */
    tg_breaker_free(b);
}

static void the_latency_is_measured_around_the_call(void) {
    tg_breaker *b = make(100, 0);
    scripted_call fast = {b, 30 * MS, TG_SUCCESS, 0};
    scripted_call slow = {b, 150 * MS, TG_SUCCESS, 0};
    CHECK_OK(tg_call(b, run_script, &fast));
    CHECK_OK(tg_call(b, run_script, &slow));
    tg_metrics m = snapshot(b);
    CHECK(m.successes == 2 && m.slow_calls == 1);
    CHECK(m.has_latency && m.latency.count == 2);
    /* Within the histogram's precision (1% and better) of the 150 ms the call took. */
    CHECK(m.latency.max_ns >= 148500000ull && m.latency.max_ns <= 151500000ull);
    tg_breaker_free(b);
}

static void a_rejected_call_is_not_made(void) {
    tg_breaker *b = make(1, 0);
    scripted_call failing = {b, 0, TG_FAILURE_TIMEOUT, 0};
    CHECK_OK(tg_call(b, run_script, &failing)); /* made, recorded, and it trips */
    CHECK(failing.ran == 1);
    scripted_call next = {b, 0, TG_SUCCESS, 0};
    CHECK_STATUS(tg_call(b, run_script, &next), TG_REJECTED);
    CHECK(next.ran == 0);
    tg_metrics m = snapshot(b);
    CHECK(m.state == TG_STATE_OPEN && m.calls == 1 && m.failures_timeout == 1);
    CHECK(m.rejected == 1);
    uint64_t wait = 0;
    CHECK_OK(tg_retry_after_ns(b, &wait));
    CHECK(wait == 10 * SEC);

    /* After the open duration the one probe is a tg_call like any other. */
    CHECK_OK(tg_clock_advance_ns(b, 10 * SEC));
    CHECK_OK(tg_call(b, run_script, &next));
    CHECK(next.ran == 1);
    CHECK(snapshot(b).state == TG_STATE_CLOSED);
    tg_breaker_free(b);
}

static void a_call_returning_at_its_deadline_is_a_timeout(void) {
    tg_breaker *b = make(100, 250 * MS);
    scripted_call just_in_time = {b, 250 * MS - 1, TG_SUCCESS, 0};
    scripted_call late = {b, 250 * MS, TG_SUCCESS, 0};
    CHECK_OK(tg_call(b, run_script, &just_in_time));
    CHECK_OK(tg_call(b, run_script, &late));
    tg_metrics m = snapshot(b);
    CHECK(m.calls == 2 && m.successes == 1 && m.failures_timeout == 1);
    tg_breaker_free(b);
}

static void a_value_that_is_not_an_outcome_is_an_error_and_frees_the_probe(void) {
    tg_breaker *b = make(1, 0);
    CHECK_OK(tg_half_open(b)); /* one probe slot */
    scripted_call bogus = {b, 0, 42, 0};
    CHECK_STATUS(tg_call(b, run_script, &bogus), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("tg_call");
    CHECK_ERROR_MENTIONS("42");
    CHECK_ERROR_MENTIONS("TG_IGNORED");
    CHECK(bogus.ran == 1);
    tg_metrics m = snapshot(b);
    CHECK(m.calls == 0 && m.ignored == 1 && m.successes == 0 && m.failures == 0);
    CHECK(m.state == TG_STATE_HALF_OPEN && m.half_open_probes == 0);
    bogus.returns = -1;
    CHECK_STATUS(tg_call(b, run_script, &bogus), TG_ERR_INVALID_ARG);
    CHECK(bogus.ran == 2);
    /* The slot is free again: a probe that succeeds closes the breaker. */
    scripted_call probe = {b, 0, TG_SUCCESS, 0};
    CHECK_OK(tg_call(b, run_script, &probe));
    CHECK(probe.ran == 1 && snapshot(b).state == TG_STATE_CLOSED);
    tg_breaker_free(b);
}

/* A call that uses the breaker guarding it: reads it, and guards a nested call. */
static tg_outcome nested(void *userdata) {
    const tg_breaker *b = userdata;
    tg_metrics m;
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.calls == 0);
    tg_permit p;
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK_OK(tg_record(b, &p, TG_FAILURE_OTHER, 0));
    return TG_SUCCESS;
}

static void the_call_may_use_its_breaker(void) {
    tg_breaker *b = make(100, 0);
    CHECK_OK(tg_call(b, nested, (void *)b));
    tg_metrics m = snapshot(b);
    CHECK(m.calls == 2 && m.successes == 1 && m.failures_other == 1);
    tg_breaker_free(b);
}

static tg_outcome expects_null(void *userdata) {
    return userdata == NULL ? TG_SUCCESS : TG_FAILURE_OTHER;
}

static void null_arguments_are_errors_and_nothing_is_called(void) {
    tg_breaker *b = make(100, 0);
    scripted_call s = {b, 0, TG_SUCCESS, 0};
    CHECK_STATUS(tg_call(NULL, run_script, &s), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("tg_call: breaker is NULL");
    CHECK_STATUS(tg_call(b, NULL, &s), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("tg_call: call is NULL");
    CHECK(s.ran == 0 && snapshot(b).calls == 0);
    /* userdata is the caller's: NULL is passed through as it is. */
    CHECK_OK(tg_call(b, expects_null, NULL));
    CHECK(snapshot(b).successes == 1);
    tg_breaker_free(b);
}

int main(void) {
    RUN(each_outcome_is_recorded_once_as_returned);
    RUN(the_latency_is_measured_around_the_call);
    RUN(a_rejected_call_is_not_made);
    RUN(a_call_returning_at_its_deadline_is_a_timeout);
    RUN(a_value_that_is_not_an_outcome_is_an_error_and_frees_the_probe);
    RUN(the_call_may_use_its_breaker);
    RUN(null_arguments_are_errors_and_nothing_is_called);
    return finish();
}
