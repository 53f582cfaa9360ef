// libsystemd's notify and journal calls that Swift can use directly (not variadic):
// sd_notify and sd_journal_sendv.
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
