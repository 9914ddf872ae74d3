/* Manual control (tg_open, tg_open_for_ns, tg_open_until_ns, tg_half_open, tg_close),
 * the initial_state, call_timeout and name setters, per-call events and rejections that
 * say who and why (tg_try_acquire_ex, tg_last_rejection_*), with NULL and out-of-range
 * arguments. */
#include <stdint.h>

#include "tg_test.h"

#define MS 1000000ull
#define SEC 1000000000ull

typedef struct {
    int count;
    tg_transition last;
} transitions;

static void on_transition(void *userdata, const tg_transition *t) {
    transitions *r = userdata;
    r->count++;
    r->last = *t;
}

static tg_breaker *make(const char *name) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_set_consecutive_failures(c, 2));
    CHECK_OK(tg_config_set_open_duration_ns(c, 10 * SEC));
    if (name) CHECK_OK(tg_config_set_name(c, name));
    tg_breaker *b = NULL;
    CHECK_OK(tg_breaker_new_with_manual_clock(c, 1000, &b));
    tg_config_free(c);
    return b;
}

static tg_breaker_state state_of(const tg_breaker *b) {
    tg_breaker_state s = -1;
    CHECK_OK(tg_state(b, &s));
    return s;
}

static void manual_control_moves_the_cycle_and_reports_manual(void) {
    tg_breaker *b = make(NULL);
    transitions r = {0};
    CHECK_OK(tg_breaker_set_listener(b, on_transition, &r));
    tg_permit p;

    CHECK_OK(tg_open(b));
    CHECK(state_of(b) == TG_STATE_OPEN);
    CHECK(r.count == 1 && r.last.to == TG_STATE_OPEN && r.last.reason == TG_REASON_MANUAL_OPEN);
    CHECK_OK(tg_open(b)); /* already open: nothing */
    CHECK(r.count == 1);
    CHECK_STATUS(tg_try_acquire(b, &p), TG_REJECTED);

    CHECK_OK(tg_half_open(b));
    CHECK(state_of(b) == TG_STATE_HALF_OPEN);
    CHECK(r.last.reason == TG_REASON_MANUAL_HALF_OPEN && r.last.to == TG_STATE_HALF_OPEN);

    CHECK_OK(tg_close(b));
    CHECK(state_of(b) == TG_STATE_CLOSED);
    CHECK(r.last.reason == TG_REASON_MANUAL_CLOSE && r.last.to == TG_STATE_CLOSED);

    /* open for exactly 3 s, then a probe */
    CHECK_OK(tg_open_for_ns(b, 3 * SEC));
    CHECK(state_of(b) == TG_STATE_OPEN);
    uint64_t wait = 0;
    CHECK_OK(tg_retry_after_ns(b, &wait));
    CHECK(wait == 3 * SEC);
    CHECK_OK(tg_clock_advance_ns(b, 3 * SEC));
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK(state_of(b) == TG_STATE_HALF_OPEN);
    CHECK_OK(tg_record(b, &p, TG_SUCCESS, 0));
    CHECK(state_of(b) == TG_STATE_CLOSED);

    /* open until an instant on the breaker's clock */
    uint64_t now = 0;
    CHECK_OK(tg_clock_now_ns(b, &now));
    CHECK_OK(tg_open_until_ns(b, now + 5 * SEC));
    CHECK_OK(tg_retry_after_ns(b, &wait));
    CHECK(wait == 5 * SEC);
    CHECK_OK(tg_open_until_ns(b, now)); /* past: the next call is a probe */
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK_OK(tg_release(b, &p));

    /* bad arguments */
    CHECK_STATUS(tg_open(NULL), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("tg_open: breaker is NULL");
    CHECK_STATUS(tg_open_for_ns(NULL, 1), TG_ERR_NULL);
    CHECK_STATUS(tg_open_until_ns(NULL, 1), TG_ERR_NULL);
    CHECK_STATUS(tg_half_open(NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_close(NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_open_for_ns(b, TG_OPEN_MAX_NS + 1), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("tg_open_for_ns: invalid ns = 2592000000000001");
    CHECK_STATUS(tg_open_for_ns(b, tg_secs(UINT64_MAX)), TG_ERR_INVALID_ARG);
    CHECK_OK(tg_open_for_ns(b, TG_OPEN_MAX_NS));
    CHECK_OK(tg_clock_now_ns(b, &now));
    CHECK_STATUS(tg_open_until_ns(b, now + TG_OPEN_MAX_NS + 1), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("tg_open_until_ns: invalid clock_ns");
    CHECK_OK(tg_open_until_ns(b, now + TG_OPEN_MAX_NS));
    tg_breaker_free(b);
}

static void the_snapshot_counts_half_open_successes(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_set_half_open_permits(c, 2));
    CHECK_OK(tg_config_set_half_open_success_threshold(c, 2));
    tg_breaker *b = NULL;
    CHECK_OK(tg_breaker_new_with_manual_clock(c, 0, &b));
    tg_config_free(c);
    CHECK_OK(tg_half_open(b));
    tg_permit p;
    tg_metrics m;
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK_OK(tg_record(b, &p, TG_SUCCESS, 0));
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.state == TG_STATE_HALF_OPEN && m.half_open_successes == 1);
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK_OK(tg_record(b, &p, TG_SUCCESS, 0));
    CHECK_OK(tg_snapshot(b, &m));
    CHECK(m.state == TG_STATE_CLOSED && m.half_open_successes == 0);
    tg_breaker_free(b);
}

static void config_setters_for_initial_state_call_timeout_and_name(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_set_initial_state(c, TG_STATE_FORCED_OPEN));
    CHECK_OK(tg_config_set_call_timeout_ns(c, 250 * MS));
    CHECK_OK(tg_config_set_name(c, "inventory"));
    char toml[4096];
    CHECK_OK(tg_config_to_toml(c, toml, sizeof toml, NULL));
    CHECK(strstr(toml, "initial_state = \"forced_open\"") != NULL);
    CHECK(strstr(toml, "call_timeout = \"250ms\"") != NULL);
    CHECK(strstr(toml, "name = \"inventory\"") != NULL);
    tg_breaker *b = NULL;
    CHECK_OK(tg_breaker_new(c, &b));
    CHECK(state_of(b) == TG_STATE_FORCED_OPEN);
    tg_breaker_free(b);

    CHECK_STATUS(tg_config_set_initial_state(c, 7), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("invalid initial_state = 7: allowed TG_STATE_CLOSED (0)");
    CHECK_STATUS(tg_config_set_initial_state(c, -1), TG_ERR_INVALID_ARG);
    CHECK_STATUS(tg_config_set_call_timeout_ns(c, 0), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("call_timeout");
    CHECK_STATUS(tg_config_set_call_timeout_ns(c, tg_secs(UINT64_MAX)), TG_ERR_INVALID_ARG);
    char long_name[300];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK_STATUS(tg_config_set_name(c, long_name), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("at most 256 bytes");
    CHECK_STATUS(tg_config_set_name(c, "\xff"), TG_ERR_INVALID_ARG);
    CHECK_STATUS(tg_config_set_name(c, NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_name(NULL, "x"), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_initial_state(NULL, 0), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_call_timeout_ns(NULL, 1), TG_ERR_NULL);
    CHECK_STATUS(tg_config_clear_call_timeout(NULL), TG_ERR_NULL);
    /* refused values left the config as it was */
    CHECK_OK(tg_config_to_toml(c, toml, sizeof toml, NULL));
    CHECK(strstr(toml, "name = \"inventory\"") != NULL);
    CHECK_OK(tg_config_clear_call_timeout(c));
    CHECK_OK(tg_config_to_toml(c, toml, sizeof toml, NULL));
    CHECK(strstr(toml, "call_timeout") == NULL || strstr(toml, "250ms") == NULL);
    tg_config_free(c);
}

typedef struct {
    int count;
    tg_call_event log[16];
    const tg_breaker *breaker;
    int reentered;
} calls;

static void on_call(void *userdata, const tg_call_event *e) {
    calls *r = userdata;
    if (r->count < 16) r->log[r->count] = *e;
    r->count++;
    tg_breaker_state s;
    if (tg_state(r->breaker, &s) == TG_OK) r->reentered++;
}

static void call_listener_sees_every_outcome_and_rejection(void) {
    tg_breaker *b = make(NULL);
    calls r = {.breaker = b};
    CHECK_OK(tg_breaker_set_call_listener(b, on_call, &r));
    tg_permit p;
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK_OK(tg_record(b, &p, TG_SUCCESS, 3 * MS));
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK_OK(tg_record(b, &p, TG_IGNORED, 0));
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK_OK(tg_release(b, &p)); /* not reported */
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK_OK(tg_record(b, &p, TG_FAILURE_SERVER_ERROR, 7 * MS));
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK_OK(tg_record(b, &p, TG_FAILURE_TIMEOUT, 0));
    CHECK(state_of(b) == TG_STATE_OPEN);
    CHECK_STATUS(tg_try_acquire(b, &p), TG_REJECTED);
    CHECK(r.count == 5);
    CHECK(r.reentered == 5);
    CHECK(r.log[0].kind == TG_CALL_SUCCESS && r.log[0].has_latency && r.log[0].latency_ns == 3 * MS);
    CHECK(r.log[1].kind == TG_CALL_IGNORED && !r.log[1].has_latency);
    CHECK(r.log[2].kind == TG_CALL_FAILURE && r.log[2].failure_kind == TG_KIND_SERVER_ERROR);
    CHECK(r.log[2].latency_ns == 7 * MS);
    CHECK(r.log[3].kind == TG_CALL_FAILURE && r.log[3].failure_kind == TG_KIND_TIMEOUT);
    CHECK(r.log[4].kind == TG_CALL_REJECTED && r.log[4].rejected_in == TG_STATE_OPEN);

    /* removed: nothing more */
    CHECK_OK(tg_breaker_set_call_listener(b, NULL, NULL));
    CHECK_STATUS(tg_try_acquire(b, &p), TG_REJECTED);
    CHECK(r.count == 5);
    CHECK_STATUS(tg_breaker_set_call_listener(NULL, on_call, &r), TG_ERR_NULL);
    /* freed with a listener set: no leak, no call after free */
    CHECK_OK(tg_breaker_set_call_listener(b, on_call, &r));
    tg_breaker_free(b);
}

static void rejections_say_who_and_why(void) {
    tg_breaker *b = make("inventory");
    tg_permit p;
    tg_rejection rej;
    memset(&rej, 0, sizeof rej);
    CHECK_OK(tg_try_acquire_ex(b, &p, &rej));
    CHECK_OK(tg_record(b, &p, TG_FAILURE_TIMEOUT, 0));
    CHECK_OK(tg_try_acquire_ex(b, &p, &rej));
    CHECK_OK(tg_record(b, &p, TG_FAILURE_TIMEOUT, 0));
    CHECK_OK(tg_clock_advance_ns(b, 1146 * MS + 600000)); /* 8.8534 s left */
    CHECK_STATUS(tg_try_acquire_ex(b, &p, &rej), TG_REJECTED);
    CHECK(rej.state == TG_STATE_OPEN);
    CHECK(rej.has_retry_after && rej.retry_after_ns == 10 * SEC - 1146 * MS - 600000);
    CHECK(rej.has_opened_by && rej.opened_by == TG_REASON_CONSECUTIVE_FAILURES);
    CHECK(rej.count == 2 && rej.limit == 2);
    char msg[256];
    size_t needed = 0;
    CHECK_OK(tg_last_rejection_message(msg, sizeof msg, &needed));
    CHECK(strcmp(msg, "circuit breaker 'inventory' is open (2 consecutive failures >= 2): "
                      "call rejected, retry after 8.85s") == 0);
    CHECK(needed == strlen(msg) + 1);
    char name[16];
    CHECK_OK(tg_last_rejection_name(name, sizeof name, NULL));
    CHECK(strcmp(name, "inventory") == 0);
    CHECK_STATUS(tg_last_rejection_name(name, 3, &needed), TG_ERR_BUFFER_TOO_SMALL);
    CHECK(needed == 10);
    CHECK_OK(tg_last_rejection_message(NULL, 0, &needed)); /* a size query */

    /* a manual opening is worded as one */
    CHECK_OK(tg_open(b));
    CHECK_OK(tg_open_for_ns(b, 2 * SEC));
    CHECK_STATUS(tg_try_acquire_ex(b, &p, &rej), TG_REJECTED);
    CHECK(rej.opened_by == TG_REASON_MANUAL_OPEN && rej.retry_after_ns == 2 * SEC);
    CHECK_OK(tg_last_rejection_message(msg, sizeof msg, NULL));
    CHECK(strstr(msg, "(opened manually)") != NULL && strstr(msg, "retry after 2s") != NULL);
    CHECK_OK(tg_force_open(b));
    CHECK_STATUS(tg_try_acquire_ex(b, &p, &rej), TG_REJECTED);
    CHECK(rej.state == TG_STATE_FORCED_OPEN && !rej.has_retry_after);

    /* bad arguments */
    CHECK_STATUS(tg_try_acquire_ex(NULL, &p, &rej), TG_ERR_NULL);
    CHECK_STATUS(tg_try_acquire_ex(b, NULL, &rej), TG_ERR_NULL);
    CHECK_STATUS(tg_try_acquire_ex(b, &p, NULL), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("tg_try_acquire_ex: rejection is NULL");
    CHECK_STATUS(tg_last_rejection_message(NULL, 5, NULL), TG_ERR_NULL);
    tg_breaker_free(b);
}

int main(void) {
    RUN(manual_control_moves_the_cycle_and_reports_manual);
    RUN(the_snapshot_counts_half_open_successes);
    RUN(config_setters_for_initial_state_call_timeout_and_name);
    RUN(call_listener_sees_every_outcome_and_rejection);
    RUN(rejections_say_who_and_why);
    return finish();
}
