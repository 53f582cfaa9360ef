// libsystemd's notify, watchdog and journal calls, loaded when first needed: the daemon links no
// libsystemd, so a process systemd did not start (a pod, a shell) never maps it or the libraries
// it needs (libgcrypt, liblz4, liblzma, libcap: ~0.5 MB resident). Without their environment
// variable (unset or empty) notify and the watchdog check return 0 and load nothing, as
// libsystemd returns 0 when they are unset; with libsystemd missing every call returns -ENOSYS.
#pragma once
#include <stdint.h>
#include <sys/uio.h>

/// sd_notify(unset_environment, state): 0 when NOTIFY_SOCKET is unset (libsystemd not loaded).
int mw_sd_notify(int unset_environment, const char *state);
/// sd_watchdog_enabled(unset_environment, usec): 0 when WATCHDOG_USEC is unset (not loaded).
int mw_sd_watchdog_enabled(int unset_environment, uint64_t *usec);
/// sd_journal_sendv(iov, n).
int mw_sd_journal_sendv(const struct iovec *iov, int n);
/// Loads libsystemd if not yet tried; NULL when it is loaded, else why it could not be (dlerror).
const char *mw_systemd_load_error(void);
