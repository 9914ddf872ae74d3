/* tg_breaker: a full trip / reject / half-open / close cycle on the manual clock,
 * listeners, operator calls, snapshots with percentiles, reconfiguration, and every
 * NULL and invalid argument. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "tg_test.h"

#define MS 1000000ull
#define SEC 1000000000ull

typedef struct {
    const tg_breaker *breaker;
    int count;
    tg_transition log[32];
    int state_matched; /* the callback re-entered the breaker and saw the new state */
} recorder;

static void on_transition(void *userdata, const tg_transition *t) {
    recorder *r = userdata;
    if (r->count < 32) r->log[r->count] = *t;
    r->count++;
    tg_breaker_state now = -1;
    /* Called outside every lock: calling back into the breaker is allowed. */
    if (tg_state(r->breaker, &now) == TG_OK && now == t->to) r->state_matched++;
}

static tg_breaker *make(tg_config *c, uint64_t start) {
    tg_breaker *b = NULL;
    CHECK_OK(tg_breaker_new_with_manual_clock(c, start, &b));
    CHECK(b != NULL);
    return b;
}

static tg_breaker_state state_of(const tg_breaker *b) {
    tg_breaker_state s = -1;
    CHECK_OK(tg_state(b, &s));
    return s;
}

static void record(const tg_breaker *b, tg_outcome o) {
    tg_permit p;
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK_OK(tg_record(b, &p, o, 0));
}

