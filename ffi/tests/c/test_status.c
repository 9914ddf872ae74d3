/* Status codes, error messages, version, name functions, the panic boundary. */
#include <stdint.h>
#include <stdlib.h>

#include "tg_test.h"

/* Built only with the `testing` feature; deliberately not in the header. */
extern tg_status tg_testing_panic(void);

static void version_macro_equals_function(void) {
    CHECK(TG_VERSION_NUMBER == tg_version_number());
    CHECK(TG_VERSION_NUMBER ==
          TG_VERSION_MAJOR * 1000000u + TG_VERSION_MINOR * 1000u + TG_VERSION_PATCH);
    char expected[64];
    snprintf(expected, sizeof expected, "%d.%d.%d", TG_VERSION_MAJOR, TG_VERSION_MINOR,
             TG_VERSION_PATCH);
    CHECK(strcmp(tg_version_string(), expected) == 0);
}

static void status_codes_have_their_values_and_size(void) {
    CHECK(sizeof(tg_status) == sizeof(int32_t));
    CHECK(TG_OK == 0);
    CHECK(TG_REJECTED == 1);
    CHECK(TG_ERR_NULL < 0 && TG_ERR_INVALID_ARG < 0 && TG_ERR_PARSE < 0 &&
          TG_ERR_BUFFER_TOO_SMALL < 0 && TG_ERR_UNSUPPORTED < 0 && TG_ERR_PANIC < 0 && TG_ERR_NOT_LOADED < 0);
}

static void every_status_has_a_description(void) {
    const tg_status all[] = {TG_OK,          TG_REJECTED,           TG_ERR_NULL,
                             TG_ERR_INVALID_ARG, TG_ERR_PARSE,      TG_ERR_BUFFER_TOO_SMALL,
                             TG_ERR_UNSUPPORTED, TG_ERR_PANIC,      TG_ERR_NOT_LOADED};
    const char *names[] = {"TG_OK",          "TG_REJECTED",  "TG_ERR_NULL",
                           "TG_ERR_INVALID_ARG", "TG_ERR_PARSE", "TG_ERR_BUFFER_TOO_SMALL",
                           "TG_ERR_UNSUPPORTED", "TG_ERR_PANIC", "TG_ERR_NOT_LOADED"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *s = tg_status_str(all[i]);
        CHECK(s != NULL && strncmp(s, names[i], strlen(names[i])) == 0);
    }
    CHECK(strcmp(tg_status_str(12345), "unknown status") == 0);
    CHECK(strcmp(tg_status_str(-12345), "unknown status") == 0);
}

static void state_and_reason_names(void) {
    CHECK(strcmp(tg_state_str(TG_STATE_CLOSED), "closed") == 0);
    CHECK(strcmp(tg_state_str(TG_STATE_OPEN), "open") == 0);
    CHECK(strcmp(tg_state_str(TG_STATE_HALF_OPEN), "half_open") == 0);
    CHECK(strcmp(tg_state_str(TG_STATE_FORCED_OPEN), "forced_open") == 0);
    CHECK(strcmp(tg_state_str(TG_STATE_FORCED_CLOSED), "forced_closed") == 0);
    CHECK(strcmp(tg_state_str(TG_STATE_DISABLED), "disabled") == 0);
    CHECK(strcmp(tg_state_str(TG_STATE_METRICS_ONLY), "metrics_only") == 0);
    CHECK(strcmp(tg_state_str(7), "unknown") == 0);
    CHECK(strcmp(tg_state_str(-1), "unknown") == 0);
    CHECK(strcmp(tg_reason_str(TG_REASON_FAILURE_RATE), "failure_rate") == 0);
    CHECK(strcmp(tg_reason_str(TG_REASON_PROBE_LEASE_EXPIRED), "probe_lease_expired") == 0);
    CHECK(strcmp(tg_reason_str(TG_REASON_MANUAL), "manual") == 0);
    CHECK(strcmp(tg_reason_str(TG_REASON_MANUAL_OPEN), "manual_open") == 0);
    CHECK(strcmp(tg_reason_str(TG_REASON_MANUAL_HALF_OPEN), "manual_half_open") == 0);
    CHECK(strcmp(tg_reason_str(TG_REASON_MANUAL_CLOSE), "manual_close") == 0);
    CHECK(strcmp(tg_reason_str(12), "unknown") == 0);
    CHECK(strcmp(tg_reason_str(99), "unknown") == 0);
}

