/* A tiny test harness for the tripgate C tests: CHECK macros, one line per test case,
 * and a closing "RESULT passed=N failed=M" line that run_c_tests.sh adds up. */
#ifndef TG_TEST_H
#define TG_TEST_H

#include <stdio.h>
#include <string.h>

#include "tripgate.h"

static int tg_test_case_failed;
static int tg_tests_passed;
static int tg_tests_failed;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            fprintf(stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
            tg_test_case_failed = 1;                                                     \
        }                                                                                \
    } while (0)

/* Checks a call's status; on a mismatch prints both codes and the last error. */
#define CHECK_STATUS(expr, expected)                                                     \
    do {                                                                                 \
        tg_status tg_got_ = (expr);                                                      \
        if (tg_got_ != (expected)) {                                                     \
            char tg_msg_[512] = "";                                                      \
            tg_last_error_message(tg_msg_, sizeof tg_msg_);                              \
            fprintf(stderr, "  %s:%d: %s returned %d (%s), expected %s; last error: %s\n", \
                    __FILE__, __LINE__, #expr, (int)tg_got_, tg_status_str(tg_got_),     \
                    #expected, tg_msg_);                                                 \
            tg_test_case_failed = 1;                                                     \
        }                                                                                \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, TG_OK)

/* The last error message on this thread, in a static buffer. */
static inline const char *last_error(void) {
    static char buf[1024];
    buf[0] = '\0';
    if (tg_last_error_message(buf, sizeof buf) >= sizeof buf) {
        return "(last error did not fit)";
    }
    return buf;
}

/* Checks that the last error mentions every given fragment. */
#define CHECK_ERROR_MENTIONS(fragment)                                                   \
    do {                                                                                 \
        const char *tg_e_ = last_error();                                                \
        if (strstr(tg_e_, (fragment)) == NULL) {                                         \
            fprintf(stderr, "  %s:%d: last error \"%s\" does not mention \"%s\"\n",      \
                    __FILE__, __LINE__, tg_e_, (fragment));                              \
            tg_test_case_failed = 1;                                                     \
        }                                                                                \
    } while (0)

static inline void run_test(const char *name, void (*fn)(void)) {
    tg_test_case_failed = 0;
    fn();
    if (tg_test_case_failed) {
        tg_tests_failed++;
        printf("FAIL %s\n", name);
    } else {
        tg_tests_passed++;
        printf("ok   %s\n", name);
    }
    fflush(stdout);
}

#define RUN(fn) run_test(#fn, fn)

static inline int finish(void) {
    printf("RESULT passed=%d failed=%d\n", tg_tests_passed, tg_tests_failed);
    return tg_tests_failed == 0 ? 0 : 1;
}

#endif
