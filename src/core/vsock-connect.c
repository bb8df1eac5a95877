/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "vsock-connect.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "shared/macro.h"

struct VsockConnect {
    uint32_t cid, port;
    uint64_t timeout_usec;
    int fd;                  /* the socket, once made */
    int error;               /* an early failure, answered from `later` */
    NsCall *socket_call;     /* while a worker makes the socket */
    sd_event *event;
    sd_event_source *io, *timer, *later;
    vsock_connect_fn done;
    void *userdata;
};

VsockConnect *vsock_connect_free(VsockConnect *c)
{
    if (!c)
        return NULL;
    ns_call_cancel(c->socket_call);
    sd_event_source_disable_unref(c->io);
    sd_event_source_disable_unref(c->timer);
    sd_event_source_disable_unref(c->later);
    if (c->fd >= 0)
        close(c->fd);
    sd_event_unref(c->event);
    free(c);
    return NULL;
}

/* Calls done once and frees c; the socket goes to done on success. */
static void answer(VsockConnect *c, int r)
{
    int fd = -1;
    if (r == 0) {
        fd = c->fd;
        c->fd = -1;
    }
    vsock_connect_fn done = c->done;
    void *userdata = c->userdata;
    vsock_connect_free(c);
    done(r, fd, userdata);
}

void vsock_connect_stop(VsockConnect *c)
{
    if (c)
        answer(c, -ESHUTDOWN);
}

static int on_later(sd_event_source *s, void *userdata)
{
    VsockConnect *c = userdata;
    answer(c, c->error);
    return 0;
}

static int on_later_time(sd_event_source *s, uint64_t usec, void *userdata)
{
    return on_later(NULL, userdata);
}

/* An answer that is known now goes out from the loop. */
static void answer_later(VsockConnect *c, int r)
{
    c->error = r < 0 ? r : -EIO;
    c->io = sd_event_source_disable_unref(c->io);
    c->timer = sd_event_source_disable_unref(c->timer);
    if (!c->later && sd_event_add_defer(c->event, &c->later, on_later, c) < 0) {
        /* Out of memory for a defer: answered by a timer due now, or not
         * at all, which only a loop that cannot allocate would see. */
        c->later = NULL;
        (void) sd_event_add_time(c->event, &c->timer, CLOCK_MONOTONIC, 1, 0, on_later_time, c);
    }
}

static int on_writable(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    VsockConnect *c = userdata;
    int error = 0;
    socklen_t len = sizeof(error);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
        error = errno;
    if (error == 0 && (revents & (EPOLLERR | EPOLLHUP)))
        error = ECONNRESET;
    answer(c, -error);
    return 0;
}

static int on_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
    answer(userdata, -ETIMEDOUT);
    return 0;
}

/* The socket is there: connect it, without waiting. */
static void connect_now(VsockConnect *c)
{
    struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = c->cid, .svm_port = c->port };
    /* The kernel gives up on a connect after 2 s by default: ours is the
     * deadline that counts (a little later, so that our timer decides). */
    struct timeval tv = { .tv_sec = (time_t) (c->timeout_usec / 1000000) + 1 };
    (void) setsockopt(c->fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
    if (connect(c->fd, (struct sockaddr *) &addr, sizeof(addr)) < 0 && errno != EINPROGRESS) {
        answer_later(c, -errno);
        return;
    }
    /* Connected at once (loopback), or under way: writable once done,
     * within the deadline (making the socket had the worker's own). */
    int r = sd_event_add_io(c->event, &c->io, c->fd, EPOLLOUT, on_writable, c);
    if (r >= 0)
        r = sd_event_add_time_relative(c->event, &c->timer, CLOCK_MONOTONIC, c->timeout_usec, 0, on_timeout, c);
    if (r < 0)
        answer_later(c, r);
}

static void on_socket(NsAnswer *a, void *userdata)
{
    VsockConnect *c = userdata;
    c->socket_call = NULL; /* the workers free it */
    if (a->result < 0) {
        answer(c, a->result);
        return;
    }
    c->fd = a->fd;
    a->fd = -1;
    connect_now(c);
}

int vsock_connect_start(NsWorkers *w, sd_event *event, int ns_fd, uint32_t cid, uint32_t port, int type,
                        uint64_t timeout_usec, vsock_connect_fn done, void *userdata, VsockConnect **ret)
{
    VsockConnect *c = calloc(1, sizeof(VsockConnect));
    if (!c)
        return -ENOMEM;
    *c = (VsockConnect) { .cid = cid, .port = port, .timeout_usec = timeout_usec, .fd = -1, .event = sd_event_ref(event), .done = done,
                          .userdata = userdata };
    int r;
    if (ns_fd < 0) {
        c->fd = socket(AF_VSOCK, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c->fd < 0)
            answer_later(c, -errno);
        else
            connect_now(c);
    } else {
        NsRequest q = ns_request(NS_OP_SOCKET, ns_fd);
        q.args[0] = AF_VSOCK;
        q.args[1] = type | SOCK_NONBLOCK;
        /* The workers' own deadline (10 s, --worker-timeout in tests): a
         * worker that stalls making it is killed, and the call answered
         * -ETIMEDOUT. */
        r = ns_workers_submit(w, &q, 0, on_socket, c, &c->socket_call);
        if (r < 0)
            goto fail;
    }
    *ret = c;
    return 0;
fail:
    vsock_connect_free(c);
    return r;
}
