/* ui_json: the few JSON writers the endpoints need, straight to a FILE
 * (an open_memstream), so no document is built in memory first. Strings
 * are escaped per RFC 8259; bytes that are not valid UTF-8 pass through as
 * they are (labels and function names are UTF-8 by their formats). */
#include <math.h>

#include "ui_internal.h"

void json_str(FILE *out, const char *s)
{
    if (!s) {
        fputs("null", out);
        return;
    }
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", out);
        else if (c == '\t')
            fputs("\\t", out);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else if (c == '<') /* never closes a <script> the text lands in */
            fputs("\\u003c", out);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

static void key(FILE *out, const char *k, int comma)
{
    if (comma)
        fputc(',', out);
    json_str(out, k);
    fputc(':', out);
}

void json_kstr(FILE *out, const char *k, const char *value, int comma)
{
    key(out, k, comma);
    json_str(out, value);
}

void json_knum(FILE *out, const char *k, double value, int comma)
{
    key(out, k, comma);
    if (isfinite(value))
        fprintf(out, "%.17g", value);
    else
        fputs("null", out);
}

void json_kint(FILE *out, const char *k, int64_t value, int comma)
{
    key(out, k, comma);
    fprintf(out, "%lld", (long long)value);
}
