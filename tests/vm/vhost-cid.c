/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vhost-cid CID [--hold]
 * vhost-cid CID CID...
 * vhost-cid --move-fd FD CID
 *
 * Opens /dev/vhost-vsock in the caller's network namespace and asks the
 * kernel for guest CID CID with VHOST_VSOCK_SET_GUEST_CID. Prints "OK" or
 * the errno name ("EADDRINUSE", "EINVAL", ...), one line per CID, releasing
 * each at once. With --hold, keeps the CID until stdin reaches end of file or
 * a signal ends the process, printing "HELD" once it is held. Exit status 0
 * if all were OK, 1 on a kernel error, 2 on usage errors.
 *
 * --move-fd sets the CID of an already open vhost-vsock fd FD (e.g. one a
 * lease handed out) to CID, as any holder of a copy can, prints "MOVED" or
 * the errno name, then keeps FD open until stdin reaches end of file.
 *
 * This is the independent check of what vsockns claims a CID space holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/vhost.h>

static int parse_cid(const char *prog, const char *arg, unsigned long long *ret)
{
    char *end;
    errno = 0;
    *ret = strtoull(arg, &end, 0);
    if (errno != 0 || *end != '\0' || end == arg) {
        fprintf(stderr, "%s: '%s' is not a number\n", prog, arg);
        return -1;
    }
    return 0;
}

/* Returns the fd holding cid, or -1 after printing why not. */
static int take_cid(unsigned long long cid)
{
    int fd = open("/dev/vhost-vsock", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        printf("open: %s\n", strerrorname_np(errno));
        return -1;
    }
    uint64_t guest_cid = cid;
    if (ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &guest_cid) < 0) {
        printf("%s\n", strerrorname_np(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int move_fd(const char *prog, const char *fd_arg, const char *cid_arg)
{
    unsigned long long fd, cid;
    if (parse_cid(prog, fd_arg, &fd) < 0 || parse_cid(prog, cid_arg, &cid) < 0)
        return 2;
    uint64_t guest_cid = cid;
    if (ioctl((int) fd, VHOST_VSOCK_SET_GUEST_CID, &guest_cid) < 0) {
        printf("%s\n", strerrorname_np(errno));
        return 1;
    }
    printf("MOVED\n");
    fflush(stdout);
    char buf[64];
    while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
        ;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--move-fd") == 0)
        return move_fd(argv[0], argv[2], argv[3]);
    bool hold = argc == 3 && strcmp(argv[2], "--hold") == 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s CID [--hold] | CID CID...\n", argv[0]);
        return 2;
    }

    int status = 0;
    for (int i = 1; i < (hold ? 2 : argc); i++) {
        unsigned long long cid;
        if (parse_cid(argv[0], argv[i], &cid) < 0)
            return 2;
        int fd = take_cid(cid);
        if (fd < 0) {
            status = 1;
            continue;
        }
        if (hold) {
            printf("HELD\n");
            fflush(stdout);
            char buf[64];
            while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
                ;
        } else
            printf("OK\n");
        close(fd);
    }
    return status;
}
