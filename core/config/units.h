/* units: durations ("500ms", "15s", "2m", "1h") and sizes ("512",
 * "64KiB", "10MiB", "1MB") as written in the config, shared with the host
 * API table. */
#ifndef PROFPIPE_UNITS_H
#define PROFPIPE_UNITS_H

#include <stdint.h>

int units_parse_duration_ns(const char *text, int64_t *out);
int units_parse_size(const char *text, int64_t *out);

#endif
