/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Closing ended leases' fds in a thread of their own; see lease-closer.h. */
#include "lease-closer.h"

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

struct LeaseCloser {
    lease_closer_closed_fn closed_fn;
    void *userdata;
    pthread_t thread;
    int efd;                 /* the thread -> the loop: "closed some" */
    sd_event_source *io;

    /* Shared with the thread, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    Pending *queue;
    size_t head, n, size;
    uint64_t newest;         /* the highest seq handed over */
    uint64_t closed;         /* every seq <= closed is closed */
    bool stop;
};

/* Fewer queue slots than this are kept when the queue runs empty. */
#define QUEUE_KEEP 64

static void *closer_thread(void *userdata)
{
    LeaseCloser *c = userdata;
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
        if (p.seq > c->closed) /* 0: a device no ticket waits for */
            c->closed = p.seq;
        if (c->head == c->n) {
            /* Drained: also covers fds closed in place (lease_closer_queue()). */
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

void lease_closer_queue(LeaseCloser *c, int fd, uint64_t seq)
{
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

static uint64_t closed_upto(LeaseCloser *c)
{
    pthread_mutex_lock(&c->lock);
    uint64_t closed = c->closed;
    pthread_mutex_unlock(&c->lock);
    return closed;
}

static int on_closed(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    LeaseCloser *c = userdata;
    eventfd_t ignored;
    (void) eventfd_read(c->efd, &ignored);
    c->closed_fn(c->userdata, closed_upto(c));
    return 0;
}

int lease_closer_new(sd_event *event, lease_closer_closed_fn closed, void *userdata, LeaseCloser **ret)
{
    LeaseCloser *c = calloc(1, sizeof(LeaseCloser));
    if (!c)
        return -ENOMEM;
    *c = (LeaseCloser) { .closed_fn = closed, .userdata = userdata, .efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
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
    *ret = c;
    return 0;
}

LeaseCloser *lease_closer_free(LeaseCloser *c)
{
    if (!c)
        return NULL;
    pthread_mutex_lock(&c->lock);
    c->stop = true;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    sd_event_source_disable_unref(c->io);
    close(c->efd);
    pthread_cond_destroy(&c->wake);
    pthread_mutex_destroy(&c->lock);
    free(c->queue);
    free(c);
    return NULL;
}
