/* perf_symbols: turns sampled addresses into function names.
 *
 * User space: an address falls in a mapping of some ELF file; its offset in
 * the file goes through the file's PT_LOAD headers to a virtual address,
 * which is looked up among the function symbols of .symtab (or, for a
 * stripped file, of the separate debug file /usr/lib/debug/.build-id/xx/
 * yyyy.debug, else of .dynsym). Go binaries carry .symtab with Go names.
 * A file is read once: the cache keys it by device+inode and shares the
 * symbols between files with the same build id. Entries unused for a while
 * are dropped so the cache follows the programs that run.
 *
 * Kernel: /proc/kallsyms, read once, sorted.
 */
#ifndef PERF_SYMBOLS_H
#define PERF_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#define PERF_DEBUG_ROOT "/usr/lib/debug"
#define PERF_KALLSYMS_PATH "/proc/kallsyms"

typedef struct perf_symfile perf_symfile;
typedef struct perf_symcache perf_symcache;
typedef struct perf_kallsyms perf_kallsyms;

/* Loads the function symbols of the ELF file at `path`; debug_root is where
 * .build-id/ debug files are looked for (NULL: none). Never NULL unless out
 * of memory: a file that cannot be read gives an empty symfile. */
perf_symfile *perf_symfile_load(const char *path, const char *debug_root);
/* The same from an ELF image in memory (copied), e.g. the vDSO. */
perf_symfile *perf_symfile_load_image(const void *image, size_t len);
void perf_symfile_free(perf_symfile *f);
/* Function containing the address at `file_offset` in the file, or NULL. */
const char *perf_symfile_lookup(const perf_symfile *f, uint64_t file_offset);
/* Lower-case hex build id, "" if none. */
const char *perf_symfile_build_id(const perf_symfile *f);
size_t perf_symfile_count(const perf_symfile *f);

perf_symcache *perf_symcache_new(const char *debug_root);
void perf_symcache_free(perf_symcache *c);
/* The symbols for the file (dev, ino), loaded on first use from the first
 * of `paths` that opens. Borrowed: valid until the next sweep. */
const perf_symfile *perf_symcache_get(perf_symcache *c, uint64_t dev, uint64_t ino,
                                      const char *const *paths, size_t n_paths);
/* Ends a round of lookups: entries not used in the last `keep_rounds`
 * rounds are dropped. */
void perf_symcache_sweep(perf_symcache *c, unsigned keep_rounds);
size_t perf_symcache_size(const perf_symcache *c);

/* kallsyms-format text symbols from `path`; NULL if none are readable
 * (missing file, or all addresses hidden by kptr_restrict). */
perf_kallsyms *perf_kallsyms_load(const char *path);
void perf_kallsyms_free(perf_kallsyms *k);
/* "name" or "name [module]" of the symbol containing addr, or NULL. */
const char *perf_kallsyms_lookup(const perf_kallsyms *k, uint64_t addr);

#endif
