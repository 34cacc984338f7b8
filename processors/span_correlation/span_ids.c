/* span_ids: see span_ids.h. */
#include "span_ids.h"
#include "text.h"

#include <ctype.h>
#include <string.h>

#define TWO_POW_63 9223372036854775808.0
#define TRACE_LOW_HALF_AT (TRACE_ID_HEX / 2) /* bytes 8..15 = hex 16..31 */

int span_id_normalize(const char *in, size_t hex_len, char *out)
{
    while (isspace((unsigned char)*in))
        in++;
    if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X'))
        in += 2;
    size_t n = 0;
    while (in[n] && !isspace((unsigned char)in[n]))
        n++;
    for (const char *rest = in + n; *rest; rest++)
        if (!isspace((unsigned char)*rest))
            return -1;
    if (n == 0 || n > hex_len)
        return -1;
    size_t pad = hex_len - n;
    memset(out, '0', pad);
    int nonzero = 0;
    for (size_t i = 0; i < n; i++) {
        int v = text_hex_digit((unsigned char)in[i]);
        if (v < 0)
            return -1;
        nonzero |= v;
        out[pad + i] = "0123456789abcdef"[v];
    }
    out[hex_len] = '\0';
    return nonzero ? 0 : -1;
}

uint64_t span_ratio_bound(double ratio)
{
    if (!(ratio > 0))
        return 0;
    if (ratio >= 1)
        return UINT64_MAX;
    return (uint64_t)(ratio * TWO_POW_63);
}

int span_trace_keep(const char *trace_hex, double ratio)
{
    if (ratio >= 1)
        return 1;
    uint64_t x = 0;
    for (size_t i = TRACE_LOW_HALF_AT; i < TRACE_ID_HEX; i++)
        x = x << 4 | (uint64_t)text_hex_digit((unsigned char)trace_hex[i]);
    return (x >> 1) < span_ratio_bound(ratio);
}
