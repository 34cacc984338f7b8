/* fuzz_support: what the libFuzzer harnesses share. A harness checks the
 * invariants of the code it drives (what is accepted re-encodes and
 * decodes again, ...) with FUZZ_CHECK, which aborts so that libFuzzer
 * saves the input; the sanitizers catch the rest. */
#ifndef FUZZ_SUPPORT_H
#define FUZZ_SUPPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A NUL-terminated malloc'd copy of the input (NULL when out of memory). */
static inline char *fuzz_cstring(const uint8_t *data, size_t len)
{
    char *s = malloc(len + 1);
    if (s) {
        if (len)
            memcpy(s, data, len);
        s[len] = '\0';
    }
    return s;
}

/* Splits the input at the first `sep` (the seed generator writes inputs
 * in the same shape): [data, *head_len) and the rest after sep. Without
 * sep everything is the head and the tail is empty. */
static inline const uint8_t *fuzz_split(const uint8_t *data, size_t len, const char *sep,
                                        size_t *head_len, size_t *tail_len)
{
    size_t sep_len = strlen(sep);
    const uint8_t *at = len >= sep_len ? memmem(data, len, sep, sep_len) : NULL;
    if (!at) {
        *head_len = len;
        *tail_len = 0;
        return data + len;
    }
    *head_len = (size_t)(at - data);
    *tail_len = len - *head_len - sep_len;
    return at + sep_len;
}

#endif