static void full_cycle_on_the_manual_clock(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    /* The minimum first: a count window smaller than the config's minimum_calls (10
     * by default) is refused, since it could never hold that many calls. */
    CHECK_STATUS(tg_config_set_count_window(c, 4), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("minimum_calls");
    CHECK_OK(tg_config_set_minimum_calls(c, 4));
    CHECK_OK(tg_config_set_count_window(c, 4));
    CHECK_OK(tg_config_set_failure_rate_threshold(c, 0.5));
    CHECK_OK(tg_config_set_open_duration_ns(c, 30 * SEC));
    tg_breaker *b = make(c, 1000);
    tg_config_free(c); /* the breaker holds its own copy */

    recorder r = {.breaker = b};
    CHECK_OK(tg_breaker_set_listener(b, on_transition, &r));
    CHECK(state_of(b) == TG_STATE_CLOSED);

    /* 2 successes and 2 failures: 50% of 4 calls trips; the 4th record is still OK. */
    record(b, TG_SUCCESS);
    record(b, TG_SUCCESS);
    record(b, TG_FAILURE_TIMEOUT);
    CHECK(state_of(b) == TG_STATE_CLOSED);
    record(b, TG_FAILURE_CONNECTION);
    CHECK(state_of(b) == TG_STATE_OPEN);

    /* Open: rejected, the permit untouched, retry-after counts down. */
    tg_permit sentinel;
    memset(&sentinel, 0xA5, sizeof sentinel);
    tg_permit p = sentinel;
    CHECK_STATUS(tg_try_acquire(b, &p), TG_REJECTED);
    CHECK(memcmp(&p, &sentinel, sizeof p) == 0);
    uint64_t wait = 0;
    CHECK_OK(tg_retry_after_ns(b, &wait));
    CHECK(wait == 30 * SEC);
    CHECK_OK(tg_clock_advance_ns(b, 10 * SEC));
    CHECK_OK(tg_retry_after_ns(b, &wait));
    CHECK(wait == 20 * SEC);
    CHECK_STATUS(tg_try_acquire(b, &p), TG_REJECTED);

    /* The deadline itself admits one probe; a second is rejected. */
    CHECK_OK(tg_clock_advance_ns(b, 20 * SEC));
    tg_permit probe;
    CHECK_OK(tg_try_acquire(b, &probe));
    CHECK(state_of(b) == TG_STATE_HALF_OPEN);
    CHECK_STATUS(tg_try_acquire(b, &p), TG_REJECTED);
    tg_metrics m;
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.half_open_probes == 1);
    CHECK(m.has_retry_after);

    /* Releasing the probe frees its slot; a failed probe reopens. */
    CHECK_OK(tg_release(b, &probe));
    CHECK(state_of(b) == TG_STATE_HALF_OPEN);
    CHECK_OK(tg_try_acquire(b, &probe));
    CHECK_OK(tg_record(b, &probe, TG_FAILURE_SERVER_ERROR, 0));
    CHECK(state_of(b) == TG_STATE_OPEN);

    /* After another open period a successful probe closes the breaker. */
    CHECK_OK(tg_clock_advance_ns(b, 30 * SEC));
    CHECK_OK(tg_try_acquire(b, &probe));
    CHECK(state_of(b) == TG_STATE_HALF_OPEN);
    CHECK_OK(tg_record(b, &probe, TG_SUCCESS, 0));
    CHECK(state_of(b) == TG_STATE_CLOSED);
    CHECK_OK(tg_retry_after_ns(b, &wait));
    CHECK(wait == 0);

    /* Every transition reached the listener, in order, with its reason. */
    CHECK(r.count == 5);
    CHECK(r.state_matched == 5);
    CHECK(r.log[0].from == TG_STATE_CLOSED && r.log[0].to == TG_STATE_OPEN);
    CHECK(r.log[0].reason == TG_REASON_FAILURE_RATE);
    CHECK(r.log[0].rate == 0.5 && r.log[0].threshold == 0.5);
    CHECK(r.log[0].has_open_for && r.log[0].open_for_ns == 30 * SEC);
    CHECK(r.log[0].at_ns == 1000);
    CHECK(r.log[1].from == TG_STATE_OPEN && r.log[1].to == TG_STATE_HALF_OPEN);
    CHECK(r.log[1].reason == TG_REASON_OPEN_ELAPSED);
    CHECK(r.log[2].to == TG_STATE_OPEN && r.log[2].reason == TG_REASON_PROBE_FAILED);
    CHECK(r.log[3].to == TG_STATE_HALF_OPEN);
    CHECK(r.log[4].from == TG_STATE_HALF_OPEN && r.log[4].to == TG_STATE_CLOSED);
    CHECK(r.log[4].reason == TG_REASON_PROBES_SUCCEEDED && r.log[4].count == 1);
    for (int i = 1; i < 5; i++) CHECK(r.log[i].generation == r.log[i - 1].generation + 1);

    /* Totals survive the transitions. */
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.state == TG_STATE_CLOSED);
    CHECK(m.transitions == 5);
    CHECK(m.generation == r.log[4].generation);
    CHECK(m.calls == 6);
    CHECK(m.successes == 3);
    CHECK(m.failures == 3);
    CHECK(m.failures_timeout == 1 && m.failures_connection == 1 && m.failures_server_error == 1);
    CHECK(m.failures_rejected == 0 && m.failures_other == 0);
    CHECK(m.rejected == 3);
    CHECK(m.abandoned == 1);
    CHECK(m.has_last_failure);
    CHECK(!m.has_retry_after);
    CHECK(m.consecutive_failures == 0);
    CHECK(m.listener_panics == 0);
    /* The first transition was exactly 60 s ago: "the last minute" excludes it. */
    CHECK(m.transitions_last_minute == 4);
    CHECK(m.has_effective_failure_rate_threshold && m.effective_failure_rate_threshold == 0.5);

    /* Removing the listener stops the callbacks. */
    CHECK_OK(tg_breaker_set_listener(b, NULL, NULL));
    CHECK_OK(tg_force_open(b));
    CHECK(r.count == 5);
    tg_breaker_free(b);
}

static void consecutive_failures_trip_with_their_reason(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_clear_failure_rate_threshold(c));
    CHECK_OK(tg_config_set_consecutive_failures(c, 3));
    tg_breaker *b = make(c, 0);
    tg_config_free(c);
    recorder r = {.breaker = b};
    CHECK_OK(tg_breaker_set_listener(b, on_transition, &r));
    record(b, TG_FAILURE_OTHER);
    record(b, TG_FAILURE_REJECTED);
    record(b, TG_IGNORED); /* neutral: does not reset the streak */
    CHECK(state_of(b) == TG_STATE_CLOSED);
    record(b, TG_FAILURE_TIMEOUT);
    CHECK(state_of(b) == TG_STATE_OPEN);
    CHECK(r.count == 1);
    CHECK(r.log[0].reason == TG_REASON_CONSECUTIVE_FAILURES);
    CHECK(r.log[0].count == 3 && r.log[0].limit == 3);
    tg_metrics m;
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.ignored == 1 && m.failures == 3 && m.calls == 3);
    CHECK(!m.has_effective_failure_rate_threshold && m.effective_failure_rate_threshold == 0.0);
    CHECK(m.consecutive_failures == 3);
    tg_breaker_free(b);
}

