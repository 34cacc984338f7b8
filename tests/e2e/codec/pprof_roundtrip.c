/* pprof_roundtrip IN OUT [--compact] [--merge OTHER]: decodes a pprof file
 * (gzip'd or plain) into a tree with profpipe's codec, throws the raw bytes
 * away, re-encodes the tree, and writes the gzip'd result to OUT. With
 * --merge, OTHER's samples are merged in first; with --compact the tree is
 * compacted before writing. test_roundtrip.sh compares the results with
 * what go tool pprof, an independent reader (and merger), makes of IN. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof_compact.h"
#include "pprof_merge.h"
#include "profile.h"

#define ERR_LEN 512

static int read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
            }
            buf = nb;
        }
    }
    fclose(f);
    if (!buf)
        return -1;
    *data = buf;
    *len = n;
    return 0;
}

/* A profile holding the raw bytes of a file. */
static pp_profile *load(const char *path)
{
    uint8_t *data;
    size_t len;
    if (read_file(path, &data, &len) < 0) {
        perror(path);
        return NULL;
    }
    pp_profile *p = profile_new();
    if (p && profile_set_raw(p, data, len) < 0) {
        profile_free(p);
        p = NULL;
    }
    free(data);
    return p;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (f && fwrite(data, 1, len, f) == len && fclose(f) == 0)
        return 0;
    perror(path);
    if (f)
        fclose(f);
    return -1;
}

/* Applies the options to p, then writes it. 0 or -1 (reported). */
static int transform(pp_profile *p, int compact, const char *merge, const char *out)
{
    char err[ERR_LEN] = "";
    if (!profile_tree_mut(p, err, sizeof(err))) {
        fprintf(stderr, "decode: %s\n", err);
        return -1;
    }
    if (merge) {
        pp_profile *other = load(merge);
        int rc = other ? pprof_merge(p, other, err, sizeof(err)) : -1;
        profile_free(other);
        if (rc < 0) {
            fprintf(stderr, "merge %s: %s\n", merge, err);
            return -1;
        }
    }
    if (compact && pprof_compact(p) < 0) {
        fprintf(stderr, "compact failed\n");
        return -1;
    }
    const uint8_t *data;
    size_t len;
    if (profile_raw_gz(p, &data, &len, err, sizeof(err)) < 0) {
        fprintf(stderr, "encode: %s\n", err);
        return -1;
    }
    return write_file(out, data, len);
}

int main(int argc, char **argv)
{
    int compact = 0;
    const char *merge = NULL;
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--compact") == 0)
            compact = 1;
        else if (strcmp(argv[i], "--merge") == 0 && i + 1 < argc)
            merge = argv[++i];
        else
            argc = 0; /* usage */
    }
    if (argc < 3) {
        fprintf(stderr, "usage: pprof_roundtrip IN OUT [--compact] [--merge OTHER]\n");
        return 2;
    }
    pp_profile *p = load(argv[1]);
    if (!p)
        return 1;
    int rc = transform(p, compact, merge, argv[2]);
    profile_free(p);
    return rc < 0 ? 1 : 0;
}
