/* gz_bench: in-process gunzip and gzip of whole buffers, zlib against
 * libdeflate, on the same files, alternating per round (bench/gzip/run.sh);
 * and gunzip through a fixed 64 KiB buffer, zlib against gzstream_inflate
 * (ISA-L, what the streaming readers use).
 *
 * zlib's side is what core/pprof/gz.c did before libdeflate: inflate into
 * one buffer (here sized from the gzip trailer up front, zlib's best case)
 * and deflate at level 1 (Z_BEST_SPEED), windowBits 15 + gzip, memLevel 8.
 * libdeflate's side is gz_gunzip and gz_gzip themselves, as the daemon
 * calls them (libdeflate level 1, the decompressor and compressor allocated
 * per call). Each round times every file through the four operations, each
 * repeated until it has used about `ms_each` milliseconds of CPU; a line per
 * file and round: "round R file F zlib_gunzip_us A deflate_gunzip_us B
 * zlib_gzip_us C deflate_gzip_us D gz_bytes_zlib E gz_bytes_deflate G
 * zlib_stream_us H gzstream_us I load L". zlib's streaming side is what
 * lib/gzstream did before ISA-L: inflate into the same 64 KiB buffer
 * until the stream ends; gzstream's is gzstream_inflate with no sink.
 *
 * Usage: gz_bench ROUNDS MS_EACH FILE.pb.gz... */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "fileio.h"
#include "gz.h"
#include "gzstream.h"

#define BENCH_MAX_INPUT ((size_t)1 << 30)

/* The process' CPU time (one thread): what an operation costs, whatever
 * else the machine runs. */
static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* zlib inflate of a single-member gzip into a buffer of its stated size. */
static size_t zlib_gunzip(const uint8_t *in, size_t in_len, uint8_t *out, size_t cap)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return 0;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    int zr = inflate(&zs, Z_FINISH);
    size_t n = cap - zs.avail_out;
    inflateEnd(&zs);
    return zr == Z_STREAM_END ? n : 0;
}

static size_t zlib_gzip(const uint8_t *in, size_t in_len, uint8_t **out)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    size_t cap = deflateBound(&zs, (uLong)in_len);
    uint8_t *buf = malloc(cap);
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    zs.next_out = buf;
    zs.avail_out = (uInt)cap;
    int zr = deflate(&zs, Z_FINISH);
    size_t n = cap - zs.avail_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) {
        free(buf);
        return 0;
    }
    *out = buf;
    return n;
}

/* zlib inflate of a single-member gzip through one GZSTREAM_CHUNK buffer:
 * the bytes it made. */
static size_t zlib_stream(const uint8_t *in, size_t in_len)
{
    static uint8_t buf[GZSTREAM_CHUNK];
    z_stream zs;
    size_t n = 0;
    int zr;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return 0;
    zs.next_in = (Bytef *)in;
    zs.avail_in = (uInt)in_len;
    do {
        zs.next_out = buf;
        zs.avail_out = sizeof buf;
        zr = inflate(&zs, Z_NO_FLUSH);
        n += sizeof buf - zs.avail_out;
    } while (zr == Z_OK);
    inflateEnd(&zs);
    return zr == Z_STREAM_END ? n : 0;
}

enum op { ZLIB_GUNZIP, DEFLATE_GUNZIP, ZLIB_GZIP, DEFLATE_GZIP, ZLIB_STREAM, GZSTREAM, OPS };

typedef struct input {
    const char *path;
    uint8_t *gz, *plain;
    size_t gz_len, plain_len;
} input;

