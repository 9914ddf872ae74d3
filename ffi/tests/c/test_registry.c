/* tg_registry_* and tg_admin_*: named breakers from a config file, reload, Prometheus
 * text, readiness, and the admin endpoint scraped over loopback (127.0.0.1 only). */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tg_test.h"

static char config_path[256];

static void write_config(const char *text) {
    FILE *f = fopen(config_path, "w");
    CHECK(f != NULL);
    if (f == NULL) return;
    fputs(text, f);
    fclose(f);
}

static const char *CONFIG =
    "[defaults]\n"
    "consecutive_failures = 2\n"
    "[services.database]\n"
    "critical = true\n"
    "[services.cache]\n"
    "consecutive_failures = 3\n";

static void trip(const tg_breaker *b) {
    for (int i = 0; i < 10; i++) {
        tg_permit p;
        if (tg_try_acquire(b, &p) != TG_OK) return;
        CHECK_OK(tg_record(b, &p, TG_FAILURE_CONNECTION, 0));
    }
}

static tg_breaker_state state(const tg_breaker *b) {
    tg_breaker_state s = TG_STATE_CLOSED;
    CHECK_OK(tg_state(b, &s));
    return s;
}

/* Whether this build has `feature`; if not, checks that `status` (the call that needs
 * it) is TG_ERR_UNSUPPORTED with a message naming the feature, and the test ends. */
static int has_feature(uint32_t feature, tg_status status, const char *name) {
    if (tg_features() & feature) return 1;
    CHECK_STATUS(status, TG_ERR_UNSUPPORTED);
    CHECK_ERROR_MENTIONS(name);
    CHECK_ERROR_MENTIONS("tg_features()");
    return 0;
}

