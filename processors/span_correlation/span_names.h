/* span_names: promotion of the span name sample label to a series label
 * (span_name_to_series), bounded per service.
 *
 * A series label belongs to a whole profile, but one profile holds the
 * samples of many spans. So a profile is split: one profile per span name
 * found in its samples (cloned, then cut down to that name's samples and
 * compacted), carrying `span_name=<name>` as a series label and no
 * longer as a sample label; samples without a span name stay in a profile
 * without that series label. Each service admits its first
 * `max_span_names` names; later names share one profile per source
 * profile under `span_name=other`, where the samples keep their original
 * span name label so that nothing is lost. The sum of the split profiles
 * equals the source profile. */
#ifndef SPAN_NAMES_H
#define SPAN_NAMES_H

#include <stddef.h>

#include <profpipe/plugin.h>

#define SPAN_NAME_OTHER "other"

typedef struct span_service span_service;

typedef struct span_names {
    const pp_host *host;
    char *label;      /* the sample label holding the name ("span_name") */
    size_t max_names; /* per service */
    span_service *services;
    size_t n_services;
    size_t cap_services;
} span_names;

/* Splits p by span name. On success *out holds 1 or more profiles
 * (p itself first, then clones; the caller owns all) and *n_out their
 * count. Returns 0, or -1 (undecodable or out of memory): p is still the
 * caller's, possibly already cut down to its first group. */
int span_names_split(span_names *sn, pp_profile *p, pp_profile ***out, size_t *n_out);
void span_names_free(span_names *sn);

#endif
