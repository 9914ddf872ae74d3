/* tg_registry_fleet_*: registries whose loaded file has a `fleet` table share what
 * their breakers learn through Redis. With TG_TEST_REDIS_URL (run_c_tests.sh is
 * run under fleet/with_redis.sh, which starts a private Redis on 127.0.0.1), two
 * registries adopt each other's open breaker; without the `fleet` feature the
 * functions answer TG_ERR_UNSUPPORTED and a file with a `fleet` table fails to load. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "tg_test.h"

static char path_a[256], path_b[256];

static void write_file(const char *path, const char *replica, const char *url) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL) return;
    fprintf(f,
            "[defaults]\n"
            "consecutive_failures = 2\n"
            "open = { duration = \"30s\" }\n"
            "[fleet]\n"
            "service = \"c-%ld\"\n"
            "environment = \"test\"\n"
            "replica = \"%s\"\n"
            "url = \"%s\"\n"
            "heartbeat = \"500ms\"\n"
            "quorum = { count = 1 }\n"
            "[fleet.store]\n",
            (long)getpid(), replica, url);
    fclose(f);
}

/* The file above ends with an empty [fleet.store] table only to be rewritten without
 * it: `url` and a `store` table together are refused, which the first test checks. */
static void write_fleet(const char *path, const char *replica, const char *url) {
    write_file(path, replica, url);
    FILE *f = fopen(path, "r+");
    CHECK(f != NULL);
    if (f == NULL) return;
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    fclose(f);
    CHECK(truncate(path, end - (long)strlen("[fleet.store]\n")) == 0);
}

static tg_breaker_state state(const tg_breaker *b) {
    tg_breaker_state s = TG_STATE_CLOSED;
    CHECK_OK(tg_state(b, &s));
    return s;
}

static void trip(const tg_breaker *b) {
    for (int i = 0; i < 2; i++) {
        tg_permit p;
        if (tg_try_acquire(b, &p) != TG_OK) return;
        CHECK_OK(tg_record(b, &p, TG_FAILURE_CONNECTION, 0));
    }
}

static void without_the_feature_fleet_calls_are_unsupported(void) {
    tg_registry *r = NULL;
    CHECK_OK(tg_registry_new_with_manual_clock(0, &r));
    tg_fleet_status s;
    if (tg_features() & TG_FEATURE_FLEET) {
        CHECK_OK(tg_registry_fleet_status(r, &s));
        CHECK(!s.joined && !s.store_up && s.publishes == 0);
        bool done = true;
        CHECK_OK(tg_registry_fleet_sync(r, 10, &done));
        CHECK(!done); /* in no fleet */
    } else {
        CHECK_STATUS(tg_registry_fleet_status(r, &s), TG_ERR_UNSUPPORTED);
        CHECK_ERROR_MENTIONS("without the `fleet` feature");
        CHECK_STATUS(tg_registry_fleet_sync(r, 10, NULL), TG_ERR_UNSUPPORTED);
        if (tg_features() & TG_FEATURE_FILES) {
            write_fleet(path_a, "a", "redis://127.0.0.1:1/0");
            CHECK_STATUS(tg_registry_load(r, path_a, NULL), TG_ERR_INVALID_ARG);
            CHECK_ERROR_MENTIONS("field fleet: fleet mode needs tripgate-ops built with the `fleet` feature");
        }
    }
    CHECK_STATUS(tg_registry_fleet_status(NULL, &s), TG_ERR_NULL);
    CHECK_STATUS(tg_registry_fleet_status(r, NULL), TG_ERR_NULL);
    tg_registry_free(r);
}