static void breakers_from_a_file_with_prometheus_and_readiness(void) {
    tg_registry *r = NULL;
    CHECK_OK(tg_registry_new_with_manual_clock(0, &r));
    write_config(CONFIG);
    if (!has_feature(TG_FEATURE_FILES, tg_registry_load(r, config_path, NULL),
                     "tg_registry_load: this libtripgate was built without the `files` feature")) {
        tg_registry_free(r);
        return;
    }

    tg_breaker *db = NULL, *db2 = NULL, *cache = NULL;
    CHECK_OK(tg_registry_breaker(r, "database", &db));
    CHECK_OK(tg_registry_breaker(r, "database", &db2));
    CHECK_OK(tg_registry_breaker(r, "cache", &cache));
    size_t n = 0;
    CHECK_OK(tg_registry_len(r, &n));
    CHECK(n == 2);

    /* Two handles, one breaker. */
    trip(db);
    CHECK(state(db2) == TG_STATE_OPEN);

    /* The exposition: size query, too small, then whole. */
    size_t needed = 0;
    CHECK_OK(tg_registry_prometheus(r, NULL, 0, &needed));
    CHECK(needed > 100);
    char small[16];
    CHECK_STATUS(tg_registry_prometheus(r, small, sizeof small, &needed), TG_ERR_BUFFER_TOO_SMALL);
    char *text = malloc(needed + 1024);
    CHECK_OK(tg_registry_prometheus(r, text, needed + 1024, NULL));
    CHECK(strstr(text, "# TYPE tripgate_breaker_state gauge") != NULL);
    CHECK(strstr(text, "tripgate_breaker_state{name=\"database\"} 2\n") != NULL);
    CHECK(strstr(text, "tripgate_breaker_state{name=\"cache\"} 0\n") != NULL);
    CHECK(strstr(text, "tripgate_breaker_critical{name=\"database\"} 1\n") != NULL);
    free(text);

    /* database is critical: not ready. */
    uint16_t http = 0;
    char body[4096];
    CHECK_OK(tg_registry_readiness(r, &http, body, sizeof body, NULL));
    CHECK(http == 503);
    CHECK(strstr(body, "\"ready\":false") != NULL);
    CHECK_OK(tg_registry_set_critical(r, "database", false));
    CHECK_OK(tg_registry_readiness(r, &http, body, sizeof body, NULL));
    CHECK(http == 503); /* still: 1 of 2 open is half */
    CHECK_OK(tg_reset(db));
    CHECK_OK(tg_registry_readiness(r, &http, body, sizeof body, NULL));
    CHECK(http == 200);

    /* Remove: the handle keeps working. */
    CHECK_OK(tg_registry_remove(r, "cache"));
    CHECK_STATUS(tg_registry_remove(r, "cache"), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS("no breaker named \"cache\"");
    tg_permit p;
    CHECK_OK(tg_try_acquire(cache, &p));
    CHECK_OK(tg_record(cache, &p, TG_SUCCESS, 0));

    tg_breaker_free(db);
    tg_breaker_free(cache);
    tg_registry_free(r);
    /* The last handle outlives the registry. */
    CHECK(state(db2) == TG_STATE_CLOSED);
    tg_breaker_free(db2);
}

static void reload_keeps_an_open_breaker_open_and_refuses_bad_files(void) {
    tg_registry *r = NULL;
    CHECK_OK(tg_registry_new_with_manual_clock(0, &r));
    write_config(CONFIG);
    if (!has_feature(TG_FEATURE_FILES, tg_registry_load(r, config_path, "production"), "`files`")) {
        tg_registry_free(r);
        return;
    }
    tg_breaker *db = NULL;
    CHECK_OK(tg_registry_breaker(r, "database", &db));
    trip(db);
    CHECK(state(db) == TG_STATE_OPEN);

    write_config("[defaults]\nconsecutive_failures = 5\n[services.database]\ncritical = true\n");
    CHECK_OK(tg_registry_load(r, config_path, NULL));
    CHECK(state(db) == TG_STATE_OPEN);
    tg_config *c = NULL;
    CHECK_OK(tg_breaker_get_config(db, &c));
    char toml[4096];
    CHECK_OK(tg_config_to_toml(c, toml, sizeof toml, NULL));
    CHECK(strstr(toml, "consecutive_failures = 5") != NULL);
    tg_config_free(c);

    write_config("[defaults]\nconsecutive_failures = 5\n[services.database]\nminimum_calls = 0\n");
    CHECK_STATUS(tg_registry_load(r, config_path, NULL), TG_ERR_INVALID_ARG);
    CHECK_ERROR_MENTIONS(config_path);
    CHECK_ERROR_MENTIONS("service \"database\": field minimum_calls");
    CHECK_OK(tg_breaker_get_config(db, &c));
    CHECK_OK(tg_config_to_toml(c, toml, sizeof toml, NULL));
    CHECK(strstr(toml, "minimum_calls = 0") == NULL);
    tg_config_free(c);

    tg_config *own = NULL;
    CHECK_OK(tg_config_new(&own));
    tg_breaker *other = NULL;
    CHECK_OK(tg_registry_get_or_create(r, "other", own, &other));
    tg_config_free(own);
    CHECK_STATUS(tg_registry_breaker(r, NULL, &other), TG_ERR_NULL);
    tg_breaker_free(other);
    tg_breaker_free(db);
    tg_registry_free(r);
}

static void a_failed_load_refuses_default_breakers_unless_allowed(void) {
    tg_registry *r = NULL;
    CHECK_OK(tg_registry_new(&r));
    tg_breaker *b = NULL;
    CHECK_OK(tg_registry_breaker(r, "before", &b)); /* never loaded: defaults, as documented */
    tg_breaker_free(b);
    b = NULL;

    CHECK(tg_registry_load(r, "/nonexistent/tripgate.toml", NULL) < 0);
    CHECK_STATUS(tg_registry_breaker(r, "payments", &b), TG_ERR_NOT_LOADED);
    CHECK(b == NULL);
    CHECK_ERROR_MENTIONS("tg_registry_breaker: \"payments\": the registry's config file failed to load");
    CHECK_ERROR_MENTIONS("tg_registry_allow_defaults(registry, true)");
    CHECK_OK(tg_registry_breaker(r, "before", &b)); /* an existing breaker is handed out */
    tg_breaker_free(b);
    b = NULL;

    CHECK_OK(tg_registry_allow_defaults(r, true));
    CHECK_OK(tg_registry_breaker(r, "payments", &b));
    tg_breaker_free(b);
    b = NULL;
    CHECK_OK(tg_registry_allow_defaults(r, false));
    CHECK_STATUS(tg_registry_breaker(r, "search", &b), TG_ERR_NOT_LOADED);
    CHECK_STATUS(tg_registry_allow_defaults(NULL, true), TG_ERR_NULL);

    if (tg_features() & TG_FEATURE_FILES) {
        write_config(CONFIG);
        CHECK_OK(tg_registry_load(r, config_path, NULL));
        CHECK_OK(tg_registry_breaker(r, "search", &b)); /* a file loaded */
        tg_breaker_free(b);
        b = NULL;
        /* A failed reload keeps the good file's settings: breakers come from those. */
        CHECK(tg_registry_load(r, "/nonexistent/tripgate.toml", NULL) < 0);
        CHECK_OK(tg_registry_breaker(r, "other", &b));
        tg_breaker_free(b);
    }
    tg_registry_free(r);
}

/* GET `path` from 127.0.0.1:port; writes the response into buf. */
static int http_get(uint16_t port, const char *path, char *buf, size_t len) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t k;
    while (got + 1 < len && (k = read(fd, buf + got, len - 1 - got)) > 0) got += (size_t)k;
    buf[got] = '\0';
    close(fd);
    return 0;
}

