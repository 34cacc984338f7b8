/* lib/listener's handover: a listener started on the address of a
 * running one of the same owner (the instance a reload replaces) serves
 * that socket instead of binding (another owner's start fails), the old
 * one's quiesce and stop leave the socket to it, and the socket closes
 * with its last holder. A replacement that fails to start (a certificate
 * libmicrohttpd refuses) leaves the running listener's socket open and
 * no descriptor behind. Real sockets on 127.0.0.1, real HTTP requests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "host.h"
#include "listener.h"

#define REPLY_MAX 4096

/* Answers every request with its cls, a NUL-terminated body. */
static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_len, void **req_cls)
{
    (void)url, (void)method, (void)version, (void)upload, (void)upload_len;
    if (!*req_cls) { /* headers only: wait for the end of the request */
        *req_cls = c;
        return MHD_YES;
    }
    const char *body = cls;
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

/* A port nothing listens on at the moment. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t len = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    close(fd);
    return ntohs(sa.sin_port);
}

/* GET / on 127.0.0.1:port: the reply's body (after the blank line) into
 * out (if not NULL), 0; or -errno when the connection is refused or
 * fails. */
static int get(int port, char *out, size_t outlen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    const char *req = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";
    assert_int_equal(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    char reply[REPLY_MAX];
    size_t n = 0;
    ssize_t got;
    while (n < sizeof reply - 1 && (got = read(fd, reply + n, sizeof reply - 1 - n)) > 0)
        n += (size_t)got;
    close(fd);
    reply[n] = '\0';
    const char *body = strstr(reply, "\r\n\r\n");
    if (!body)
        return -EPROTO;
    if (out)
        snprintf(out, outlen, "%s", body + 4);
    return 0;
}

/* GET / on port is answered `want`. */
static void expect(int port, const char *want)
{
    char body[64];
    assert_int_equal(get(port, body, sizeof body), 0);
    assert_string_equal(body, want);
}

static size_t open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    size_t n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* The default listener settings on 127.0.0.1:port. */
static void config_for(listener_config *cfg, int port)
{
    char address[64];
    snprintf(address, sizeof address, "127.0.0.1:%d", port);
    listener_config_defaults(cfg);
    assert_int_equal(listener_config_set_address(cfg, address), 0);
}

#define OWNER "handover" /* the name of every listener here but one */

/* A listener of `owner` answering `body` with cfg. */
static listener *serve_as(const char *owner, listener_config *cfg, const char *body, char *err,
                          size_t len)
{
    listener_handlers handlers = {.request = answer, .cls = (void *)body};
    return listener_start(host_api(), NULL, owner, cfg, &handlers, err, len);
}

static listener *serve(listener_config *cfg, const char *body, char *err, size_t len)
{
    return serve_as(OWNER, cfg, body, err, len);
}

static listener *start(listener_config *cfg, int port, const char *body, char *err, size_t len)
{
    config_for(cfg, port);
    return serve(cfg, body, err, len);
}

/* Listener A, answering "A", on a free port: each test's running one. */
typedef struct fixture {
    int port;
    listener_config cfg;
    listener *a;
} fixture;

static int start_a(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char err[256];
    if (!f)
        return -1;
    f->port = free_port();
    f->a = start(&f->cfg, f->port, "A", err, sizeof err);
    *state = f;
    return f->a ? 0 : -1;
}

/* Stops A (if the test did not) and checks the port is closed. */
static int stop_a(void **state)
{
    fixture *f = *state;
    listener_stop(f->a);
    listener_config_free(&f->cfg);
    int closed = get(f->port, NULL, 0) == -ECONNREFUSED;
    free(f);
    return closed ? 0 : -1;
}

static void test_replacement_takes_the_socket(void **state)
{
    fixture *f = *state;
    listener_config cb;
    char err[256];
    expect(f->port, "A");
    /* bound twice it would be "in use": it serves A's socket instead */
    listener *b = start(&cb, f->port, "B", err, sizeof err);
    if (!b)
        fail_msg("the replacement did not start on the running listener's address: %s", err);
    listener_quiesce(f->a);
    for (int i = 0; i < 20; i++)
        expect(f->port, "B");
    listener_drain(f->a, 0);
    listener_stop(f->a); /* closes A's daemon and descriptor, not the socket */
    f->a = NULL;
    expect(f->port, "B");
    listener_stop(b); /* the last holder: the socket closes */
    listener_config_free(&cb);
    assert_int_equal(get(f->port, NULL, 0), -ECONNREFUSED);
}

/* Another listener (another component) on a running one's address fails
 * as it would without handover: the socket is not shared with it. */
static void test_other_owner_is_refused(void **state)
{
    fixture *f = *state;
    listener_config cb;
    char err[256];
    config_for(&cb, f->port);
    assert_null(serve_as("another", &cb, "B", err, sizeof err));
    assert_non_null(strstr(err, "in use"));
    listener_config_free(&cb);
    for (int i = 0; i < 5; i++)
        expect(f->port, "A");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_failed_replacement_leaves_the_socket(void **state)
{
    fixture *f = *state;
    listener_config cb;
    char err[256];
    char dir[] = BINARY_DIR "/listener_handover_XXXXXX"; /* other suites clean /tmp */
    assert_non_null(mkdtemp(dir));
    char cert[sizeof dir + 16], key[sizeof dir + 16];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    write_file(cert, "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n");
    write_file(key, "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n");
    size_t fds = open_fds();
    /* the same address, a certificate libmicrohttpd refuses once it holds
     * the handed socket: its failure must not close that socket */
    config_for(&cb, f->port);
    cb.cert_file = strdup(cert);
    cb.key_file = strdup(key);
    cb.min_version = strdup("1.2");
    assert_null(serve(&cb, "B", err, sizeof err));
    listener_config_free(&cb);
    assert_int_equal(open_fds(), fds);
    for (int i = 0; i < 5; i++)
        expect(f->port, "A");
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

static void test_other_port_binds_its_own(void **state)
{
    (void)state;
    int p1 = free_port(), p2 = free_port();
    listener_config ca, cb;
    char err[256];
    listener *a = start(&ca, p1, "A", err, sizeof err);
    listener *b = start(&cb, p2, "B", err, sizeof err);
    assert_non_null(a);
    assert_non_null(b);
    listener_stop(a);
    listener_config_free(&ca);
    assert_int_equal(get(p1, NULL, 0), -ECONNREFUSED);
    expect(p2, "B");
    listener_stop(b);
    listener_config_free(&cb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replacement_takes_the_socket, start_a, stop_a),
        cmocka_unit_test_setup_teardown(test_failed_replacement_leaves_the_socket, start_a, stop_a),
        cmocka_unit_test_setup_teardown(test_other_owner_is_refused, start_a, stop_a),
        cmocka_unit_test(test_other_port_binds_its_own),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
