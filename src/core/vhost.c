/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vhost.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/macro.h"

typedef struct OpenRequest {
    int netns_fd;
    const char *path;      /* a file to open, or NULL: a socket */
    int flags;
    int domain, type, protocol;
    int result; /* fd or -errno */
} OpenRequest;

static void *open_thread(void *userdata)
{
    OpenRequest *req = userdata;
    int home = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home < 0) {
        req->result = -errno;
        return NULL;
    }
    if (setns(req->netns_fd, CLONE_NEWNET) < 0) {
        req->result = -errno;
        close(home);
        return NULL;
    }
    if (req->path)
        req->result = open(req->path, req->flags | O_CLOEXEC);
    else
        req->result = socket(req->domain, req->type | SOCK_CLOEXEC, req->protocol);
    if (req->result < 0)
        req->result = -errno;
    /* This thread ends right here, but never let one run on in a tenant's
     * namespace: not getting back is a bug we do not survive. */
    if (setns(home, CLONE_NEWNET) < 0)
        abort();
    close(home);
    return NULL;
}

static int run_open_thread(OpenRequest *req)
{
    pthread_t t;
    int r = pthread_create(&t, NULL, open_thread, req);
    if (r != 0)
        return -r;
    pthread_join(t, NULL);
    return req->result;
}

int netns_socket(int netns_fd, int domain, int type, int protocol)
{
    if (netns_fd < 0) {
        int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
        return fd < 0 ? -errno : fd;
    }
    OpenRequest req = { .netns_fd = netns_fd, .domain = domain, .type = type, .protocol = protocol, .result = -EIO };
    return run_open_thread(&req);
}

int netns_open_file(int netns_fd, const char *path, int flags)
{
    if (netns_fd < 0) {
        int fd = open(path, flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
    }
    OpenRequest req = { .netns_fd = netns_fd, .path = path, .flags = flags, .result = -EIO };
    return run_open_thread(&req);
}

int vhost_reserve_cid(int netns_fd, uint32_t cid)
{
    int fd = netns_open_file(netns_fd, VHOST_VSOCK_DEVICE, O_RDWR);
    if (fd < 0)
        return fd;
    uint64_t guest_cid = cid;
    if (ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &guest_cid) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    return fd;
}
