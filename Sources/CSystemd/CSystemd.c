#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include "CSystemd.h"

// The real prototypes (from libsystemd-dev's headers) type the pointers: a mismatch fails the build.
static __typeof__(sd_notify) *notify_function;
static __typeof__(sd_watchdog_enabled) *watchdog_function;
static __typeof__(sd_journal_sendv) *sendv_function;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[512];

static void load(void) {
    // The soname libsystemd0 installs; RTLD_LOCAL: its symbols stay out of the global scope.
    void *library = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        const char *reason = dlerror();
        snprintf(load_error, sizeof load_error, "%s", reason != NULL ? reason : "libsystemd.so.0 could not be loaded");
        return;
    }
    notify_function = (__typeof__(sd_notify) *)dlsym(library, "sd_notify");
    watchdog_function = (__typeof__(sd_watchdog_enabled) *)dlsym(library, "sd_watchdog_enabled");
    sendv_function = (__typeof__(sd_journal_sendv) *)dlsym(library, "sd_journal_sendv");
}

int mw_sd_notify(int unset_environment, const char *state) {
    const char *socket = getenv("NOTIFY_SOCKET");
    if (socket == NULL || socket[0] == 0) return 0;
    pthread_once(&load_once, load);
    return notify_function != NULL ? notify_function(unset_environment, state) : -ENOSYS;
}

int mw_sd_watchdog_enabled(int unset_environment, uint64_t *usec) {
    const char *watchdog = getenv("WATCHDOG_USEC");
    if (watchdog == NULL || watchdog[0] == 0) return 0;
    pthread_once(&load_once, load);
    return watchdog_function != NULL ? watchdog_function(unset_environment, usec) : -ENOSYS;
}

int mw_sd_journal_sendv(const struct iovec *iov, int n) {
    pthread_once(&load_once, load);
    return sendv_function != NULL ? sendv_function(iov, n) : -ENOSYS;
}

const char *mw_systemd_load_error(void) {
    pthread_once(&load_once, load);
    return load_error[0] != 0 ? load_error : NULL;
}