/* One run of op on in; the size it produced (0: failed). */
static size_t run_op(enum op op, const input *in)
{
    uint8_t *out = NULL;
    size_t n = 0;
    switch (op) {
    case ZLIB_GUNZIP:
        out = malloc(in->plain_len);
        n = zlib_gunzip(in->gz, in->gz_len, out, in->plain_len);
        break;
    case DEFLATE_GUNZIP:
        if (gz_gunzip(in->gz, in->gz_len, PROFILE_MAX_DECOMPRESSED, &out, &n, NULL, NULL, 0) < 0)
            n = 0;
        break;
    case ZLIB_GZIP:
        n = zlib_gzip(in->plain, in->plain_len, &out);
        break;
    case DEFLATE_GZIP:
        if (gz_gzip(in->plain, in->plain_len, &out, &n) < 0)
            n = 0;
        break;
    case ZLIB_STREAM:
        n = zlib_stream(in->gz, in->gz_len);
        break;
    case GZSTREAM: {
        char err[128];
        if (gzstream_inflate(in->gz, in->gz_len, PROFILE_MAX_DECOMPRESSED, 0, NULL, NULL, &n, err,
                             sizeof err) != GZSTREAM_OK)
            n = 0;
        break;
    }
    default:
        break;
    }
    free(out);
    return n;
}

/* CPU microseconds per run of op, repeated for about ms_each ms of CPU. */
static double time_op(enum op op, const input *in, double ms_each, size_t *made)
{
    double start = now_us(), end = start + ms_each * 1e3, t = start;
    long runs = 0;
    while (t < end || runs < 3) {
        *made = run_op(op, in);
        if (*made == 0)
            return -1;
        runs++;
        t = now_us();
    }
    return (t - start) / (double)runs;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: gz_bench ROUNDS MS_EACH FILE.pb.gz...\n");
        return 2;
    }
    int rounds = atoi(argv[1]);
    double ms_each = atof(argv[2]);
    int nfiles = argc - 3;
    input *ins = calloc((size_t)nfiles, sizeof *ins);
    for (int i = 0; i < nfiles; i++) {
        input *in = &ins[i];
        in->path = argv[3 + i];
        if (!(in->gz = (uint8_t *)fileio_read_all(in->path, BENCH_MAX_INPUT, &in->gz_len)) ||
            gz_gunzip(in->gz, in->gz_len, PROFILE_MAX_DECOMPRESSED, &in->plain, &in->plain_len,
                      NULL, NULL, 0) < 0) {
            fprintf(stderr, "gz_bench: cannot read %s as gzip\n", in->path);
            return 1;
        }
    }
    int rc = 0;
    for (int r = 0; r < rounds && rc == 0; r++) {
        for (int i = 0; i < nfiles && rc == 0; i++) {
            double us[OPS];
            size_t made[OPS];
            for (int op = 0; op < OPS; op++) {
                us[op] = time_op((enum op)op, &ins[i], ms_each, &made[op]);
                if (us[op] < 0) {
                    fprintf(stderr, "gz_bench: operation %d failed on %s\n", op, ins[i].path);
                    rc = 1;
                }
            }
            char load[64] = "?";
            FILE *f = fopen("/proc/loadavg", "r");
            if (f) {
                if (fscanf(f, "%63s", load) != 1)
                    strcpy(load, "?");
                fclose(f);
            }
            printf("round %d file %s plain_bytes %zu zlib_gunzip_us %.1f deflate_gunzip_us %.1f "
                   "zlib_gzip_us %.1f deflate_gzip_us %.1f gz_bytes_zlib %zu gz_bytes_deflate %zu "
                   "zlib_stream_us %.1f gzstream_us %.1f load %s\n",
                   r, ins[i].path, ins[i].plain_len, us[ZLIB_GUNZIP], us[DEFLATE_GUNZIP],
                   us[ZLIB_GZIP], us[DEFLATE_GZIP], made[ZLIB_GZIP], made[DEFLATE_GZIP],
                   us[ZLIB_STREAM], us[GZSTREAM], load);
            fflush(stdout);
        }
    }
    for (int i = 0; i < nfiles; i++) {
        free(ins[i].gz);
        free(ins[i].plain);
    }
    free(ins);
    return rc;
}
