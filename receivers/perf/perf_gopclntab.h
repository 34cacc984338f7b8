/* perf_gopclntab: Go function names from a binary's .gopclntab section,
 * for Go binaries stripped of .symtab (`go build -ldflags=-s`, common in
 * container images): the Go runtime needs that table to print its own
 * stack traces, so it survives stripping. */
#ifndef PERF_GOPCLNTAB_H
#define PERF_GOPCLNTAB_H

#include <stddef.h>
#include <stdint.h>

/* Called once per function: its entry address (virtual, as in .symtab),
 * its size and its name (valid during the call). Returns 0, or -1 to stop. */
typedef int (*perf_gofunc_fn)(void *arg, uint64_t addr, uint64_t size, const char *name);

/* Reads a .gopclntab of Go 1.16 or later (little-endian: amd64, arm64).
 * Returns the number of functions given to fn, or -1 if the table is not one we know
 * or is cut short (nothing is read past len). */
int perf_gopclntab_read(const uint8_t *data, size_t len, perf_gofunc_fn fn, void *arg);

#endif
