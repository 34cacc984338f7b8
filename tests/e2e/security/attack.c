/* attack: bounded hostile HTTP clients for the listener tests, loopback
 * only. Every mode stops by itself within -t seconds and prints what it
 * saw as key=value lines for the test to check.
 *
 *   attack hold -h HOST -p PORT -s SRC -n N -t SECS [-r RATE] [-f HEAD]
 *       opens N connections from source address SRC; with -f sends the
 *       file HEAD first; with -r sends one byte every 1/RATE seconds on
 *       each (slowloris), else stays idle. Prints how many connected,
 *       how many the server closed, and when it closed the last of them.
 *   attack raw -h HOST -p PORT -s SRC -f FILE -t SECS [-z]
 *       sends FILE (then, with -z, zero bytes for as long as the server
 *       reads them and time allows) and prints the reply's status line
 *       ("closed" if none) and the bytes sent. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 20000
#define MAX_SECONDS 600
#define IO_CHUNK 65536
#define STATUS_MAX 256
#define POLL_MS 50

typedef struct opts {
    const char *mode, *host, *src, *file;
    int port, n, zeros;
    double seconds, rate;
} opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr, "usage: attack hold|raw -h HOST -p PORT -s SRC -t SECS [-n N] [-r RATE] "
                    "[-f FILE] [-z]\n");
    exit(2);
}

static int parse(int argc, char **argv, opts *o)
{
    if (argc < 2)
        usage();
    *o = (opts){.mode = argv[1], .host = "127.0.0.1", .src = "127.0.0.1", .n = 1};
    int c;
    optind = 2;
    while ((c = getopt(argc, argv, "h:p:s:n:t:r:f:z")) != -1) {
        switch (c) {
        case 'h':
            o->host = optarg;
            break;
        case 'p':
            o->port = atoi(optarg);
            break;
        case 's':
            o->src = optarg;
            break;
        case 'n':
            o->n = atoi(optarg);
            break;
        case 't':
            o->seconds = atof(optarg);
            break;
        case 'r':
            o->rate = atof(optarg);
            break;
        case 'f':
            o->file = optarg;
            break;
        case 'z':
            o->zeros = 1;
            break;
        default:
            usage();
        }
    }
    if (o->port <= 0 || o->n < 1 || o->n > MAX_CONNS || o->seconds <= 0 || o->seconds > MAX_SECONDS)
        usage();
    return 0;
}

/* A socket from src, connecting (non-blocking) to host:port; -1 on error. */
static int open_conn(const opts *o)
{
    struct sockaddr_in from = {.sin_family = AF_INET}, to = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, o->src, &from.sin_addr) != 1 ||
        inet_pton(AF_INET, o->host, &to.sin_addr) != 1) {
        fprintf(stderr, "attack: loopback IPv4 addresses only\n");
        exit(2);
    }
    if ((ntohl(to.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "attack: refusing a non-loopback target\n");
        exit(2);
    }
    to.sin_port = htons((uint16_t)o->port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&from, sizeof from) < 0 ||
        (connect(fd, (struct sockaddr *)&to, sizeof to) < 0 && errno != EINPROGRESS)) {
        close(fd);
        return -1;
    }
    return fd;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "attack: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ---------------------------------------------------------------- */
/* hold: idle or dripping connections                                */
/* ---------------------------------------------------------------- */