static void a_bad_fleet_table_fails_the_load_naming_the_field(void) {
    if (!(tg_features() & TG_FEATURE_FLEET)) return;
    tg_registry *r = NULL;
    CHECK_OK(tg_registry_new_with_manual_clock(0, &r));
    write_file(path_a, "a", "redis://127.0.0.1:1/0");
    CHECK_STATUS(tg_registry_load(r, path_a, NULL), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("field fleet.url: set either `url` or a `store` table");
    write_fleet(path_a, "not a name", "redis://127.0.0.1:1/0");
    CHECK_STATUS(tg_registry_load(r, path_a, NULL), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("field fleet.replica");
    tg_fleet_status s;
    CHECK_OK(tg_registry_fleet_status(r, &s));
    CHECK(!s.joined);
    tg_registry_free(r);
}

/* A store nobody answers on: the registry joins, reports the store down, and its
 * breakers take calls as before. */
static void a_dead_store_never_stops_a_call(void) {
    if (!(tg_features() & TG_FEATURE_FLEET)) return;
    tg_registry *r = NULL;
    CHECK_OK(tg_registry_new_with_manual_clock(0, &r));
    write_fleet(path_a, "a", "redis://127.0.0.1:1/0");
    CHECK_OK(tg_registry_load(r, path_a, NULL));
    CHECK_OK(tg_registry_fleet_sync(r, 5000, NULL));
    tg_fleet_status s;
    CHECK_OK(tg_registry_fleet_status(r, &s));
    CHECK(s.joined && !s.store_up);
    tg_breaker *db = NULL;
    CHECK_OK(tg_registry_breaker(r, "db", &db));
    for (int i = 0; i < 100; i++) {
        tg_permit p;
        CHECK_OK(tg_try_acquire(db, &p));
        CHECK_OK(tg_record(db, &p, TG_SUCCESS, 0));
    }
    tg_breaker_free(db);
    tg_registry_free(r);
}

static void two_registries_adopt_each_others_open_breaker(void) {
    const char *url = getenv("TG_TEST_REDIS_URL");
    if (!(tg_features() & TG_FEATURE_FLEET)) return;
    if (url == NULL || *url == '\0') {
        printf("skipped: TG_TEST_REDIS_URL is not set (fleet/with_redis.sh sets it)\n");
        return;
    }
    tg_registry *a = NULL, *b = NULL;
    CHECK_OK(tg_registry_new_with_manual_clock(0, &a));
    CHECK_OK(tg_registry_new_with_manual_clock(0, &b));
    write_fleet(path_a, "a", url);
    write_fleet(path_b, "b", url);
    CHECK_OK(tg_registry_load(a, path_a, NULL));
    CHECK_OK(tg_registry_load(b, path_b, NULL));
    tg_breaker *db_a = NULL, *db_b = NULL;
    CHECK_OK(tg_registry_breaker(a, "db", &db_a));
    CHECK_OK(tg_registry_breaker(b, "db", &db_b));
    trip(db_a);
    /* Open by its own trip; its fleet's worker, woken by the transition, may already
     * hold it open (a quorum of one: its own opinion), which is FORCED_OPEN. */
    tg_breaker_state tripped = state(db_a);
    CHECK(tripped == TG_STATE_OPEN || tripped == TG_STATE_FORCED_OPEN);
    for (int i = 0; i < 2; i++) {
        bool done_a = false, done_b = false;
        CHECK_OK(tg_registry_fleet_sync(a, 10000, &done_a));
        CHECK_OK(tg_registry_fleet_sync(b, 10000, &done_b));
        CHECK(done_a && done_b);
    }
    CHECK(state(db_b) == TG_STATE_FORCED_OPEN);
    tg_fleet_status s;
    CHECK_OK(tg_registry_fleet_status(b, &s));
    CHECK(s.joined && s.store_up && s.adoptions == 1 && s.publishes >= 2);
    char text[16384];
    CHECK_OK(tg_registry_prometheus(b, text, sizeof text, NULL));
    CHECK(strstr(text, "tripgate_fleet_store_up{replica=\"b\"} 1") != NULL);
    CHECK(strstr(text, url) == NULL);
    tg_breaker_free(db_a);
    tg_breaker_free(db_b);
    tg_registry_free(a);
    tg_registry_free(b);
}

int main(void) {
    snprintf(path_a, sizeof path_a, "/tmp/tg_fleet_a_%ld.toml", (long)getpid());
    snprintf(path_b, sizeof path_b, "/tmp/tg_fleet_b_%ld.toml", (long)getpid());
    RUN(without_the_feature_fleet_calls_are_unsupported);
    RUN(a_bad_fleet_table_fails_the_load_naming_the_field);
    RUN(a_dead_store_never_stops_a_call);
    RUN(two_registries_adopt_each_others_open_breaker);
    unlink(path_a);
    unlink(path_b);
    return finish();
}
