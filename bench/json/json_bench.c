/* json_bench: memory and speed of the pyroscope receiver's JSON reader
 * (pyroscope_json.c) and of jansson on the same documents: the shapes an
 * attacker would send (256 KiB of empty strings, of zeros, of one-key
 * objects, one huge number, deep nesting) and a realistic push request.
 * Memory is what the parsed tree holds (glibc mallinfo2 in-use bytes,
 * heap and mmap'd blocks, after the parse minus before), as a multiple of the input; speed is MB/s
 * over repeated parses. */
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../receivers/pyroscope/pyroscope_json.h"

#define SHAPE_BYTES (256 * 1024)
#define MIN_SECONDS 0.5

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static char *repeat(const char *open, const char *item, const char *sep, const char *close)
{
    char *buf = malloc(SHAPE_BYTES + 256);
    size_t o = (size_t)sprintf(buf, "%s", open), first = o;
    while (o + strlen(item) + strlen(sep) + strlen(close) < SHAPE_BYTES)
        o += (size_t)sprintf(buf + o, "%s%s", o > first ? sep : "", item);
    sprintf(buf + o, "%s", close);
    return buf;
}

/* Bytes in use: small blocks plus the ones glibc maps on their own. */
static long in_use(void)
{
    struct mallinfo2 m = mallinfo2();
    return (long)(m.uordblks + m.hblkhd);
}

typedef struct result {
    int ok;
    double mem_ratio, mb_per_s;
    char err[96];
} result;

static result run_pj(const char *doc, size_t len)
{
    result r = {0};
    pj_value v;
    char err[256];
    long before = in_use();
    r.ok = pj_parse(doc, len, &v, err, sizeof err) == 0;
    r.mem_ratio = (double)(in_use() - before) / (double)len;
    if (!r.ok)
        snprintf(r.err, sizeof r.err, "%.90s", err);
    else
        pj_free(&v);
    int n = 0;
    double t0 = now_s(), t;
    do {
        if (pj_parse(doc, len, &v, err, sizeof err) == 0)
            pj_free(&v);
        n++;
    } while ((t = now_s() - t0) < MIN_SECONDS);
    r.mb_per_s = (double)len * n / t / 1e6;
    return r;
}

static result run_jansson(const char *doc, size_t len)
{
    result r = {0};
    json_error_t e;
    long before = in_use();
    json_t *j = json_loadb(doc, len, JSON_DECODE_ANY, &e);
    r.ok = j != NULL;
    r.mem_ratio = (double)(in_use() - before) / (double)len;
    if (!r.ok)
        snprintf(r.err, sizeof r.err, "%.90s", e.text);
    json_decref(j);
    int n = 0;
    double t0 = now_s(), t;
    do {
        json_decref(json_loadb(doc, len, JSON_DECODE_ANY, &e));
        n++;
    } while ((t = now_s() - t0) < MIN_SECONDS);
    r.mb_per_s = (double)len * n / t / 1e6;
    return r;
}

static void print(const char *name, const char *who, result r)
{
    printf("| %s | %s | %s | %.1fx | %.0f |\n", name, who, r.ok ? "parsed" : r.err, r.mem_ratio,
           r.mb_per_s);
}

int main(void)
{
    struct {
        const char *name;
        char *doc;
    } shapes[] = {
        {"256 KiB `[\"\",\"\",...]` in series", repeat("{\"series\":[", "\"\"", ",", "]}")},
        {"256 KiB `[0,0,...]`", repeat("[", "0", ",", "]")},
        {"256 KiB `{\"\":0,...}`", repeat("{", "\"\":0", ",", "}")},
        {"one 256 KiB number", repeat("{\"n\":", "9", "", "}")},
        {"256 KiB of `[`", repeat("", "[", "", "")},
        {"push request, 1000 series",
         repeat("{\"series\":[",
                "{\"labels\":[{\"name\":\"service_name\",\"value\":\"shop\"},{\"name\":"
                "\"__name__\",\"value\":\"process_cpu\"}],\"samples\":[{\"rawProfile\":"
                "\"H4sIAAAAAAAA/+zYcUhUWx...AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"}]}",
                ",", "]}")},
    };
    printf("jansson %s; memory = tree bytes / input bytes; speed in MB/s\n\n", JANSSON_VERSION);
    printf("| document | parser | result | memory | MB/s |\n| --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        size_t len = strlen(shapes[i].doc);
        print(shapes[i].name, "pyroscope_json", run_pj(shapes[i].doc, len));
        print(shapes[i].name, "jansson", run_jansson(shapes[i].doc, len));
        free(shapes[i].doc);
    }
    return 0;
}