static void admin_endpoint_over_loopback(void) {
    tg_registry *r = NULL;
    CHECK_OK(tg_registry_new_with_manual_clock(0, &r));
    tg_config *c = NULL;
    CHECK_OK(tg_config_new(&c));
    CHECK_OK(tg_config_set_consecutive_failures(c, 1));
    tg_breaker *a = NULL, *b = NULL;
    CHECK_OK(tg_registry_get_or_create(r, "a", c, &a));
    CHECK_OK(tg_registry_get_or_create(r, "b", c, &b));
    tg_config_free(c);

    tg_admin *admin = NULL;
    tg_status bad_address = tg_admin_serve(r, "not an address", &admin);
    if (!has_feature(TG_FEATURE_ADMIN, bad_address,
                     "tg_admin_serve: this libtripgate was built without the `admin` feature")) {
        CHECK(admin == NULL); /* not written */
        tg_admin_free(admin);
        tg_breaker_free(a);
        tg_breaker_free(b);
        tg_registry_free(r);
        return;
    }
    CHECK_STATUS(bad_address, TG_ERR_INVALID_ARG);
    CHECK_OK(tg_admin_serve(r, "127.0.0.1:0", &admin));
    uint16_t port = 0;
    CHECK_OK(tg_admin_port(admin, &port));
    CHECK(port != 0);

    static char resp[65536];
    CHECK(http_get(port, "/health/ready", resp, sizeof resp) == 0);
    CHECK(strncmp(resp, "HTTP/1.1 200", 12) == 0);
    trip(a);
    CHECK(http_get(port, "/health/ready", resp, sizeof resp) == 0);
    CHECK(strncmp(resp, "HTTP/1.1 503", 12) == 0);
    CHECK(http_get(port, "/health/live", resp, sizeof resp) == 0);
    CHECK(strncmp(resp, "HTTP/1.1 200", 12) == 0);
    CHECK(http_get(port, "/metrics", resp, sizeof resp) == 0);
    CHECK(strstr(resp, "tripgate_breaker_state{name=\"a\"} 2") != NULL);

    /* The endpoint keeps the registry alive after tg_registry_free. */
    tg_registry_free(r);
    CHECK(http_get(port, "/metrics", resp, sizeof resp) == 0);
    CHECK(strstr(resp, "tripgate_breaker_state{name=\"b\"} 0") != NULL);
    tg_admin_free(admin);
    tg_breaker_free(a);
    tg_breaker_free(b);
    /* tiny_http's idle worker threads leave 5 s after its server stops (they are not
     * joined); under valgrind (run_c_tests.sh sets TG_TEST_ITERATIONS there) wait for
     * them, or their thread stacks would be reported as possibly lost at exit. */
    if (getenv("TG_TEST_ITERATIONS") != NULL) {
        struct timespec wait = {5, 500000000L};
        nanosleep(&wait, NULL);
    }
}

int main(void) {
    snprintf(config_path, sizeof config_path, "/tmp/tg_test_registry_%ld.toml", (long)getpid());
    RUN(breakers_from_a_file_with_prometheus_and_readiness);
    RUN(reload_keeps_an_open_breaker_open_and_refuses_bad_files);
    RUN(a_failed_load_refuses_default_breakers_unless_allowed);
    RUN(admin_endpoint_over_loopback);
    remove(config_path);
    return finish();
}
