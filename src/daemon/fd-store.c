/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fd-store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/fault.h"
#include "shared/macro.h"

#define SETTLE_TIMEOUT_USEC (5 * 1000000ULL)

void fd_store_add(const Lease *l)
{
    char name[256], msg[300];
    lease_fd_name(l, name, sizeof(name));
    snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
    int r = sd_pid_notify_with_fds(0, false, msg, &l->fd, 1);
    if (r < 0)
        log_warning_errno(r, "Cannot put the fd of CID %u in %s into the fd store: %m", l->rec.cid, l->rec.ns);
    FAULT_POINT("after-fdstore");
}

void fd_store_remove(const Lease *l)
{
    char name[256], msg[300];
    lease_fd_name(l, name, sizeof(name));
    snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
    int r = sd_notify(false, msg);
    if (r < 0)
        log_warning_errno(r, "Cannot remove the fd of CID %u in %s from the fd store: %m", l->rec.cid, l->rec.ns);
}

/* One barrier in flight: what it covers and whom to answer. */
typedef struct Settle {
    Manager *manager;
    uint64_t upto;
    sd_bus_message *reply_to;
    sd_event_source *io, *timer;
} Settle;

static void settle_finish(Settle *s)
{
    manager_releases_settled(s->manager, s->upto);
    if (s->reply_to) {
        int r = sd_bus_reply_method_return(s->reply_to, NULL);
        if (r < 0)
            log_warning_errno(r, "Cannot answer after the fd store settled: %m");
        sd_bus_message_unref(s->reply_to);
    }
    sd_event_source_disable_unref(s->io); /* closes the pipe's read end */
    sd_event_source_disable_unref(s->timer);
    free(s);
}

static int on_barrier_closed(sd_event_source *source, int fd, uint32_t revents, void *userdata)
{
    settle_finish(userdata);
    return 0;
}

static int on_barrier_timeout(sd_event_source *source, uint64_t usec, void *userdata)
{
    log_warning("systemd did not confirm the fd store changes within 5 s; going on");
    settle_finish(userdata);
    return 0;
}

int fd_store_settle(sd_event *event, Manager *m, sd_bus_message *reply_to)
{
    int fds[2] = { -1, -1 };
    Settle *s = NULL;
    int r = -ENOMEM;

    if (m->n_releasing == 0)
        return reply_to ? sd_bus_reply_method_return(reply_to, NULL) : 0;
    s = calloc(1, sizeof(Settle));
    if (!s || pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
        goto now;
    *s = (Settle) { .manager = m, .upto = m->release_seq, .reply_to = sd_bus_message_ref(reply_to) };
    r = sd_pid_notify_with_fds(0, false, "BARRIER=1", &fds[1], 1);
    close(fds[1]);
    if (r <= 0)
        goto now;
    r = sd_event_add_io(event, &s->io, fds[0], EPOLLIN | EPOLLHUP, on_barrier_closed, s);
    if (r < 0)
        goto now;
    sd_event_source_set_io_fd_own(s->io, true);
    fds[0] = -1;
    r = sd_event_add_time_relative(event, &s->timer, CLOCK_MONOTONIC, SETTLE_TIMEOUT_USEC, 0, on_barrier_timeout, s);
    if (r < 0)
        goto now;
    return 0;

now:
    /* No barrier to wait for: systemd may still be closing its copies, but
     * nothing better can be done than to go on. */
    if (r < 0)
        log_warning_errno(r, "Cannot wait for the fd store to settle: %m");
    if (fds[0] >= 0)
        close(fds[0]);
    if (!s) {
        manager_releases_settled(m, m->release_seq);
        return reply_to ? sd_bus_reply_method_return(reply_to, NULL) : 0;
    }
    s->upto = m->release_seq;
    s->manager = m;
    if (!s->reply_to)
        s->reply_to = sd_bus_message_ref(reply_to);
    settle_finish(s);
    return 0;
}
