/* durable: see durable.h. The temporary name carries the pid, so two
 * processes pointed at the same directory by mistake do not write into
 * each other's temporary file. */
#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int durable_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int durable_write_all(int fd, const void *bytes, size_t len)
{
    const char *data = bytes;
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

size_t durable_read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return got;
}

/* The directory part of path ("." for a bare name), into dir. */
static void dir_of(const char *path, char *dir, size_t dirlen)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, dirlen, ".");
    else if (slash == path)
        snprintf(dir, dirlen, "/");
    else
        snprintf(dir, dirlen, "%.*s", (int)(slash - path), path);
}

int durable_replace(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
        return -1;
    }
    const char *step = NULL;
    if (durable_write_all(fd, data, len) < 0)
        step = "write";
    else if (fsync(fd) < 0)
        step = "fsync";
    int saved = errno;
    if (close(fd) < 0 && !step) {
        step = "close";
        saved = errno;
    }
    if (!step && rename(tmp, path) < 0) {
        step = "rename";
        saved = errno;
    }
    if (step) {
        unlink(tmp);
        snprintf(err, errlen, "%s %s: %s", step, step[0] == 'r' ? path : tmp, strerror(saved));
        return -1;
    }
    dir_of(path, dir, sizeof dir);
    if (durable_fsync_dir(dir) < 0) {
        snprintf(err, errlen, "fsync directory %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}
