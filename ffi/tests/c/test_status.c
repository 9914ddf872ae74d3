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
          TG_ERR_BUFFER_TOO_SMALL < 0 && TG_ERR_UNSUPPORTED < 0 && TG_ERR_PANIC < 0 &&
          TG_ERR_INVALID_PERMIT < 0);
}

static void every_status_has_a_description(void) {
    const tg_status all[] = {TG_OK,          TG_REJECTED,           TG_ERR_NULL,
                             TG_ERR_INVALID_ARG, TG_ERR_PARSE,      TG_ERR_BUFFER_TOO_SMALL,
                             TG_ERR_UNSUPPORTED, TG_ERR_PANIC,      TG_ERR_INVALID_PERMIT};
    const char *names[] = {"TG_OK",          "TG_REJECTED",  "TG_ERR_NULL",
                           "TG_ERR_INVALID_ARG", "TG_ERR_PARSE", "TG_ERR_BUFFER_TOO_SMALL",
                           "TG_ERR_UNSUPPORTED", "TG_ERR_PANIC", "TG_ERR_INVALID_PERMIT"};
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
    CHECK(strcmp(tg_reason_str(99), "unknown") == 0);
}

static void last_error_buffer_rules(void) {
    /* Make an error with a known message. */
    CHECK_STATUS(tg_config_new(NULL), TG_ERR_NULL);
    const char *expected = "tg_config_new: out is NULL";
    size_t want = strlen(expected) + 1;

    size_t needed = 0;
    CHECK_OK(tg_last_error_message(NULL, 0, &needed)); /* size query */
    CHECK(needed == want);

    char small[8];
    memset(small, 'x', sizeof small);
    needed = 0;
    CHECK_STATUS(tg_last_error_message(small, sizeof small, &needed), TG_ERR_BUFFER_TOO_SMALL);
    CHECK(needed == want);
    CHECK(small[0] == 'x' && small[7] == 'x'); /* untouched */

    char *exact = malloc(want);
    CHECK(exact != NULL);
    CHECK_OK(tg_last_error_message(exact, want, &needed));
    CHECK(strcmp(exact, expected) == 0);
    free(exact);

    CHECK_STATUS(tg_last_error_message(NULL, 10, &needed), TG_ERR_NULL);
    /* Reading the message does not change it, nor do successful calls. */
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK(strcmp(last_error(), expected) == 0);
    tg_config_free(c);
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
    RUN(last_error_buffer_rules);
    RUN(panic_is_caught_and_reported);
    return finish();
}
