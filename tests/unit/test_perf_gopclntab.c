/* test_perf_gopclntab: Go function names from a .gopclntab built by hand in
 * the Go 1.18+ layout (two functions and the end-of-text row): entries are
 * textStart + offset, sizes run to the next entry, names come from the
 * name table. Every truncation of that table, and a wrong magic, is
 * refused or read without a byte past its end (ASan checks in CI); a
 * name offset pointing outside the table drops that function only. The
 * real thing (a Go binary built with -ldflags=-s) is checked end to end by
 * tests/e2e/perf/test_perf_go_short.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../receivers/perf/perf_gopclntab.h"

#define TEXT_START 0x401000u
#define NAMES_AT 72 /* after the header: 8 + 8 words of 8 bytes */
#define PCLN_AT 104 /* after the names */
#define FUNCS_AT 24 /* _func records, from PCLN_AT: after 3 rows */

typedef struct got {
    uint64_t addr[4], size[4];
    char name[4][32];
    int n;
} got;

static int collect(void *arg, uint64_t addr, uint64_t size, const char *name)
{
    got *g = arg;
    if (g->n == 4)
        return -1;
    g->addr[g->n] = addr;
    g->size[g->n] = size;
    strncpy(g->name[g->n], name, sizeof g->name[0] - 1);
    g->n++;
    return 0;
}

static void put(uint8_t *t, size_t at, uint64_t v, unsigned size)
{
    memcpy(t + at, &v, size);
}

/* Builds the table into t (zeroed, at least 160 bytes); returns its length. */
static size_t build(uint8_t *t, int32_t second_name)
{
    put(t, 0, 0xfffffff0u, 4);
    t[6] = 1;                  /* instruction quantum */
    t[7] = 8;                  /* pointer size */
    put(t, 8, 2, 8);           /* nfunc */
    put(t, 24, TEXT_START, 8); /* textStart */
    put(t, 32, NAMES_AT, 8);   /* funcnameOffset */
    put(t, 64, PCLN_AT, 8);    /* pclnOffset */
    memcpy(t + NAMES_AT, "main.main\0main.burnCPU\0", 23);
    /* rows {entryoff, funcoff}: two functions, then the end of text */
    put(t, PCLN_AT + 0, 0x100, 4);
    put(t, PCLN_AT + 4, FUNCS_AT, 4);
    put(t, PCLN_AT + 8, 0x180, 4);
    put(t, PCLN_AT + 12, FUNCS_AT + 8, 4);
    put(t, PCLN_AT + 16, 0x200, 4);
    /* _func {entryoff, nameoff} */
    put(t, PCLN_AT + FUNCS_AT, 0x100, 4);
    put(t, PCLN_AT + FUNCS_AT + 4, 0, 4);
    put(t, PCLN_AT + FUNCS_AT + 8, 0x180, 4);
    put(t, PCLN_AT + FUNCS_AT + 12, (uint32_t)second_name, 4);
    return PCLN_AT + FUNCS_AT + 16;
}

static void test_names_and_ranges(void **state)
{
    (void)state;
    uint8_t t[256] = {0};
    got g = {0};
    size_t len = build(t, 10);
    assert_int_equal(perf_gopclntab_read(t, len, collect, &g), 2);
    assert_int_equal(g.addr[0], TEXT_START + 0x100);
    assert_int_equal(g.size[0], 0x80);
    assert_string_equal(g.name[0], "main.main");
    assert_int_equal(g.addr[1], TEXT_START + 0x180);
    assert_int_equal(g.size[1], 0x80);
    assert_string_equal(g.name[1], "main.burnCPU");
}

static void test_bad_tables(void **state)
{
    (void)state;
    uint8_t t[256] = {0};
    size_t len = build(t, 10);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1); /* exact size: ASan sees overreads */
        got g = {0};
        memcpy(copy, t, cut);
        assert_true(perf_gopclntab_read(copy, cut, collect, &g) <= 1);
        free(copy);
    }
    got g = {0};
    build(t, 5000); /* the second name outside the table: that one dropped */
    assert_int_equal(perf_gopclntab_read(t, len, collect, &g), 1);
    assert_string_equal(g.name[0], "main.main");
    put(t, 0, 0x12345678u, 4);
    assert_int_equal(perf_gopclntab_read(t, len, collect, &g), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_ranges),
        cmocka_unit_test(test_bad_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
