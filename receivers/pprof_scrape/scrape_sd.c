/* scrape_sd: Prometheus file_sd files.
 *
 * The format is a list of groups, each {targets: [address...],
 * labels: {name: value}}, written as JSON or YAML. JSON is read by the
 * YAML parser too (flow style), so one libyaml document loader serves
 * both. The file is read whole on every change; a broken file is
 * reported with its line and leaves the previous targets in place (the
 * caller keeps them), as Prometheus does. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "fileio.h"
#include "scrape.h"

/* A file_sd file larger than this is refused rather than parsed. */
#define SD_MAX_FILE_BYTES ((long)16 << 20)

static const char *scalar(yaml_document_t *doc, yaml_node_t *n)
{
    (void)doc;
    return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
    yaml_node_pair_t *pair;
    for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
        const char *k = scalar(doc, yaml_document_get_node(doc, pair->key));
        if (k && strcmp(k, key) == 0)
            return yaml_document_get_node(doc, pair->value);
    }
    return NULL;
}

static int sd_error(char *err, size_t errlen, const char *path, yaml_node_t *n, const char *what)
{
    snprintf(err, errlen, "%s:%zu: %s", path, n ? n->start_mark.line + 1 : 1, what);
    return -1;
}

static int read_labels(yaml_document_t *doc, yaml_node_t *n, scrape_kv **kv, size_t *n_kv,
                       const char *path, char *err, size_t errlen)
{
    yaml_node_pair_t *pair;
    size_t i = 0, count;
    *kv = NULL;
    *n_kv = 0;
    if (!n)
        return 0;
    if (n->type != YAML_MAPPING_NODE)
        return sd_error(err, errlen, path, n, "labels must be a mapping of strings");
    count = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (count == 0)
        return 0;
    *kv = calloc(count, sizeof **kv);
    if (!*kv)
        return sd_error(err, errlen, path, n, "out of memory");
    *n_kv = count;
    for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top; pair++, i++) {
        const char *k = scalar(doc, yaml_document_get_node(doc, pair->key));
        const char *v = scalar(doc, yaml_document_get_node(doc, pair->value));
        if (!k || !v)
            return sd_error(err, errlen, path, yaml_document_get_node(doc, pair->key),
                            "labels must be a mapping of strings");
        (*kv)[i].name = strdup(k);
        (*kv)[i].value = strdup(v);
        if (!(*kv)[i].name || !(*kv)[i].value)
            return sd_error(err, errlen, path, n, "out of memory");
    }
    return 0;
}

static int add_spec(scrape_spec **specs, size_t *n, const char *address, const scrape_kv *labels,
                    size_t n_labels)
{
    scrape_spec *grown = realloc(*specs, (*n + 1) * sizeof **specs), *s;
    size_t i;
    if (!grown)
        return -1;
    *specs = grown;
    s = &grown[*n];
    memset(s, 0, sizeof *s);
    (*n)++;
    s->address = strdup(address);
    if (!s->address)
        return -1;
    if (n_labels == 0)
        return 0;
    s->labels = calloc(n_labels, sizeof *s->labels);
    if (!s->labels)
        return -1;
    s->n_labels = n_labels;
    for (i = 0; i < n_labels; i++) {
        s->labels[i].name = strdup(labels[i].name);
        s->labels[i].value = strdup(labels[i].value);
        if (!s->labels[i].name || !s->labels[i].value)
            return -1;
    }
    return 0;
}

static int read_group(yaml_document_t *doc, yaml_node_t *g, scrape_spec **specs, size_t *n,
                      const char *path, char *err, size_t errlen)
{
    yaml_node_t *targets, *labels;
    yaml_node_item_t *it;
    scrape_kv *kv;
    size_t n_kv;
    int rc = 0;
    if (g->type != YAML_MAPPING_NODE)
        return sd_error(err, errlen, path, g, "each group must be {targets: [...], labels: {...}}");
    targets = map_get(doc, g, "targets");
    labels = map_get(doc, g, "labels");
    if (!targets || targets->type != YAML_SEQUENCE_NODE)
        return sd_error(err, errlen, path, g, "group without a `targets` list");
    if (read_labels(doc, labels, &kv, &n_kv, path, err, errlen) < 0) {
        scrape_kv_free(kv, n_kv);
        return -1;
    }
    for (it = targets->data.sequence.items.start; it < targets->data.sequence.items.top; it++) {
        yaml_node_t *t = yaml_document_get_node(doc, *it);
        const char *addr = scalar(doc, t);
        if (!addr || !addr[0]) {
            rc = sd_error(err, errlen, path, t, "a target must be a \"host:port\" string");
            break;
        }
        if (add_spec(specs, n, addr, kv, n_kv) < 0) {
            rc = sd_error(err, errlen, path, t, "out of memory");
            break;
        }
    }
    scrape_kv_free(kv, n_kv);
    return rc;
}

static int read_document(yaml_document_t *doc, scrape_spec **specs, size_t *n, const char *path,
                         char *err, size_t errlen)
{
    yaml_node_t *root = yaml_document_get_root_node(doc);
    yaml_node_item_t *it;
    if (!root)
        return 0; /* an empty file: no targets */
    if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)
        return 0;
    if (root->type != YAML_SEQUENCE_NODE)
        return sd_error(err, errlen, path, root, "expected a list of target groups");
    for (it = root->data.sequence.items.start; it < root->data.sequence.items.top; it++)
        if (read_group(doc, yaml_document_get_node(doc, *it), specs, n, path, err, errlen) < 0)
            return -1;
    return 0;
}

static char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    char *buf = fileio_read_all(path, (size_t)SD_MAX_FILE_BYTES, len);
    if (buf)
        return buf;
    if (errno == EFBIG || errno == EIO || errno == ENOMEM)
        snprintf(err, errlen, "%s: cannot read (or larger than %ld bytes)", path,
                 SD_MAX_FILE_BYTES);
    else
        snprintf(err, errlen, "%s: cannot open: %m", path);
    return NULL;
}

int scrape_sd_read(const char *path, scrape_spec **specs, size_t *n_specs, char *err, size_t errlen)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    scrape_spec *got = NULL;
    size_t n_got = 0, len = 0, i;
    int rc;
    char *text = slurp(path, &len, err, errlen);
    if (!text)
        return -1;
    if (!yaml_parser_initialize(&parser)) {
        free(text);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        snprintf(err, errlen, "%s:%zu: %s", path, parser.problem_mark.line + 1,
                 parser.problem ? parser.problem : "cannot parse");
        yaml_parser_delete(&parser);
        free(text);
        return -1;
    }
    rc = read_document(&doc, &got, &n_got, path, err, errlen);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(text);
    if (rc < 0) {
        for (i = 0; i < n_got; i++)
            scrape_spec_clear(&got[i]);
        free(got);
        return -1;
    }
    if (n_got) {
        scrape_spec *all = realloc(*specs, (*n_specs + n_got) * sizeof *all);
        if (!all) {
            for (i = 0; i < n_got; i++)
                scrape_spec_clear(&got[i]);
            free(got);
            snprintf(err, errlen, "%s: out of memory", path);
            return -1;
        }
        memcpy(all + *n_specs, got, n_got * sizeof *got);
        *specs = all;
        *n_specs += n_got;
    }
    free(got);
    return 0;
}