static void operator_states(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    tg_breaker *b = make(c, 0);
    tg_config_free(c);
    recorder r = {.breaker = b};
    CHECK_OK(tg_breaker_set_listener(b, on_transition, &r));
    tg_permit p;

    CHECK_OK(tg_force_open(b));
    CHECK(state_of(b) == TG_STATE_FORCED_OPEN);
    CHECK_STATUS(tg_try_acquire(b, &p), TG_REJECTED);
    CHECK_OK(tg_force_open(b)); /* already there: no transition */
    CHECK(r.count == 1);

    CHECK_OK(tg_force_closed(b));
    CHECK(state_of(b) == TG_STATE_FORCED_CLOSED);
    for (int i = 0; i < 20; i++) record(b, TG_FAILURE_TIMEOUT);
    CHECK(state_of(b) == TG_STATE_FORCED_CLOSED);

    CHECK_OK(tg_disable(b));
    CHECK(state_of(b) == TG_STATE_DISABLED);
    tg_metrics before, after;
    CHECK_OK(tg_snapshot(b, &before));
    record(b, TG_FAILURE_TIMEOUT);
    CHECK_OK(tg_snapshot(b, &after));
    CHECK(after.calls == before.calls); /* disabled: nothing counted */

    CHECK_OK(tg_metrics_only(b));
    CHECK(state_of(b) == TG_STATE_METRICS_ONLY);
    for (int i = 0; i < 20; i++) record(b, TG_FAILURE_TIMEOUT);
    CHECK(state_of(b) == TG_STATE_METRICS_ONLY);
    CHECK_OK(tg_snapshot(b, &after));
    CHECK(after.calls == before.calls + 20);

    CHECK_OK(tg_reset(b));
    CHECK(state_of(b) == TG_STATE_CLOSED);
    CHECK(r.count == 5);
    for (int i = 0; i < r.count && i < 32; i++) CHECK(r.log[i].reason == TG_REASON_MANUAL);
    CHECK(r.state_matched == 5);
    tg_breaker_free(b);
}

static void snapshot_reports_latency_percentiles(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_clear_failure_rate_threshold(c));
    CHECK_OK(tg_config_set_count_window(c, 1000));
    CHECK_OK(tg_config_set_track_latency(c, true));
    CHECK_OK(tg_config_set_slow_call_duration_ns(c, 90 * MS));
    CHECK_OK(tg_config_set_track_in_flight(c, true));
    tg_breaker *b = make(c, 0);
    tg_config_free(c);

    for (uint64_t i = 1; i <= 100; i++) {
        tg_permit p;
        CHECK_OK(tg_try_acquire(b, &p));
        CHECK_OK(tg_record(b, &p, TG_SUCCESS, i * MS)); /* caller-measured latency */
    }
    /* Latency 0: measured from the acquire on the breaker's clock. */
    tg_permit p;
    CHECK_OK(tg_try_acquire(b, &p));
    tg_metrics m;
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.has_in_flight && m.in_flight == 1);
    CHECK_OK(tg_clock_advance_ns(b, 50 * MS));
    CHECK_OK(tg_record(b, &p, TG_SUCCESS, 0));

    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.in_flight == 0);
    CHECK(m.calls == 101 && m.window_calls == 101);
    CHECK(m.slow_calls == 11); /* 90..100 ms */
    CHECK(fabs(m.slow_call_rate - 11.0 / 101.0) < 1e-9);
    CHECK(m.failure_rate == 0.0);
    CHECK(m.has_latency);
    CHECK(m.latency.count == 101);
    /* Relative error of the histogram is at most 3.2%. */
#define NEAR(v, want) (fabs((double)(v) - (double)(want)) <= 0.032 * (double)(want))
    CHECK(NEAR(m.latency.p50_ns, 50 * MS));
    CHECK(NEAR(m.latency.p90_ns, 90 * MS));
    CHECK(NEAR(m.latency.p95_ns, 95 * MS));
    CHECK(NEAR(m.latency.p99_ns, 99 * MS));
    CHECK(NEAR(m.latency.p999_ns, 100 * MS));
    CHECK(NEAR(m.latency.max_ns, 100 * MS));
    CHECK(NEAR(m.latency.mean_ns, (5050 + 50) * MS / 101));
    CHECK(m.latency.p50_ns <= m.latency.p90_ns && m.latency.p90_ns <= m.latency.p95_ns &&
          m.latency.p95_ns <= m.latency.p99_ns && m.latency.p99_ns <= m.latency.p999_ns);
    CHECK(m.time_in_state_ns == 50 * MS);
    tg_breaker_free(b);

    /* Without latency tracking there are no percentiles. */
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_set_track_latency(c, false));
    b = make(c, 0);
    tg_config_free(c);
    record(b, TG_SUCCESS);
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(!m.has_latency && m.latency.count == 0 && !m.has_in_flight);
    tg_breaker_free(b);
}

