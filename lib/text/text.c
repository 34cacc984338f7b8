/* text: see text.h. */
#include "text.h"

#include <stdio.h>

int text_verrorf(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (err && errlen > 0)
        vsnprintf(err, errlen, fmt, ap);
    return -1;
}

int text_errorf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    text_verrorf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}
