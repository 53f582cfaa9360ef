// sd_notify and sd_journal_sendv are not variadic and are called from Swift directly.
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
