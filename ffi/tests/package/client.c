/* A client of an installed libtripgate, built by run_c_tests.sh through pkg-config and
 * through CMake's find_package(tripgate): checks that header and library agree, and that
 * a breaker admits and records a call. Prints "tripgate client ok" and exits 0. */
#include <stdio.h>

#include "tripgate.h"

int main(void) {
    if (tg_version_number() != TG_VERSION_NUMBER) {
        fprintf(stderr, "header %d, library %u\n", TG_VERSION_NUMBER, tg_version_number());
        return 1;
    }
    tg_config *config = NULL;
    tg_breaker *breaker = NULL;
    tg_permit permit;
    if (tg_config_new(&config) != TG_OK || tg_breaker_new(config, &breaker) != TG_OK ||
        tg_try_acquire(breaker, &permit) != TG_OK ||
        tg_record(breaker, &permit, TG_SUCCESS, 0) != TG_OK) {
        fprintf(stderr, "a tripgate call failed\n");
        return 1;
    }
    tg_breaker_free(breaker);
    tg_config_free(config);
    printf("tripgate client ok (library %s, features %u)\n", tg_version_string(), tg_features());
    return 0;
}
