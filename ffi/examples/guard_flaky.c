/* Guarding a flaky function with tripgate.
 *
 * A simulated dependency goes down for a while. Each call goes through the breaker:
 * acquire a permit, make the call only if admitted, report the outcome. Once the breaker
 * trips, calls fail fast (no waiting on a dead dependency) until a probe finds it healthy
 * again.
 *
 * Build (from the repository root, after `cargo build --release -p tripgate-ffi`):
 *   gcc -std=c11 -O2 -Iffi/include ffi/examples/guard_flaky.c \
 *       -Ltarget/release -ltripgate -Wl,-rpath,$PWD/target/release -o guard_flaky
 * or, once installed with ffi/install.sh:
 *   gcc -std=c11 -O2 guard_flaky.c $(pkg-config --cflags --libs tripgate) -o guard_flaky
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tripgate.h"

/* The dependency: down for calls 40..119, otherwise fine. Returns 0 and fills *value on
 * success, or a negative error code. */
enum { FETCH_OK = 0, FETCH_TIMEOUT = -1, FETCH_REFUSED = -2, FETCH_BAD_REQUEST = -3 };

static int flaky_fetch(int i, int *value) {
    if (i >= 40 && i < 120) return (i % 3 == 0) ? FETCH_REFUSED : FETCH_TIMEOUT;
    if (i % 50 == 7) return FETCH_BAD_REQUEST; /* the caller's fault, not the dependency's */
    *value = i * 2;
    return FETCH_OK;
}

/* How each result counts for the breaker. */
static tg_outcome classify(int rc) {
    switch (rc) {
    case FETCH_OK: return TG_SUCCESS;
    case FETCH_TIMEOUT: return TG_FAILURE_TIMEOUT;
    case FETCH_REFUSED: return TG_FAILURE_CONNECTION;
    default: return TG_IGNORED; /* says nothing about the dependency's health */
    }
}

/* Called on every state change, on the thread that caused it, outside every lock. */
static void on_transition(void *userdata, const tg_transition *t) {
    int *call = userdata;
    printf("  call %3d: %s -> %s (%s)\n", *call, tg_state_str(t->from), tg_state_str(t->to),
           tg_reason_str(t->reason));
}

static void die(const char *what, tg_status s) {
    char msg[512] = "";
    tg_last_error_message(msg, sizeof msg); /* truncated if longer */
    fprintf(stderr, "%s: %s: %s\n", what, tg_status_str(s), msg);
    exit(1);
}

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int main(void) {
    if (tg_version_number() != TG_VERSION_NUMBER) {
        fprintf(stderr, "header %d but library %u\n", TG_VERSION_NUMBER, tg_version_number());
        return 1;
    }

    /* The same TOML the Rust `Config` reads: trip at 50% failures over at least 10 of the
     * last 20 calls, or at 5 failures in a row; stay open 20 ms, then probe. */
    const char *toml =
        "minimum_calls = 10\n"
        "failure_rate_threshold = 0.5\n"
        "consecutive_failures = 5\n"
        "[window]\nkind = \"count\"\nsize = 20\n"
        "[open]\nduration = \"20ms\"\n"
        "[half_open]\npermits = 1\nsuccess_threshold = 2\n";
    tg_config *config = NULL;
    tg_status s = tg_config_from_str(toml, &config);
    if (s != TG_OK) die("tg_config_from_str", s);

    tg_breaker *breaker = NULL;
    s = tg_breaker_new(config, &breaker);
    tg_config_free(config); /* the breaker keeps its own copy */
    if (s != TG_OK) die("tg_breaker_new", s);

    int call = 0;
    tg_breaker_set_listener(breaker, on_transition, &call);

    int ok = 0, failed = 0, fast_failed = 0;
    long sum = 0;
    printf("tripgate %s: 200 calls to a dependency that is down for calls 40..119\n",
           tg_version_string());
    for (call = 0; call < 200; call++) {
        tg_permit permit;
        s = tg_try_acquire(breaker, &permit);
        if (s == TG_REJECTED) {
            fast_failed++; /* fail fast: serve a fallback, a cached value, an error... */
        } else if (s == TG_OK) {
            int value = 0;
            int rc = flaky_fetch(call, &value);
            /* latency 0: the breaker times the call from the acquire. */
            tg_record(breaker, &permit, classify(rc), 0);
            if (rc == FETCH_OK) {
                ok++;
                sum += value;
            } else {
                failed++;
            }
        } else {
            die("tg_try_acquire", s);
        }
        sleep_ms(1);
    }

    tg_metrics m;
    s = tg_snapshot(breaker, &m);
    if (s != TG_OK) die("tg_snapshot", s);
    printf("succeeded %d, failed %d, failed fast %d (sum %ld)\n", ok, failed, fast_failed, sum);
    printf("breaker: %s, %llu calls (%llu ok, %llu failed, %llu ignored), %llu rejected, "
           "%llu transitions\n",
           tg_state_str(m.state), (unsigned long long)m.calls, (unsigned long long)m.successes,
           (unsigned long long)m.failures, (unsigned long long)m.ignored,
           (unsigned long long)m.rejected, (unsigned long long)m.transitions);
    if (m.has_latency) {
        printf("latency over the window: p50 %llu ns, p99 %llu ns\n",
               (unsigned long long)m.latency.p50_ns, (unsigned long long)m.latency.p99_ns);
    }
    tg_breaker_free(breaker);

    /* The dependency is healthy at the end, so the breaker must have closed again, and it
     * must have failed some calls fast during the outage. */
    return (m.state == TG_STATE_CLOSED && fast_failed > 0 && m.transitions >= 3) ? 0 : 1;
}