static int hold(const opts *o)
{
    size_t head_len = 0;
    char *head = o->file ? read_file(o->file, &head_len) : NULL;
    struct pollfd *pfd = calloc((size_t)o->n, sizeof *pfd);
    int *head_sent = calloc((size_t)o->n, sizeof *head_sent);
    if (!pfd || !head_sent)
        return 2;
    int connected = 0, failed = 0, closed = 0;
    double start = now_s(), last_close = 0, next_drip = start;
    for (int i = 0; i < o->n; i++) {
        pfd[i].fd = open_conn(o);
        pfd[i].events = POLLIN | POLLOUT;
        if (pfd[i].fd < 0)
            failed++;
    }
    char buf[IO_CHUNK];
    while (now_s() - start < o->seconds) {
        if (poll(pfd, (nfds_t)o->n, POLL_MS) < 0 && errno != EINTR)
            break;
        int drip = o->rate > 0 && now_s() >= next_drip;
        if (drip)
            next_drip += 1.0 / o->rate;
        for (int i = 0; i < o->n; i++) {
            if (pfd[i].fd < 0)
                continue;
            if (pfd[i].revents & POLLOUT) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(pfd[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
                pfd[i].events = POLLIN;
                if (err) {
                    close(pfd[i].fd);
                    pfd[i].fd = -1;
                    failed++;
                    continue;
                }
                connected++;
                if (head && send(pfd[i].fd, head, head_len, MSG_NOSIGNAL) == (ssize_t)head_len)
                    head_sent[i] = 1;
            }
            int gone = 0;
            if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t r = recv(pfd[i].fd, buf, sizeof buf, 0);
                gone = r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR);
            }
            if (!gone && drip && pfd[i].events == POLLIN && (!head || head_sent[i]))
                gone = send(pfd[i].fd, "a", 1, MSG_NOSIGNAL) < 0 && errno != EAGAIN;
            if (gone) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
                closed++;
                last_close = now_s() - start;
            }
        }
    }
    int open_at_end = 0;
    for (int i = 0; i < o->n; i++)
        if (pfd[i].fd >= 0) {
            open_at_end++;
            close(pfd[i].fd);
        }
    printf("connected=%d\nfailed=%d\nclosed_by_server=%d\nopen_at_end=%d\nlast_close_s=%.1f\n",
           connected, failed, closed, open_at_end, last_close);
    free(pfd);
    free(head_sent);
    free(head);
    return 0;
}

/* ---------------------------------------------------------------- */
/* raw: one request, bytes as given                                  */
/* ---------------------------------------------------------------- */

static int wait_fd(int fd, short events, double deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    while (now_s() < deadline) {
        int r = poll(&p, 1, POLL_MS);
        if (r > 0)
            return p.revents;
        if (r < 0 && errno != EINTR)
            return -1;
    }
    return 0;
}

static int raw(const opts *o)
{
    size_t len = 0;
    char *data = read_file(o->file, &len);
    double deadline = now_s() + o->seconds;
    int fd = open_conn(o);
    if (fd < 0 || !(wait_fd(fd, POLLOUT, deadline) & POLLOUT)) {
        printf("status=connect_failed\nsent=0\n");
        return 0;
    }
    size_t sent = 0;
    static char zeros[IO_CHUNK];
    int replied = 0;
    while (now_s() < deadline) {
        int ev = wait_fd(fd, POLLOUT | POLLIN, deadline);
        if (ev <= 0 || (ev & (POLLIN | POLLHUP | POLLERR))) {
            replied = ev > 0;
            break;
        }
        const char *p = sent < len ? data + sent : zeros;
        size_t n = sent < len ? len - sent : (o->zeros ? sizeof zeros : 0);
        if (n == 0) /* all sent: wait for the reply */
            break;
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            break;
        if (w > 0)
            sent += (size_t)w;
    }
    (void)replied;
    char status[STATUS_MAX] = "closed";
    char buf[STATUS_MAX];
    size_t got = 0;
    while (got < sizeof buf - 1 && (wait_fd(fd, POLLIN, deadline) & (POLLIN | POLLHUP))) {
        ssize_t r = recv(fd, buf + got, sizeof buf - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
        buf[got] = '\0';
        char *eol = strstr(buf, "\r\n");
        if (eol) {
            *eol = '\0';
            snprintf(status, sizeof status, "%s", buf);
            break;
        }
    }
    printf("status=%s\nsent=%zu\n", status, sent);
    close(fd);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    opts o;
    parse(argc, argv, &o);
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(o.mode, "hold") == 0)
        return hold(&o);
    if (strcmp(o.mode, "raw") == 0 && o.file)
        return raw(&o);
    usage();
    return 2;
}
