/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Closing ended leases' fds in a thread of their own; see fd-closer.h. */
#include "fd-closer.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "shared/log.h"
#include "shared/macro.h"

typedef struct Pending {
    int fd;
    uint64_t seq;
} Pending;

/* A call waiting for its releases to be closed. */
typedef struct Waiter {
    struct FdCloser *closer;
    uint64_t upto;
    sd_bus_message *reply_to;
    sd_event_source *timer;
    struct Waiter *next;
} Waiter;

typedef struct FdCloser {
    Manager *manager;
    pthread_t thread;
    int efd;                 /* the thread -> the loop: "closed some" */
    sd_event_source *io;
    Waiter *waiters;         /* in order of upto */

    /* Shared with the thread, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    Pending *queue;
    size_t head, n, size;
    uint64_t newest;         /* the highest seq handed over */
    uint64_t closed;         /* every seq <= closed is closed */
    bool stop;
} FdCloser;

/* Fewer queue slots than this are kept when the queue runs empty. */
#define QUEUE_KEEP 64

static void *closer_thread(void *userdata)
{
    FdCloser *c = userdata;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (c->head == c->n && !c->stop)
            pthread_cond_wait(&c->wake, &c->lock);
        if (c->head == c->n)
            break; /* stopping, and nothing left */
        Pending p = c->queue[c->head++];
        pthread_mutex_unlock(&c->lock);
        close(p.fd);
        pthread_mutex_lock(&c->lock);
        c->closed = p.seq;
        if (c->head == c->n) {
            /* Drained: also covers fds closed in place (close_later). */
            c->closed = c->newest;
            c->head = c->n = 0;
            if (c->size > QUEUE_KEEP) {
                free(c->queue);
                c->queue = NULL;
                c->size = 0;
            }
        }
        (void) eventfd_write(c->efd, 1);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void close_later(Manager *m, int fd, uint64_t seq)
{
    FdCloser *c = m->fd_closer;
    pthread_mutex_lock(&c->lock);
    if (seq > c->newest)
        c->newest = seq;
    if (c->n == c->size) {
        size_t size = c->size ? c->size * 2 : QUEUE_KEEP;
        Pending *grown = realloc(c->queue, size * sizeof(Pending));
        if (!grown) {
            /* Out of memory: close it here, late but correct. The marker
             * settles with the queue (newest), or now if it is empty. */
            bool idle = c->head == c->n;
            if (idle)
                c->closed = c->newest;
            pthread_mutex_unlock(&c->lock);
            close(fd);
            if (idle)
                (void) eventfd_write(c->efd, 1);
            return;
        }
        c->queue = grown;
        c->size = size;
    }
    c->queue[c->n++] = (Pending) { .fd = fd, .seq = seq };
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
}

static uint64_t closed_upto(FdCloser *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t closed = c->closed;
    pthread_mutex_unlock(&c->lock);
    return closed;
}

static void waiter_finish(Waiter *w)
{
    FdCloser *c = w->closer;
    for (Waiter **p = &c->waiters; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    if (w->reply_to) {
        int r = sd_bus_reply_method_return(w->reply_to, NULL);
        if (r < 0)
            log_warning_errno(r, "Cannot answer after closing the released leases' fds: %m");
        sd_bus_message_unref(w->reply_to);
    }
    sd_event_source_disable_unref(w->timer);
    free(w);
}

static int on_closed(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    FdCloser *c = userdata;
    eventfd_t ignored;
    (void) eventfd_read(c->efd, &ignored);
    uint64_t closed = closed_upto(c);
    manager_releases_settled(c->manager, closed);
    while (c->waiters && c->waiters->upto <= closed)
        waiter_finish(c->waiters);
    return 0;
}

static int on_waiter_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
    Waiter *w = userdata;
    log_notice("Still closing the devices of released leases after %llu s; answering now, their CIDs stay "
               "marked as releasing until closed",
               (unsigned long long) (FD_CLOSER_REPLY_USEC / 1000000ULL));
    waiter_finish(w);
    return 0;
}

int fd_closer_settle(sd_event *event, Manager *m, sd_bus_message *reply_to)
{
    FdCloser *c = m->fd_closer;
    if (c && m->n_releasing > 0 && closed_upto(c) >= m->release_seq)
        manager_releases_settled(m, m->release_seq); /* closed already: on_closed may not have run yet */
    if (!c || m->n_releasing == 0)
        return reply_to ? sd_bus_reply_method_return(reply_to, NULL) : 0;
    if (!reply_to)
        return 0; /* the markers settle on their own (on_closed) */
    Waiter *w = calloc(1, sizeof(Waiter));
    if (!w)
        return sd_bus_reply_method_return(reply_to, NULL);
    *w = (Waiter) { .closer = c, .upto = m->release_seq, .reply_to = sd_bus_message_ref(reply_to) };
    int r = sd_event_add_time_relative(event, &w->timer, CLOCK_MONOTONIC, FD_CLOSER_REPLY_USEC, 0,
                                       on_waiter_timeout, w);
    if (r < 0)
        log_warning_errno(r, "Cannot time the wait for closing: %m");
    Waiter **p = &c->waiters;
    while (*p)
        p = &(*p)->next;
    *p = w;
    if (r < 0)
        waiter_finish(w);
    return 0;
}

int fd_closer_attach(sd_event *event, Manager *m)
{
    FdCloser *c = calloc(1, sizeof(FdCloser));
    if (!c)
        return -ENOMEM;
    *c = (FdCloser) { .manager = m, .efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
    if (c->efd < 0) {
        int r = -errno;
        free(c);
        return r;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->wake, NULL);
    int r = sd_event_add_io(event, &c->io, c->efd, EPOLLIN, on_closed, c);
    if (r >= 0)
        r = -pthread_create(&c->thread, NULL, closer_thread, c);
    if (r < 0) {
        sd_event_source_disable_unref(c->io);
        close(c->efd);
        pthread_cond_destroy(&c->wake);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return r;
    }
    m->fd_closer = c;
    m->close_later = close_later;
    return 0;
}

void fd_closer_free(Manager *m)
{
    FdCloser *c = m->fd_closer;
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    while (c->waiters)
        waiter_finish(c->waiters);
    sd_event_source_disable_unref(c->io);
    close(c->efd);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c->queue);
    free(c);
    m->fd_closer = NULL;
    m->close_later = NULL;
}
