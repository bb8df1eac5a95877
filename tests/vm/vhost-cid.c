/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vhost-cid CID [--hold]
 *
 * Opens /dev/vhost-vsock in the caller's network namespace and asks the
 * kernel for guest CID CID with VHOST_VSOCK_SET_GUEST_CID. Prints "OK" or
 * the errno name ("EADDRINUSE", "EINVAL", ...). With --hold, keeps the CID
 * until stdin reaches end of file or a signal ends the process, printing
 * "HELD" once it is held. Exit status 0 on OK, 1 on a kernel error, 2 on
 * usage errors.
 *
 * This is the independent check of what vsockns claims a CID space holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vhost.h>

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--hold") != 0)) {
        fprintf(stderr, "usage: %s CID [--hold]\n", argv[0]);
        return 2;
    }

    char *end;
    errno = 0;
    unsigned long long cid = strtoull(argv[1], &end, 0);
    if (errno != 0 || *end != '\0' || end == argv[1]) {
        fprintf(stderr, "%s: '%s' is not a number\n", argv[0], argv[1]);
        return 2;
    }

    int fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        printf("open: %s\n", strerrorname_np(errno));
        return 1;
    }

    uint64_t guest_cid = cid;
    if (ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &guest_cid) < 0) {
        printf("%s\n", strerrorname_np(errno));
        return 1;
    }

    if (argc == 3) {
        printf("HELD\n");
        fflush(stdout);
        char buf[64];
        while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
            ;
    } else
        printf("OK\n");
    close(fd);
    return 0;
}