static void reconfigure_live(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_set_count_window(c, 10));
    CHECK_OK(tg_config_set_minimum_calls(c, 10));
    tg_breaker *b = make(c, 0);
    tg_config_free(c);

    for (int i = 0; i < 3; i++) record(b, TG_FAILURE_TIMEOUT);
    CHECK(state_of(b) == TG_STATE_CLOSED);

    tg_config *live = NULL;
    CHECK_OK(tg_breaker_get_config(b, &live));
    CHECK(live != NULL);
    CHECK_OK(tg_config_set_minimum_calls(live, 3));
    CHECK_OK(tg_reconfigure(b, live));
    record(b, TG_FAILURE_TIMEOUT); /* the window's 4 failures now reach the threshold */
    CHECK(state_of(b) == TG_STATE_OPEN);

    /* A running breaker refuses what it cannot take; it keeps its config. */
    CHECK_OK(tg_config_set_histogram_precision(live, 6));
    CHECK_STATUS(tg_reconfigure(b, live), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("tg_reconfigure: invalid histogram_precision");
    CHECK_OK(tg_config_set_histogram_precision(live, 5));
    CHECK_OK(tg_config_set_count_window(live, 20));
    CHECK_STATUS(tg_reconfigure(b, live), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("window.buckets");
    tg_config_free(live);

    CHECK_OK(tg_breaker_get_config(b, &live));
    CHECK_OK(tg_config_set_count_window(live, 10));
    char buf[4096];
    CHECK_OK(tg_config_to_toml(live, buf, sizeof buf, NULL));
    CHECK(strstr(buf, "minimum_calls = 3") != NULL);
    tg_config_free(live);
    tg_breaker_free(b);
}

static void clocks(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    tg_breaker *sys = NULL;
    CHECK_OK(tg_breaker_new(c, &sys));
    CHECK_STATUS(tg_clock_advance_ns(sys, SEC), TG_ERR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS("system clock");
    uint64_t a = 0, b2 = 0;
    CHECK_OK(tg_clock_now_ns(sys, &a));
    CHECK_OK(tg_clock_now_ns(sys, &b2));
    CHECK(b2 >= a);
    record(sys, TG_SUCCESS);
    tg_breaker_free(sys);

    tg_breaker *man = make(c, 5 * SEC);
    CHECK_OK(tg_clock_now_ns(man, &a));
    CHECK(a == 5 * SEC);
    CHECK_OK(tg_clock_advance_ns(man, 7));
    CHECK_OK(tg_clock_now_ns(man, &a));
    CHECK(a == 5 * SEC + 7);
    tg_breaker_free(man);
    tg_config_free(c);
}

static void invalid_outcome_is_refused_and_the_permit_kept(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_set_track_in_flight(c, true));
    tg_breaker *b = make(c, 0);
    tg_config_free(c);
    tg_permit p;
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK_STATUS(tg_record(b, &p, 7, 0), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("unknown outcome 7");
    CHECK_STATUS(tg_record(b, &p, -1, 0), TG_ERR_INVALID_ARG);
    tg_metrics m;
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.calls == 0 && m.in_flight == 1);
    CHECK_OK(tg_record(b, &p, TG_IGNORED, 0));
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.ignored == 1 && m.in_flight == 0);
    tg_breaker_free(b);
}

