/* units: durations and sizes as people write them in configs.
 *
 * Durations follow Go's time.ParseDuration (which OpenTelemetry Collector
 * and Prometheus users already know): one or more <number><unit> parts,
 * `1m30s`, `1.5s`, with units ns, us (or µs), ms, s, m, h. A bare number is
 * refused because nobody can tell whether `15` meant seconds or
 * milliseconds; only `0` needs no unit. Sizes are whole bytes, optionally
 * with a decimal (KB, MB, GB, TB: powers of 1000) or binary (KiB, MiB, GiB,
 * TiB: powers of 1024) unit. All arithmetic is checked: an overflowing
 * value is an error, never a wrapped one. */
#include <string.h>

#include "units.h"
#include "pp_constants.h"

typedef struct unit_scale {
    const char *name;
    int64_t scale;
} unit_scale;

static const unit_scale duration_units[] = {
    {"ns", 1},         {"us", NS_PER_US}, {"\xc2\xb5s", NS_PER_US}, /* µs */
    {"ms", NS_PER_MS}, {"s", NS_PER_SEC}, {"m", 60 * NS_PER_SEC},   {"h", 3600 * NS_PER_SEC},
};

#define KIB INT64_C(1024)
#define KB INT64_C(1000)

static const unit_scale size_units[] = {
    {"B", 1},
    {"KB", KB},
    {"MB", KB *KB},
    {"GB", KB *KB *KB},
    {"TB", KB *KB *KB *KB},
    {"KiB", KIB},
    {"MiB", KIB *KIB},
    {"GiB", KIB *KIB *KIB},
    {"TiB", KIB *KIB *KIB *KIB},
};

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* Reads digits into *value; returns how many, or -1 on overflow. */
static int read_digits(const char **p, int64_t *value)
{
    int n = 0;
    *value = 0;
    for (; is_digit(**p); (*p)++, n++) {
        if (__builtin_mul_overflow(*value, 10, value) ||
            __builtin_add_overflow(*value, **p - '0', value))
            return -1;
    }
    return n;
}

/* The longest unit name that starts at p; its length in *len. */
static const unit_scale *match_unit(const char *p, const unit_scale *units, size_t n, size_t *len)
{
    const unit_scale *best = NULL;
    *len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(units[i].name);
        if (l > *len && strncmp(p, units[i].name, l) == 0) {
            best = &units[i];
            *len = l;
        }
    }
    return best;
}

/* The fraction digits [p, end) times scale, truncated. */
static int64_t fraction_scaled(const char *p, const char *end, int64_t scale)
{
    int64_t num = 0, den = 1;
    for (; p < end; p++) {
        /* digits beyond nanosecond precision cannot change the result */
        if (den > INT64_MAX / 10 / scale)
            break;
        num = num * 10 + (*p - '0');
        den *= 10;
    }
    return num * scale / den;
}

int units_parse_duration_ns(const char *text, int64_t *out)
{
    if (!text || !*text)
        return -1;
    if (strcmp(text, "0") == 0) {
        *out = 0;
        return 0;
    }
    int64_t total = 0;
    for (const char *p = text; *p;) {
        int64_t whole, part;
        int digits = read_digits(&p, &whole);
        if (digits < 0)
            return -1;
        const char *frac = NULL, *frac_end = NULL;
        if (*p == '.') {
            frac = ++p;
            p = frac_end = p + strspn(p, "0123456789");
        }
        if (digits == 0 && (!frac || frac == frac_end))
            return -1;
        size_t len;
        const unit_scale *u =
            match_unit(p, duration_units, sizeof duration_units / sizeof duration_units[0], &len);
        if (!u)
            return -1;
        p += len;
        if (__builtin_mul_overflow(whole, u->scale, &part) ||
            __builtin_add_overflow(part, frac ? fraction_scaled(frac, frac_end, u->scale) : 0,
                                   &part) ||
            __builtin_add_overflow(total, part, &total))
            return -1;
    }
    *out = total;
    return 0;
}

int units_parse_size(const char *text, int64_t *out)
{
    if (!text || !is_digit(*text))
        return -1;
    const char *p = text;
    int64_t value;
    if (read_digits(&p, &value) < 0)
        return -1;
    int64_t scale = 1;
    if (*p) {
        size_t len;
        const unit_scale *u =
            match_unit(p, size_units, sizeof size_units / sizeof size_units[0], &len);
        if (!u || p[len])
            return -1;
        scale = u->scale;
    }
    if (__builtin_mul_overflow(value, scale, out))
        return -1;
    return 0;
}
