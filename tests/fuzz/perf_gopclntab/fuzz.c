/* Fuzz target: the .gopclntab reader (Go function names of stripped Go
 * binaries). Every function it reports has a non-empty name inside the
 * table and a size above zero; nothing is read past the input (ASan). */
#include "fuzz_support.h"
#include "perf_gopclntab.h"

typedef struct bounds {
    const uint8_t *data;
    size_t len;
    int calls;
} bounds;

static int check_func(void *arg, uint64_t addr, uint64_t size, const char *name)
{
    bounds *b = arg;
    (void)addr;
    FUZZ_CHECK(size > 0, "function of size 0");
    FUZZ_CHECK(name[0] != '\0', "empty name");
    FUZZ_CHECK((const uint8_t *)name >= b->data && (const uint8_t *)name < b->data + b->len,
               "name outside the table");
    b->calls++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, len);
    bounds b = {copy, len, 0};
    int n = perf_gopclntab_read(copy, len, check_func, &b);
    FUZZ_CHECK(n < 0 || n == b.calls, "returned %d after %d functions", n, b.calls);
    free(copy);
    return 0;
}
