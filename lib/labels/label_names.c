/* label_names: Prometheus' name rules, checked byte by byte in ASCII (no
 * <ctype.h>, whose answers depend on the locale). */
#include "label_names.h"

#include <string.h>

static int name_start(char c, int colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static int name_rest(char c, int colon)
{
    return name_start(c, colon) || (c >= '0' && c <= '9');
}

static int name_valid(const char *s, int colon)
{
    if (!s || !name_start(*s, colon))
        return 0;
    for (s++; *s; s++)
        if (!name_rest(*s, colon))
            return 0;
    return 1;
}

int label_name_valid(const char *s)
{
    return name_valid(s, 0);
}

int metric_name_valid(const char *s)
{
    return name_valid(s, 1);
}

int label_name_reserved(const char *s)
{
    return s && strncmp(s, "__", 2) == 0;
}
