/* pprof_roundtrip IN OUT [--compact]: decodes a pprof file (gzip'd or
 * plain) into a tree with profpipe's codec, throws the raw bytes away,
 * re-encodes the tree, and writes the gzip'd result to OUT. With --compact
 * the tree is compacted first. test_roundtrip.sh compares IN and OUT with
 * go tool pprof, an independent reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: pprof_roundtrip IN OUT [--compact]\n");
        return 2;
    }
    uint8_t *in;
    size_t in_len;
    if (read_file(argv[1], &in, &in_len) < 0) {
        perror(argv[1]);
        return 1;
    }
    char err[ERR_LEN] = "";
    pp_profile *p = profile_new();
    int rc = 1;
    const uint8_t *out;
    size_t out_len;
    if (profile_set_raw(p, in, in_len) < 0 || !profile_tree_mut(p, err, sizeof(err))) {
        fprintf(stderr, "%s: decode: %s\n", argv[1], err);
    } else if (argc > 3 && strcmp(argv[3], "--compact") == 0 && pprof_compact(p) < 0) {
        fprintf(stderr, "%s: compact failed\n", argv[1]);
    } else if (profile_raw_gz(p, &out, &out_len, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: encode: %s\n", argv[1], err);
    } else {
        FILE *f = fopen(argv[2], "wb");
        if (f && fwrite(out, 1, out_len, f) == out_len && fclose(f) == 0)
            rc = 0;
        else
            perror(argv[2]);
    }
    profile_free(p);
    free(in);
    return rc;
}