static void last_error_size_query_and_exact_buffer(void) {
    /* Make an error with a known message. */
    CHECK_STATUS(tg_config_new(NULL), TG_ERR_NULL);
    const char *expected = "tg_config_new: out is NULL";
    size_t length = strlen(expected);

    CHECK(tg_last_error_message(NULL, 0) == length); /* size query */
    CHECK(tg_last_error_message(NULL, 10) == length); /* NULL buffer: nothing written */
    char *exact = malloc(length + 1);
    CHECK(exact != NULL);
    CHECK(tg_last_error_message(exact, length + 1) == length);
    CHECK(strcmp(exact, expected) == 0);
    free(exact);

    /* Reading the message does not change it, nor do successful calls. */
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK(strcmp(last_error(), expected) == 0);
    tg_config_free(c);
}

static void last_error_is_truncated_like_snprintf(void) {
    /* A message longer than a 256-byte buffer: a 400-byte breaker name. */
    char name[401];
    memset(name, 'n', 400);
    name[400] = '\0';
    tg_registry *r = NULL;
    CHECK_OK(tg_registry_new(&r));
    CHECK_STATUS(tg_registry_remove(r, name), TG_ERR_INVALID_ARG);
    tg_registry_free(r);
    const char *start = "tg_registry_remove: no breaker named \"nnn";
    size_t length = strlen("tg_registry_remove: no breaker named \"\"") + 400;

    char buf[256];
    memset(buf, 'x', sizeof buf);
    CHECK(tg_last_error_message(buf, sizeof buf) == length); /* the full length */
    CHECK(length >= sizeof buf);                              /* so: truncated */
    CHECK(buf[255] == '\0' && strlen(buf) == 255);
    CHECK(strncmp(buf, start, strlen(start)) == 0);

    char tiny[4] = {'x', 'x', 'x', 'x'};
    CHECK(tg_last_error_message(tiny, 1) == length); /* room for the NUL only */
    CHECK(tiny[0] == '\0' && tiny[1] == 'x');
    CHECK(tg_last_error_message(tiny, 0) == length); /* nothing written */
    CHECK(tiny[0] == '\0' && tiny[1] == 'x');

    char *all = malloc(length + 1);
    CHECK(all != NULL);
    CHECK(tg_last_error_message(all, length + 1) == length);
    CHECK(strlen(all) == length && all[length - 1] == '"');
    free(all);
}

static void duration_helpers_convert_and_saturate(void) {
    CHECK(tg_us(3) == 3000u);
    CHECK(tg_ms(250) == 250000000u);
    CHECK(tg_secs(30) == 30000000000u);
    CHECK(tg_mins(2) == 120000000000u);
    CHECK(tg_secs(0) == 0);
    CHECK(tg_secs(UINT64_MAX / 1000000000u) == UINT64_MAX / 1000000000u * 1000000000u);
    CHECK(tg_secs(UINT64_MAX / 1000000000u + 1) == UINT64_MAX);
    CHECK(tg_us(UINT64_MAX) == UINT64_MAX && tg_ms(UINT64_MAX) == UINT64_MAX);
    CHECK(tg_mins(UINT64_MAX / 60) == UINT64_MAX);
    /* A saturated duration is out of every range: refused, naming the field. */
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_set_open_duration_ns(c, tg_secs(45)));
    CHECK_STATUS(tg_config_set_open_duration_ns(c, tg_mins(UINT64_MAX)), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("open.duration");
    tg_config_free(c);
}

/* run_c_tests.sh says which features it built the library with (TG_EXPECT_FEATURES,
 * as tg_features() bits), so that a feature missing by mistake fails here instead of
 * letting the tests that need it skip themselves. */
static void features_are_the_ones_built(void) {
    const char *expected = getenv("TG_EXPECT_FEATURES");
    uint32_t features = tg_features();
    CHECK((features & ~(uint32_t)(TG_FEATURE_ADMIN | TG_FEATURE_FILES | TG_FEATURE_FLEET)) == 0);
    if (expected != NULL) CHECK(features == (uint32_t)strtoul(expected, NULL, 10));
}

static void panic_is_caught_and_reported(void) {
    CHECK_STATUS(tg_testing_panic(), TG_ERR_PANIC);
    CHECK_ERROR_MENTIONS("tg_testing_panic: internal panic");
    CHECK_ERROR_MENTIONS("deliberate panic");
    /* The library keeps working after a caught panic. */
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    tg_config_free(c);
}

int main(void) {
    RUN(version_macro_equals_function);
    RUN(status_codes_have_their_values_and_size);
    RUN(every_status_has_a_description);
    RUN(state_and_reason_names);
    RUN(last_error_size_query_and_exact_buffer);
    RUN(last_error_is_truncated_like_snprintf);
    RUN(duration_helpers_convert_and_saturate);
    RUN(features_are_the_ones_built);
    RUN(panic_is_caught_and_reported);
    return finish();
}
