/* text: the two small text helpers every parser in profpipe needs.
 *
 * Errors travel as text in a caller's buffer (`char *err, size_t errlen`,
 * the host's convention) next to a -1; text_errorf() writes one and gives
 * the -1, so a check reads `return text_errorf(err, errlen, "...", ...)`.
 * Hex digits (trace ids, session ids, \u escapes) are read in ASCII,
 * whatever the locale. */
#ifndef PROFPIPE_TEXT_H
#define PROFPIPE_TEXT_H

#include <stdarg.h>
#include <stddef.h>

/* Formats into err (truncated to errlen, always terminated when errlen >
 * 0). Returns -1. */
__attribute__((format(printf, 3, 4))) int text_errorf(char *err, size_t errlen, const char *fmt,
                                                      ...);
/* The same from a va_list. Returns -1. */
__attribute__((format(printf, 3, 0))) int text_verrorf(char *err, size_t errlen, const char *fmt,
                                                       va_list ap);

/* The value of an ASCII hex digit (either case), or -1. */
static inline int text_hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
