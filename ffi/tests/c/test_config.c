/* tg_config: constructors, every setter (valid, invalid, NULL), parsing, printing. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "tg_test.h"

#define MS 1000000ull
#define SEC 1000000000ull

/* The config as TOML, malloc'ed. */
static char *toml_of(const tg_config *c) {
    size_t needed = 0;
    if (tg_config_to_toml(c, NULL, 0, &needed) != TG_OK) return NULL;
    char *buf = malloc(needed);
    if (buf == NULL) return NULL;
    if (tg_config_to_toml(c, buf, needed, &needed) != TG_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int toml_mentions(const tg_config *c, const char *fragment) {
    char *t = toml_of(c);
    int found = t != NULL && strstr(t, fragment) != NULL;
    if (!found) fprintf(stderr, "  TOML lacks \"%s\":\n%s\n", fragment, t ? t : "(null)");
    free(t);
    return found;
}

static void constructors_and_presets(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK(c != NULL);
    CHECK(toml_mentions(c, "failure_rate_threshold = 0.5"));
    CHECK(toml_mentions(c, "minimum_calls = 10"));
    tg_config_free(c);

    c = NULL;
    CHECK_OK(tg_config_new_preset(TG_TIER_CRITICAL, &c));
    CHECK(toml_mentions(c, "failure_rate_threshold = 0.3"));
    CHECK(toml_mentions(c, "minimum_calls = 20"));
    tg_config_free(c);
    c = NULL;
    CHECK_OK(tg_config_new_preset(TG_TIER_STANDARD, &c));
    CHECK(toml_mentions(c, "minimum_calls = 10"));
    tg_config_free(c);
    c = NULL;
    CHECK_OK(tg_config_new_preset(TG_TIER_NON_CRITICAL, &c));
    CHECK(toml_mentions(c, "failure_rate_threshold = 0.7"));
    CHECK(toml_mentions(c, "minimum_calls = 5"));
    tg_config_free(c);

    tg_config *sentinel = (tg_config *)(uintptr_t)0x1234;
    c = sentinel;
    CHECK_STATUS(tg_config_new_preset(3, &c), TG_ERR_INVALID_ARG);
    CHECK(c == sentinel); /* out written only on success */
    CHECK_ERROR_MENTIONS("unknown tier 3");
    CHECK_STATUS(tg_config_new_preset(-1, &c), TG_ERR_INVALID_ARG);
    CHECK_STATUS(tg_config_new_preset(TG_TIER_STANDARD, NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_config_new(NULL), TG_ERR_NULL);
    tg_config_free(NULL); /* NULL-safe */
}

/* A rejected setter leaves the config exactly as it was and names field and range. */
#define CHECK_REJECTED(call, field, range)                                               \
    do {                                                                                 \
        char *before_ = toml_of(c);                                                      \
        CHECK_STATUS(call, TG_ERR_INVALID_ARG);                                          \
        CHECK_ERROR_MENTIONS(field);                                                     \
        CHECK_ERROR_MENTIONS(range);                                                     \
        char *after_ = toml_of(c);                                                       \
        CHECK(before_ != NULL && after_ != NULL && strcmp(before_, after_) == 0);        \
        free(before_);                                                                   \
        free(after_);                                                                    \
    } while (0)

static void every_setter_validates_with_the_core_messages(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));

    CHECK_OK(tg_config_set_count_window_buckets(c, 100, 10));
    CHECK(toml_mentions(c, "size = 100"));
    CHECK_OK(tg_config_set_count_window(c, 50));
    CHECK_REJECTED(tg_config_set_count_window(c, 0), "window.size", "1..=1000000");
    CHECK_REJECTED(tg_config_set_count_window_buckets(c, 10, 3), "window.buckets", "divisor");
    CHECK_REJECTED(tg_config_set_count_window_buckets(c, 1000001, 1), "window.size", "1..=1000000");

    CHECK_OK(tg_config_set_time_window(c, 60 * SEC, 12));
    CHECK(toml_mentions(c, "duration = \"1m\""));
    CHECK_OK(tg_config_set_time_window(c, 10 * SEC, 0));
    CHECK_REJECTED(tg_config_set_time_window(c, 0, 0), "window.duration", "1ms");
    CHECK_REJECTED(tg_config_set_time_window(c, 10 * SEC, 5000), "window.buckets", "1..=4096");
    CHECK_REJECTED(tg_config_set_time_window(c, SEC + 1, 10), "window.buckets", "divides");

    CHECK_OK(tg_config_set_minimum_calls(c, 7));
    CHECK(toml_mentions(c, "minimum_calls = 7"));
    CHECK_REJECTED(tg_config_set_minimum_calls(c, 0), "minimum_calls", "1..=1000000000");

    CHECK_OK(tg_config_set_failure_rate_threshold(c, 0.25));
    CHECK(toml_mentions(c, "failure_rate_threshold = 0.25"));
    CHECK_REJECTED(tg_config_set_failure_rate_threshold(c, 1.5), "failure_rate_threshold", "0.0 < t <= 1.0");
    CHECK_REJECTED(tg_config_set_failure_rate_threshold(c, -0.1), "failure_rate_threshold", "0.0 < t <= 1.0");
    CHECK_REJECTED(tg_config_set_failure_rate_threshold(c, NAN), "failure_rate_threshold", "0.0 < t <= 1.0");
    CHECK_OK(tg_config_clear_failure_rate_threshold(c));

    CHECK_OK(tg_config_set_slow_call_rate_threshold(c, 0.8));
    CHECK(toml_mentions(c, "slow_call_rate_threshold = 0.8"));
    CHECK_REJECTED(tg_config_set_slow_call_rate_threshold(c, 2.0), "slow_call_rate_threshold", "0.0 < t <= 1.0");
    CHECK_OK(tg_config_clear_slow_call_rate_threshold(c));

    CHECK_OK(tg_config_set_slow_call_duration_ns(c, 250 * MS));
    CHECK(toml_mentions(c, "slow_call_duration = \"250ms\""));
    CHECK_REJECTED(tg_config_set_slow_call_duration_ns(c, 0), "slow_call_duration", "1ns");

    CHECK_OK(tg_config_set_consecutive_failures(c, 5));
    CHECK(toml_mentions(c, "consecutive_failures = 5"));
    CHECK_REJECTED(tg_config_set_consecutive_failures(c, 0), "consecutive_failures", "1..=");
    CHECK_OK(tg_config_clear_consecutive_failures(c));

    CHECK_OK(tg_config_set_latency_percentile(c, 0.99, 100 * MS));
    CHECK(toml_mentions(c, "quantile = 0.99"));
    CHECK_REJECTED(tg_config_set_latency_percentile(c, 1.0, MS), "latency_percentile.quantile", "0.0 < q < 1.0");
    CHECK_REJECTED(tg_config_set_latency_percentile(c, 0.99, 0), "latency_percentile.limit", "1ns");
    CHECK_OK(tg_config_clear_latency_percentile(c));

    CHECK_OK(tg_config_set_failure_weight(c, TG_KIND_TIMEOUT, 2.0));
    CHECK(toml_mentions(c, "timeout = 2.0"));
    CHECK_OK(tg_config_set_failure_weight(c, TG_KIND_CONNECTION, 0.0));
    CHECK_OK(tg_config_set_failure_weight(c, TG_KIND_SERVER_ERROR, 1.5));
    CHECK_OK(tg_config_set_failure_weight(c, TG_KIND_REJECTED, 0.5));
    CHECK_REJECTED(tg_config_set_failure_weight(c, TG_KIND_OTHER, -1.0), "failure_weights.other", "0.0..=100.0");
    CHECK_REJECTED(tg_config_set_failure_weight(c, TG_KIND_TIMEOUT, 101.0), "failure_weights.timeout", "0.0..=100.0");
    CHECK_REJECTED(tg_config_set_failure_weight(c, 5, 1.0), "unknown failure kind 5", "TG_KIND_OTHER");

    CHECK_OK(tg_config_set_open_duration_ns(c, 45 * SEC));
    CHECK(toml_mentions(c, "duration = \"45s\""));
    CHECK_REJECTED(tg_config_set_open_duration_ns(c, 0), "open.duration", "30days");
    CHECK_OK(tg_config_set_backoff(c, 2.0, 600 * SEC));
    CHECK(toml_mentions(c, "multiplier = 2.0"));
    CHECK_REJECTED(tg_config_set_backoff(c, 0.5, 600 * SEC), "open.multiplier", "1.0..=100.0");
    CHECK_REJECTED(tg_config_set_backoff(c, 2.0, 10 * SEC), "open.max_duration", "at least open.duration");
    CHECK_OK(tg_config_set_jitter(c, 0.1));
    CHECK(toml_mentions(c, "jitter = 0.1"));
    CHECK_REJECTED(tg_config_set_jitter(c, 1.5), "open.jitter", "0.0..=1.0");
    CHECK_OK(tg_config_set_backoff_decay_ns(c, 120 * SEC));
    CHECK(toml_mentions(c, "decay_after = \"2m\""));
    CHECK_REJECTED(tg_config_set_backoff_decay_ns(c, 0), "open.decay_after", "1ms");

    CHECK_OK(tg_config_set_half_open_permits(c, 3));
    CHECK(toml_mentions(c, "permits = 3"));
    CHECK_REJECTED(tg_config_set_half_open_permits(c, 0), "half_open.permits", "1..=4095");
    CHECK_REJECTED(tg_config_set_half_open_permits(c, 4096), "half_open.permits", "1..=4095");
    CHECK_OK(tg_config_set_half_open_success_threshold(c, 2));
    CHECK(toml_mentions(c, "success_threshold = 2"));
    CHECK_REJECTED(tg_config_set_half_open_success_threshold(c, 0), "half_open.success_threshold", "1..=4095");
    CHECK_OK(tg_config_set_half_open_max_wait_ns(c, 5 * SEC));
    CHECK(toml_mentions(c, "max_wait = \"5s\""));
    CHECK_REJECTED(tg_config_set_half_open_max_wait_ns(c, 0), "half_open.max_wait", "1ms");

    CHECK_OK(tg_config_set_slow_start(c, 0.25, 10 * SEC));
    CHECK(toml_mentions(c, "initial_fraction = 0.25"));
    CHECK_REJECTED(tg_config_set_slow_start(c, 0.0, SEC), "slow_start.initial_fraction", "0.0 < f <= 1.0");
    CHECK_REJECTED(tg_config_set_slow_start(c, 0.5, 0), "slow_start.duration", "1ms");
    CHECK_OK(tg_config_clear_slow_start(c));

    tg_adaptive_threshold a;
    CHECK_OK(tg_adaptive_threshold_default(&a));
    CHECK(a.high_volume == 1000 && a.low_volume == 100 && a.failure_streak == 10);
    CHECK(a.high_volume_factor == 0.8 && a.min == 0.05 && a.max == 1.0);
    CHECK_OK(tg_config_set_failure_rate_threshold(c, 0.5));
    a.high_volume = 5000;
    CHECK_OK(tg_config_set_adaptive_threshold(c, &a));
    CHECK(toml_mentions(c, "high_volume = 5000"));
    a.high_volume_factor = 0.0;
    CHECK_REJECTED(tg_config_set_adaptive_threshold(c, &a), "adaptive_threshold.high_volume_factor", "0.0 < f <= 10.0");
    a.high_volume_factor = 0.8;
    a.low_volume = 6000;
    CHECK_REJECTED(tg_config_set_adaptive_threshold(c, &a), "adaptive_threshold.low_volume", "at most adaptive_threshold.high_volume");
    a.low_volume = 100;
    a.max = 0.01;
    CHECK_REJECTED(tg_config_set_adaptive_threshold(c, &a), "adaptive_threshold.max", "..=1.0");
    CHECK_STATUS(tg_config_set_adaptive_threshold(c, NULL), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("adaptive is NULL");
    /* The adaptive threshold adapts the failure-rate rule: it cannot go without it. */
    CHECK_REJECTED(tg_config_clear_failure_rate_threshold(c), "adaptive_threshold", "only with failure_rate_threshold");
    CHECK_OK(tg_config_clear_adaptive_threshold(c));
    CHECK_OK(tg_config_clear_failure_rate_threshold(c));
    CHECK_STATUS(tg_adaptive_threshold_default(NULL), TG_ERR_NULL);

    CHECK_OK(tg_config_set_anti_thrash(c, 10 * SEC, 2 * SEC));
    CHECK(toml_mentions(c, "min_closed = \"10s\""));
    CHECK(toml_mentions(c, "min_open = \"2s\""));
    CHECK_OK(tg_config_set_anti_thrash(c, 0, 0));
    CHECK_REJECTED(tg_config_set_anti_thrash(c, 31ull * 24 * 3600 * SEC, 0), "anti_thrash.min_closed", "30days");
    CHECK_REJECTED(tg_config_set_anti_thrash(c, 0, 31ull * 24 * 3600 * SEC), "anti_thrash.min_open", "30days");
    CHECK_OK(tg_config_clear_anti_thrash(c));

    CHECK_OK(tg_config_set_track_latency(c, false));
    CHECK(toml_mentions(c, "track_latency = false"));
    CHECK_OK(tg_config_set_histogram_precision(c, 7));
    CHECK(toml_mentions(c, "histogram_precision = 7"));
    CHECK_REJECTED(tg_config_set_histogram_precision(c, 9), "histogram_precision", "2..=7");
    CHECK_REJECTED(tg_config_set_histogram_precision(c, 1), "histogram_precision", "2..=7");
    CHECK_OK(tg_config_set_track_in_flight(c, true));
    CHECK(toml_mentions(c, "track_in_flight = true"));
    CHECK_OK(tg_config_set_seed(c, 42));
    CHECK(toml_mentions(c, "seed = 42"));
    CHECK_OK(tg_config_clear_seed(c));

    tg_config_free(c);
}

static void every_setter_refuses_null(void) {
    CHECK_STATUS(tg_config_set_count_window(NULL, 10), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("tg_config_set_count_window: config is NULL");
    CHECK_STATUS(tg_config_set_time_window(NULL, SEC, 0), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_minimum_calls(NULL, 1), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_failure_rate_threshold(NULL, 0.5), TG_ERR_NULL);
    CHECK_STATUS(tg_config_clear_failure_rate_threshold(NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_slow_call_rate_threshold(NULL, 0.5), TG_ERR_NULL);
    CHECK_STATUS(tg_config_clear_slow_call_rate_threshold(NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_slow_call_duration_ns(NULL, 1), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_consecutive_failures(NULL, 1), TG_ERR_NULL);
    CHECK_STATUS(tg_config_clear_consecutive_failures(NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_latency_percentile(NULL, 0.5, 1), TG_ERR_NULL);
    CHECK_STATUS(tg_config_clear_latency_percentile(NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_failure_weight(NULL, TG_KIND_TIMEOUT, 1.0), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_failure_weight(NULL, 99, 1.0), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_open_duration_ns(NULL, SEC), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_backoff(NULL, 1.0, SEC), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_jitter(NULL, 0.0), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_backoff_decay_ns(NULL, SEC), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_half_open_permits(NULL, 1), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_half_open_success_threshold(NULL, 1), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_half_open_max_wait_ns(NULL, SEC), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_slow_start(NULL, 0.5, SEC), TG_ERR_NULL);
    CHECK_STATUS(tg_config_clear_slow_start(NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_track_latency(NULL, true), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_histogram_precision(NULL, 5), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_track_in_flight(NULL, true), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_seed(NULL, 1), TG_ERR_NULL);
    CHECK_STATUS(tg_config_clear_seed(NULL), TG_ERR_NULL);
    tg_adaptive_threshold a;
    CHECK_OK(tg_adaptive_threshold_default(&a));
    CHECK_STATUS(tg_config_set_adaptive_threshold(NULL, &a), TG_ERR_NULL);
    CHECK_STATUS(tg_config_clear_adaptive_threshold(NULL), TG_ERR_NULL);
    CHECK_STATUS(tg_config_set_anti_thrash(NULL, 0, 0), TG_ERR_NULL);
    CHECK_STATUS(tg_config_clear_anti_thrash(NULL), TG_ERR_NULL);
    size_t needed = 0;
    CHECK_STATUS(tg_config_to_toml(NULL, NULL, 0, &needed), TG_ERR_NULL);
}

static void parses_the_same_toml_and_json_as_rust(void) {
    tg_config *sentinel = (tg_config *)(uintptr_t)0x1234;
    tg_config *c = NULL;
    CHECK_OK(tg_config_from_str("minimum_calls = 5\n"
                                "consecutive_failures = 3\n"
                                "latency_percentile = { quantile = \"p99\", limit = \"250ms\" }\n"
                                "[window]\nkind = \"count\"\nsize = 100\n"
                                "[open]\nduration = \"10s\"\nmultiplier = 2.0\nmax_duration = \"2m\"\n",
                                &c));
    CHECK(toml_mentions(c, "minimum_calls = 5"));
    CHECK(toml_mentions(c, "size = 100"));
    CHECK(toml_mentions(c, "max_duration = \"2m\""));
    /* Round trip: the printed form parses back to the same config. */
    char *t1 = toml_of(c);
    tg_config *c2 = NULL;
    CHECK_OK(tg_config_from_str(t1, &c2));
    char *t2 = toml_of(c2);
    CHECK(t1 != NULL && t2 != NULL && strcmp(t1, t2) == 0);
    free(t1);
    free(t2);
    tg_config_free(c2);
    tg_config_free(c);

    c = NULL;
    CHECK_OK(tg_config_from_str(
        "  {\"failure_rate_threshold\": 0.3, \"window\": {\"kind\": \"time\", \"duration\": \"1m\", \"buckets\": 6}}",
        &c));
    CHECK(toml_mentions(c, "failure_rate_threshold = 0.3"));
    CHECK(toml_mentions(c, "buckets = 6"));
    tg_config_free(c);

    c = sentinel;
    CHECK_STATUS(tg_config_from_str("minimum_calls = 5\nfailure_rate = 0.5\n", &c), TG_ERR_PARSE);
    CHECK(c == sentinel);
    CHECK_ERROR_MENTIONS("invalid TOML at line 2");
    CHECK_ERROR_MENTIONS("failure_rate");
    CHECK_STATUS(tg_config_from_str("{\"minimum_calls\": -1}", &c), TG_ERR_PARSE);
    CHECK_ERROR_MENTIONS("invalid JSON at line 1");
    CHECK_STATUS(tg_config_from_str("minimum_calls = 0", &c), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("minimum_calls");
    CHECK_ERROR_MENTIONS("1..=1000000000");
    CHECK_STATUS(tg_config_from_str("[window]\nkind = \"count\"\nsize = 10\nbuckets = 3\n", &c),
                 TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("window.buckets");
    CHECK_STATUS(tg_config_from_str("seed = \"\xff\"", &c), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("UTF-8");
    CHECK_STATUS(tg_config_from_str(NULL, &c), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("text is NULL");
    CHECK_STATUS(tg_config_from_str("minimum_calls = 5", NULL), TG_ERR_NULL);
    CHECK_ERROR_MENTIONS("out is NULL");
    CHECK(c == sentinel);

    c = NULL;
    CHECK_OK(tg_config_from_str("", &c)); /* empty document: all defaults */
    CHECK(toml_mentions(c, "minimum_calls = 10"));
    tg_config_free(c);
}

static void to_toml_buffer_rules(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    size_t needed = 0;
    CHECK_OK(tg_config_to_toml(c, NULL, 0, &needed));
    CHECK(needed > 10);
    char small[4] = {'x', 'x', 'x', 'x'};
    size_t needed2 = 0;
    CHECK_STATUS(tg_config_to_toml(c, small, sizeof small, &needed2), TG_ERR_BUFFER_TOO_SMALL);
    CHECK(needed2 == needed);
    CHECK(small[0] == 'x');
    CHECK_ERROR_MENTIONS("too small");
    CHECK_STATUS(tg_config_to_toml(c, NULL, 5, &needed2), TG_ERR_NULL);
    char *buf = malloc(needed);
    CHECK_OK(tg_config_to_toml(c, buf, needed, NULL));
    CHECK(strlen(buf) + 1 == needed);
    free(buf);
    tg_config_free(c);
}

int main(void) {
    RUN(constructors_and_presets);
    RUN(every_setter_validates_with_the_core_messages);
    RUN(every_setter_refuses_null);
    RUN(parses_the_same_toml_and_json_as_rust);
    RUN(to_toml_buffer_rules);
    return finish();
}
