/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vsock-sysctl-write FILE VALUE
 *
 * Writes VALUE to FILE with a single write(2) and prints what the kernel
 * said: "OK" or the errno name ("EBUSY", "EPERM", ...). Shell redirections
 * hide the errno behind a generic message, and the write-once contract of
 * child_ns_mode is told apart only by it. Exit status 0 on OK, 1 otherwise,
 * 2 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FILE VALUE\n", argv[0]);
        return 2;
    }

    int fd = open(argv[1], O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        printf("open: %s\n", strerrorname_np(errno));
        return 1;
    }

    size_t len = strlen(argv[2]);
    ssize_t n = write(fd, argv[2], len);
    int err = n < 0 ? errno : 0;
    close(fd);

    if (n < 0) {
        printf("%s\n", strerrorname_np(err));
        return 1;
    }
    if ((size_t) n != len) {
        printf("short write\n");
        return 1;
    }
    printf("OK\n");
    return 0;
}
