/* scrape_pbview: what the delta pass reads of a plain (inflated) pprof,
 * read in place from its bytes: no tree is built.
 *
 * A decoded tree of Go's heap profile takes about ten times its plain
 * bytes (a pp_sample, an array of 8-byte location ids and one of values
 * for every sample), and the delta pass needs none of it: only each
 * sample's stack and labels, as a hash, and its values. So the view
 * keeps the string table as pointers into the bytes, the sample types,
 * and two small sorted tables: function id -> name, location id -> the
 * hash of its frames; samples are read one at a time, as often as the
 * pass needs them. The bytes are checked as the host's decoder and
 * validation check them (wire format and wire types, string indexes in
 * range, string 0 empty, ids non-zero and unique, every mapping,
 * location and function referred to present, one value per sample
 * type), so that a profile the scrape passes on is one the pipeline can
 * decode; samples are checked as pbview_sample_read reads them. */
#ifndef SCRAPE_PBVIEW_H
#define SCRAPE_PBVIEW_H

#include <stddef.h>
#include <stdint.h>

/* Most sample types a profile may have: the host's decoder refuses more
 * (its PPROF_MAX_SAMPLE_TYPES), so a profile a scrape accepts is one the
 * pipeline can decode. */
#define PBVIEW_MAX_TYPES 64

/* Fields of pprof's Profile message that the view reads. */
enum {
    PB_SAMPLE_TYPE = 1,
    PB_SAMPLE = 2,
    PB_LOCATION = 4,
    PB_FUNCTION = 5,
    PB_STRING = 6,
    PB_DURATION = 10,
};

typedef struct pbview_str {
    const uint8_t *p;
    size_t n;
} pbview_str;

/* One function or location: its id, what the pass needs of it (the
 * function's name as a string index, the location's hash), and its
 * place among the profile's messages of that kind. */
typedef struct pbview_ent {
    uint64_t id;
    uint64_t val;
    size_t pos;
} pbview_ent;

typedef struct pbview {
    const uint8_t *buf;
    size_t len;
    pbview_str *strings;
    size_t n_strings;
    int64_t type[PBVIEW_MAX_TYPES], unit[PBVIEW_MAX_TYPES]; /* string indexes */
    size_t n_types;
    pbview_ent *fns, *locs; /* ascending ids */
    size_t n_fns, n_locs;
    size_t n_samples;
} pbview;

/* Reads buf's tables (buf stays the caller's and must outlive v). 0, or
 * -1 with the reason in err (v is then empty: pbview_close is harmless). */
int pbview_open(pbview *v, const uint8_t *buf, size_t len, char *err, size_t errlen);
void pbview_close(pbview *v);

/* The entry of id in ents (n of them, ascending), or NULL. Ids 1..n in
 * order (as Go writes them) are found at their place; others by binary
 * search. Inline: the delta pass looks up every frame of every sample. */
const pbview_ent *pbview_search(const pbview_ent *ents, size_t n, uint64_t id);
static inline const pbview_ent *pbview_find(const pbview_ent *ents, size_t n, uint64_t id)
{
    if (id >= 1 && id <= n && ents[id - 1].id == id)
        return &ents[id - 1];
    return pbview_search(ents, n, id);
}

/* A sample read from its message bytes. key: a hash of its frames (the
 * hash of each location in order) and labels (key, string value, number
 * and unit); values: one per sample type. */
typedef struct pbview_sample {
    uint64_t key;
    int64_t values[PBVIEW_MAX_TYPES];
} pbview_sample;

/* Reads the sample whose message is data[0..len) (number i, for errors).
 * 0, or -1 with the reason. */
int pbview_sample_read(const pbview *v, const uint8_t *data, size_t len, size_t i, pbview_sample *s,
                       char *err, size_t errlen);

/* Only the values of a sample that pbview_sample_read accepted. */
void pbview_sample_values(const pbview *v, const uint8_t *data, size_t len, int64_t *values);

/* Sets used[pos] for every location the sample refers to (the sample was
 * read once without error). */
void pbview_sample_locations(const pbview *v, const uint8_t *data, size_t len, unsigned char *used);
/* Sets used[pos] for every function the location refers to (likewise). */
void pbview_location_functions(const pbview *v, const uint8_t *data, size_t len,
                               unsigned char *used);

/* A hash of the sample types (their type and unit strings, in order). */
uint64_t pbview_types_signature(const pbview *v);

/* What of a viewed profile is written again (pbview_write), each array
 * in the order of the profile's messages of that kind. */
typedef struct pbview_kept {
    const unsigned char *sample;   /* 0: left out; else handed to the values call */
    const unsigned char *location; /* 1: named by a kept sample */
    const unsigned char *function; /* 1: named by a kept location */
    size_t dropped;                /* samples left out; 0: all else is kept whole */
} pbview_kept;

/* Gives sample i (whose kept[] mark is `mark`) its new values, in place
 * of its values as they came. */
typedef void (*pbview_values_fn)(void *ctx, size_t i, unsigned mark, int64_t *values);

/* v's profile as plain protobuf (scrape_pbwrite.c): every field as it
 * came but the kept samples with their new values, without the samples,
 * locations and functions left out and the strings only they named (the
 * rest renumbered), and with `duration` as duration_nanos. A malloc'd
 * *out; 0, or -1 when out of memory. */
int pbview_write(const pbview *v, const pbview_kept *kept, pbview_values_fn values, void *ctx,
                 int64_t duration, uint8_t **out, size_t *out_len);

#endif