static void null_arguments_are_errors_not_crashes(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    tg_breaker *b = make(c, 0);
    tg_breaker *sentinel_b = (tg_breaker *)(uintptr_t)0x5678;
    tg_breaker *out = sentinel_b;

    CHECK_STATUS(tg_breaker_new(NULL, &out), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("tg_breaker_new: config is NULL");
    CHECK_STATUS(tg_breaker_new(c, NULL), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("tg_breaker_new: out is NULL");
    CHECK_STATUS(tg_breaker_new_with_manual_clock(NULL, 0, &out), TG_ERR_NULL);
    CHECK_STATUS(tg_breaker_new_with_manual_clock(c, 0, NULL), TG_ERR_NULL);
    CHECK(out == sentinel_b);

    tg_permit p = {0};
    CHECK_STATUS(tg_try_acquire(NULL, &p), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("tg_try_acquire: breaker is NULL");
    CHECK_STATUS(tg_try_acquire(b, NULL), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("tg_try_acquire: out is NULL");
    CHECK_STATUS(tg_record(NULL, &p, TG_SUCCESS, 0), TG_ERR_NULL);
    CHECK_STATUS(tg_release(NULL, &p), TG_ERR_NULL);
    tg_breaker_state s = 77;
    CHECK_STATUS(tg_state(NULL, &s), TG_ERR_NULL);
    CHECK_STATUS(tg_state(b, NULL), TG_ERR_NULL);
    CHECK(s == 77);
    uint64_t u = 77;
    CHECK_STATUS(tg_retry_after_ns(NULL, &u), TG_ERR_NULL);
    CHECK_STATUS(tg_retry_after_ns(b, NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_clock_now_ns(NULL, &u), TG_ERR_NULL);
    CHECK_STATUS(tg_clock_now_ns(b, NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_clock_advance_ns(NULL, 1), TG_ERR_NULL);
    CHECK(u == 77);
    tg_metrics m;
    memset(&m, 0xAB, sizeof m);
    CHECK_STATUS(tg_snapshot(NULL, &m), TG_ERR_NULL);
    CHECK_STATUS(tg_snapshot(b, NULL), TG_ERR_NULL);
    CHECK(m.calls == 0xABABABABABABABABull);
    CHECK_STATUS(tg_force_open(NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_force_closed(NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_disable(NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_metrics_only(NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_reset(NULL), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("tg_reset: breaker is NULL");
    CHECK_STATUS(tg_reconfigure(NULL, c), TG_ERR_NULL);
    CHECK_STATUS(tg_reconfigure(b, NULL), TG_ERR_NULL);
    tg_config *cout = (tg_config *)(uintptr_t)0x9;
    CHECK_STATUS(tg_breaker_get_config(NULL, &cout), TG_ERR_NULL);
    CHECK_STATUS(tg_breaker_get_config(b, NULL), TG_ERR_NULL);
    CHECK(cout == (tg_config *)(uintptr_t)0x9);
    CHECK_STATUS(tg_breaker_set_listener(NULL, on_transition, NULL), TG_ERR_NULL);
    tg_breaker_free(NULL); /* NULL-safe */

    /* The breaker is untouched by all of the above. */
    CHECK(state_of(b) == TG_STATE_CLOSED);
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.calls == 0 && m.rejected == 0);
    tg_breaker_free(b);
    tg_config_free(c);
}

/* A breaker tripped by one failure and due for probes: `permits` slots, closing after
 * `successes`. */
static tg_breaker *due_for_probes(uint32_t permits, uint32_t successes, bool in_flight) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_set_consecutive_failures(c, 1));
    CHECK_OK(tg_config_set_open_duration_ns(c, SEC));
    CHECK_OK(tg_config_set_half_open_permits(c, permits));
    CHECK_OK(tg_config_set_half_open_success_threshold(c, successes));
    CHECK_OK(tg_config_set_track_in_flight(c, in_flight));
    tg_breaker *b = make(c, 0);
    tg_config_free(c);
    record(b, TG_FAILURE_OTHER);
    CHECK_OK(tg_clock_advance_ns(b, SEC));
    return b;
}

/* Whether two snapshots agree on every count a misused permit could move. */
static int same_counts(const tg_metrics *a, const tg_metrics *b) {
    return a->state == b->state && a->generation == b->generation &&
           a->calls == b->calls && a->failures == b->failures && a->ignored == b->ignored &&
           a->abandoned == b->abandoned && a->in_flight == b->in_flight &&
           a->half_open_probes == b->half_open_probes;
}

static void permit_misuse_is_refused_and_changes_nothing(void) {
    tg_metrics before, after;

    /* One probe recorded three times: one success of three needed. */
    tg_breaker *b = due_for_probes(3, 3, false);
    tg_permit probe;
    CHECK_OK(tg_try_acquire(b, &probe));
    tg_permit copy = probe; /* the bytes duplicated behind the breaker's back */
    CHECK_OK(tg_record(b, &probe, TG_SUCCESS, 0));
    CHECK_OK(tg_snapshot(b, &before));
    CHECK_STATUS(tg_record(b, &probe, TG_SUCCESS, 0), TG_ERR_INVALID_PERMIT);
    CHECK_ERROR_MENTIONS("tg_record: invalid permit: already answered");
    CHECK_STATUS(tg_record(b, &copy, TG_SUCCESS, 0), TG_ERR_INVALID_PERMIT);
    CHECK_STATUS(tg_release(b, &probe), TG_ERR_INVALID_PERMIT);
    CHECK_ERROR_MENTIONS("tg_release: invalid permit");
    CHECK_OK(tg_snapshot(b, &after));
    CHECK(same_counts(&before, &after));
    CHECK(state_of(b) == TG_STATE_HALF_OPEN);

    /* A probe released twice frees one slot: a limit of two holds. */
    tg_breaker *two = due_for_probes(2, 5, false);
    tg_permit first, second, third, fourth;
    CHECK_OK(tg_try_acquire(two, &first));
    CHECK_OK(tg_try_acquire(two, &second));
    CHECK_OK(tg_release(two, &first));
    CHECK_STATUS(tg_release(two, &first), TG_ERR_INVALID_PERMIT);
    CHECK_OK(tg_try_acquire(two, &third));
    CHECK_STATUS(tg_try_acquire(two, &fourth), TG_REJECTED);

    /* A permit of another breaker, while this one's own probe is out. */
    CHECK_OK(tg_snapshot(two, &before));
    tg_permit theirs;
    tg_breaker *other = due_for_probes(1, 1, false);
    CHECK_OK(tg_try_acquire(other, &theirs));
    CHECK_STATUS(tg_record(two, &theirs, TG_SUCCESS, 0), TG_ERR_INVALID_PERMIT);
    CHECK_ERROR_MENTIONS("not issued by this breaker");
    CHECK_OK(tg_snapshot(two, &after));
    CHECK(same_counts(&before, &after));

    /* Made-up bytes, and a real permit with one bit flipped. */
    tg_permit forged = {{0x1234, 0x5678, 0x9abc}};
    CHECK_STATUS(tg_record(two, &forged, TG_FAILURE_TIMEOUT, 0), TG_ERR_INVALID_PERMIT);
    tg_permit flipped = second;
    flipped._opaque[1] ^= 1;
    CHECK_STATUS(tg_release(two, &flipped), TG_ERR_INVALID_PERMIT);
    tg_permit zeroed = {{0, 0, 0}};
    CHECK_STATUS(tg_release(two, &zeroed), TG_ERR_INVALID_PERMIT);
    CHECK_OK(tg_snapshot(two, &after));
    CHECK(same_counts(&before, &after));
    CHECK_OK(tg_record(two, &second, TG_SUCCESS, 0)); /* the genuine one still counts */

    /* Recorded twice with in-flight tracking: the count stays at zero. */
    tg_breaker *flight = due_for_probes(1, 1, true);
    tg_permit p;
    CHECK_OK(tg_try_acquire(flight, &p));
    tg_permit p_copy = p;
    CHECK_OK(tg_record(flight, &p, TG_SUCCESS, 0));
    CHECK_STATUS(tg_record(flight, &p, TG_SUCCESS, 0), TG_ERR_INVALID_PERMIT);
    CHECK_STATUS(tg_record(flight, &p_copy, TG_SUCCESS, 0), TG_ERR_INVALID_PERMIT);
    CHECK_OK(tg_snapshot(flight, &after));
    CHECK(after.in_flight == 0);
    CHECK_STATUS(tg_record(flight, NULL, TG_SUCCESS, 0), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("tg_record: permit is NULL");
    CHECK_STATUS(tg_release(flight, NULL), TG_ERR_NULL);

    /* A refused permit is consumed too: it cannot be answered anywhere after. */
    CHECK_STATUS(tg_release(other, &theirs), TG_ERR_INVALID_PERMIT);
    tg_breaker_free(b);
    tg_breaker_free(two);
    tg_breaker_free(other);
    tg_breaker_free(flight);
}

int main(void) {
    RUN(full_cycle_on_the_manual_clock);
    RUN(consecutive_failures_trip_with_their_reason);
    RUN(operator_states);
    RUN(snapshot_reports_latency_percentiles);
    RUN(reconfigure_live);
    RUN(clocks);
    RUN(invalid_outcome_is_refused_and_the_permit_kept);
    RUN(null_arguments_are_errors_not_crashes);
    RUN(permit_misuse_is_refused_and_changes_nothing);
    return finish();
}
