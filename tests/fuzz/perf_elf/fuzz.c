/* Fuzz target: the perf receiver's symbol reader on an ELF image in
 * memory (libelf; .symtab, .dynsym, build id, segments, and .gopclntab
 * when a Go binary has no symbols). Lookups at a spread of offsets must
 * return NULL or a NUL-terminated name. */
#include "fuzz_support.h"
#include "perf_symbols.h"

#define LOOKUPS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    perf_symfile *f = perf_symfile_load_image(data, len);
    if (f) {
        (void)perf_symfile_build_id(f);
        size_t n = perf_symfile_count(f);
        for (uint64_t i = 0; i < LOOKUPS; i++) {
            const char *name = perf_symfile_lookup(f, i * (len / LOOKUPS + 1));
            if (name)
                FUZZ_CHECK(strlen(name) < (size_t)1 << 20, "unterminated name");
        }
        (void)n;
        perf_symfile_free(f);
    }
    return 0;
}
