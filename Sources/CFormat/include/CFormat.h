// printf for one double, callable from Swift (snprintf is variadic). Pure: no I/O.
#ifndef MESHWATCH_CFORMAT_H
#define MESHWATCH_CFORMAT_H
#include <stddef.h>

/// Writes `value` formatted by `format` (one double conversion) into `buffer`; returns
/// the length it needed, as snprintf does.
int mw_format_double(char *buffer, size_t size, const char *format, double value);

#endif
