/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vhost.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vhost.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ns-worker.h"

/* A namespace worker makes it in there and passes it back; our copy is
 * the only one once the worker has closed its own. */
static int made_inside(NsWorkers *w, const NsRequest *q)
{
    NsAnswer a;
    int r = ns_workers_run(w, q, NETNS_OPEN_TIMEOUT_MS, &a);
    if (r < 0) {
        if (a.fd >= 0)
            close(a.fd);
        return r;
    }
    return a.fd >= 0 ? a.fd : -EPROTO;
}

int netns_socket(NsWorkers *w, int netns_fd, int domain, int type, int protocol)
{
    if (netns_fd < 0) {
        int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
        return fd < 0 ? -errno : fd;
    }
    NsRequest q = ns_request(NS_OP_SOCKET, netns_fd);
    q.args[0] = domain;
    q.args[1] = type;
    q.args[2] = protocol;
    return made_inside(w, &q);
}

int netns_open_file(NsWorkers *w, int netns_fd, const char *path, int flags)
{
    if (netns_fd < 0) {
        int fd = open(path, flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
    }
    NsRequest q = ns_request(NS_OP_OPEN, netns_fd);
    q.args[0] = flags;
    snprintf(q.path, sizeof(q.path), "%s", path);
    return made_inside(w, &q);
}

int vhost_reserve_cid(NsWorkers *w, int netns_fd, uint32_t cid, int *ret_unused)
{
    *ret_unused = -1;
    int fd = netns_open_file(w, netns_fd, VHOST_VSOCK_DEVICE, O_RDWR);
    if (fd < 0)
        return fd;
    uint64_t guest_cid = cid;
    if (ioctl(fd, VHOST_VSOCK_SET_GUEST_CID, &guest_cid) < 0) {
        int r = -errno;
        *ret_unused = fd;
        return r;
    }
    return fd;
}
