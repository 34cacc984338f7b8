/* spool: an exporter's persistent queue, one file per profile in a
 * directory. A profile is written when it enters the exporter's queue and
 * removed only when its export is finished (delivered, rejected, or given
 * up on), so profiles still waiting when the process stops, or is killed,
 * are sent after the next start. Each record carries a CRC-32 of its
 * contents; a record that fails it is moved to <dir>/corrupt/, not read. */
#ifndef PROFPIPE_SPOOL_H
#define PROFPIPE_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <profpipe/plugin.h>

typedef struct spool spool;

/* Opens (creating it if needed) a spool directory; NULL with the reason. */
spool *spool_open(const char *dir, int fsync_writes, char *err, size_t errlen);
void spool_close(spool *s);
/* Writes one profile (its labels, window and gzip'd payload); its record
 * number in *seq. 0 or -1 with the reason. */
int spool_write(spool *s, pp_profile *p, uint64_t *seq, char *err, size_t errlen);
/* Removes a finished record. */
void spool_remove(spool *s, uint64_t seq);
/* Record numbers below this were on disk when the spool was opened. */
uint64_t spool_first_new_seq(const spool *s);
/* Calls fn for every record numbered below `below`, oldest first, with a
 * new profile (fn owns it). Returns the number of records read; corrupt
 * ones are set aside. */
size_t spool_replay(spool *s, uint64_t below, void (*fn)(void *arg, pp_profile *p, uint64_t seq),
                    void *arg);
/* Number of records on disk. */
size_t spool_count(spool *s);

#endif
