/* A forked child's breakers on the system clock. The library keeps a cached time
 * fresh from an upkeep thread while breakers on the system clock live; a fork's child
 * inherits that time but not the thread, and the library's fork handler clears it. Real
 * time (the system clock is the subject): a quarter of a second. */
#define _POSIX_C_SOURCE 200809L /* fork, waitpid, nanosleep */
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tg_test.h"

#define MS 1000000ull

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) != 0) {
    }
}

/* A breaker on the system clock that opens on its first failure, for 200 ms. */
static tg_breaker *opened(void) {
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_set_consecutive_failures(c, 1));
    CHECK_OK(tg_config_set_open_duration_ns(c, 200 * MS));
    tg_breaker *b = NULL;
    CHECK_OK(tg_breaker_new(c, &b));
    tg_config_free(c);
    tg_permit p;
    CHECK_OK(tg_try_acquire(b, &p));
    CHECK_OK(tg_record(b, &p, TG_FAILURE_CONNECTION, 0));
    return b;
}

/* 0 if `b` admits a probe whose success closes it, else 1. */
static int admits_a_probe(tg_breaker *b) {
    tg_permit p;
    if (tg_try_acquire(b, &p) != TG_OK) return 1;
    if (tg_record(b, &p, TG_SUCCESS, 0) != TG_OK) return 1;
    tg_breaker_state state = TG_STATE_OPEN;
    if (tg_state(b, &state) != TG_OK || state != TG_STATE_CLOSED) return 1;
    return 0;
}

static void a_forked_childs_breaker_leaves_open_when_its_open_duration_is_over(void) {
    tg_breaker *b = opened();
    tg_permit p;
    CHECK_STATUS(tg_try_acquire(b, &p), TG_REJECTED);
    /* The child answers through a pipe, not its exit status: under valgrind a child
     * exits with its own leak report (the parent's thread and objects it never freed). */
    int answer[2];
    CHECK(pipe(answer) == 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        /* Were the cached time frozen at the fork, the breaker would stay open for
         * ever: its deadline is further than a coarse read is ever trusted. */
        sleep_ms(250);
        char verdict = (char)admits_a_probe(b);
        _exit(write(answer[1], &verdict, 1) == 1 ? 0 : 1);
    }
    close(answer[1]);
    char verdict = 9;
    CHECK(read(answer[0], &verdict, 1) == 1);
    CHECK(verdict == 0);
    close(answer[0]);
    CHECK(waitpid(pid, NULL, 0) == pid);
    /* The parent's own clock was never disturbed (the wait was longer than 200 ms). */
    CHECK(admits_a_probe(b) == 0);
    tg_breaker_free(b);
}

int main(void) {
    RUN(a_forked_childs_breaker_leaves_open_when_its_open_duration_is_over);
    return finish();
}
