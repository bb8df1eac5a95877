/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The owner of every lease's device fd; see lease-fds.h. */
#include "lease-fds.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "lease-closer.h"
#include "lease-vaults.h"
#include "lease.h"
#include "shared/log.h"
#include "shared/macro.h"

/* A release whose CID is not free yet. */
typedef struct Ticket {
    uint64_t id;
    char space[NS_NAME_MAX + 1]; /* the CID space's key (CidSpace.key: "" global) */
    uint32_t cid;
    uint64_t retake;
} Ticket;

/* A caller of lease_fds_when_free(). */
typedef struct Waiter {
    struct LeaseFds *owner;
    uint64_t upto;
    void (*done)(void *userdata, bool timed_out);
    void *userdata;
    sd_event_source *timer;
    struct Waiter *next;
} Waiter;

/* A stored fd handed back at startup, until a lease claims it. */
typedef struct StoredFd {
    char name[256];
    int fd;
    struct Vault *vault; /* NULL: an entry of its own (earlier versions) */
    bool has_record;
    LeaseRecord rec;
} StoredFd;

struct LeaseFds {
    LeaseFdsMode mode;
    sd_event *event;
    lease_fds_released_fn released;
    void *userdata;

    Ticket *tickets;           /* not done yet, in order */
    size_t n_tickets, allocated;
    uint64_t newest;           /* the id of the newest ticket given out */
    Waiter *waiters;           /* in order of upto */

    LeaseVaults *vaults;       /* LEASE_FDS_FD_STORE */
    sd_event_source *settle_later; /* armed by every change to the vaults */
    sd_event_source *barrier, *barrier_timer;
    uint64_t barrier_upto;     /* what the barrier in flight covers */
    sd_event_source *retry;    /* a vault that could not be rebuilt: try again */
    bool stopped;              /* lease_fds_stop(): nothing is waited for any more */

    LeaseCloser *closer;       /* the closing thread (both modes; by hand, ended leases' too) */

    StoredFd *stored;          /* startup only */
    size_t n_stored, stored_allocated;
    bool stored_sorted;
};

LeaseFdsMode lease_fds_mode(const LeaseFds *f)
{
    return f ? f->mode : LEASE_FDS_BY_HAND;
}

bool lease_fds_pending(const LeaseFds *f)
{
    return f && f->n_tickets > 0;
}

static void waiter_finish(LeaseFds *f, Waiter *w, bool timed_out)
{
    for (Waiter **p = &f->waiters; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            break;
        }
    sd_event_source_disable_unref(w->timer);
    void (*done)(void *, bool) = w->done;
    void *userdata = w->userdata;
    free(w);
    done(userdata, timed_out);
}

/* Every ticket up to upto is done: the manager is told, in order, then the
 * callers waiting for them. */
static void tickets_done(LeaseFds *f, uint64_t upto)
{
    /* Taken off first, a batch at a time (no allocation that could fail
     * and lose them): a re-take may let go of a device and add tickets. */
    while (f->n_tickets > 0 && f->tickets[0].id <= upto) {
        Ticket done[256];
        size_t n = 0;
        while (n < ELEMENTSOF(done) && n < f->n_tickets && f->tickets[n].id <= upto)
            n++;
        memcpy(done, f->tickets, n * sizeof(Ticket));
        memmove(f->tickets, f->tickets + n, (f->n_tickets - n) * sizeof(Ticket));
        f->n_tickets -= n;
        for (size_t i = 0; i < n; i++)
            f->released(f->userdata, done[i].space, done[i].cid, done[i].retake);
    }
    uint64_t oldest = f->n_tickets ? f->tickets[0].id : UINT64_MAX;
    while (f->waiters && f->waiters->upto < oldest)
        waiter_finish(f, f->waiters, false);
}

static uint64_t ticket_new(LeaseFds *f, const Lease *l, uint64_t retake)
{
    if (f->n_tickets == f->allocated) {
        size_t want = f->allocated ? 2 * f->allocated : 64;
        Ticket *grown = realloc(f->tickets, want * sizeof(Ticket));
        if (!grown)
            return 0; /* out of memory: nothing is marked, the CID counts as free */
        f->tickets = grown;
        f->allocated = want;
    }
    Ticket *t = &f->tickets[f->n_tickets++];
    *t = (Ticket) { .id = ++f->newest, .cid = l->rec.cid, .retake = retake };
    snprintf(t->space, sizeof(t->space), "%s", l->space->key);
    return t->id;
}

/* The fd store: once PID 1 has handled every change sent before the
 * barrier, the tickets it covers are done. One barrier at a time. */
static void settle_soon(LeaseFds *f);

static void barrier_finish(LeaseFds *f)
{
    f->barrier = sd_event_source_disable_unref(f->barrier); /* closes the pipe's reading end */
    f->barrier_timer = sd_event_source_disable_unref(f->barrier_timer);
    tickets_done(f, f->barrier_upto);
    /* Given out while this one was in flight: the next barrier goes after
     * the flush that covers them (on_settle_later), never before it. */
    if (f->n_tickets > 0)
        settle_soon(f);
}

static int on_barrier_closed(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    barrier_finish(userdata);
    return 0;
}

static int on_barrier_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
    log_warning("systemd did not confirm the fd store changes within %llu s; going on",
                (unsigned long long) (LEASE_FDS_SETTLE_USEC / 1000000ULL));
    barrier_finish(userdata);
    return 0;
}

static void barrier_send(LeaseFds *f)
{
    if (f->barrier || f->n_tickets == 0)
        return;
    f->barrier_upto = f->newest;
    int fd = lease_vaults_barrier();
    int r = fd;
    if (fd >= 0 && (r = sd_event_add_io(f->event, &f->barrier, fd, EPOLLIN | EPOLLHUP, on_barrier_closed, f)) < 0)
        close(fd);
    if (r >= 0) {
        sd_event_source_set_io_fd_own(f->barrier, true);
        r = sd_event_add_time_relative(f->event, &f->barrier_timer, CLOCK_MONOTONIC, LEASE_FDS_SETTLE_USEC, 0,
                                       on_barrier_timeout, f);
    }
    if (r < 0) {
        /* Nothing to wait for: systemd may still be closing its copies,
         * but nothing better can be done than to go on. */
        log_warning_errno(r, "Cannot wait for the fd store to settle: %m");
        barrier_finish(f);
    }
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata)
{
    LeaseFds *f = userdata;
    f->retry = sd_event_source_disable_unref(f->retry);
    settle_soon(f);
    return 0;
}

/* Rebuilds the stale vaults, then sends the barrier. A vault that could
 * not be rebuilt (no memory, the store refusing) still holds its devices:
 * its tickets are not done, and the flush is tried again in a second. */
static int on_settle_later(sd_event_source *s, void *userdata)
{
    LeaseFds *f = userdata;
    if (lease_vaults_flush(f->vaults) > 0) {
        if (!f->retry && sd_event_add_time_relative(f->event, &f->retry, CLOCK_MONOTONIC, LEASE_FDS_RETRY_USEC, 0,
                                                    on_retry, f) < 0)
            log_warning("Cannot schedule another try at rebuilding the fd store's vaults");
        return 0;
    }
    barrier_send(f);
    return 0;
}

static void settle_soon(LeaseFds *f)
{
    if (f->settle_later && !f->stopped)
        (void) sd_event_source_set_enabled(f->settle_later, SD_EVENT_ONESHOT);
}

static void on_closer_closed(void *userdata, uint64_t upto)
{
    tickets_done(userdata, upto);
}

int lease_fds_new(sd_event *event, LeaseFdsMode mode, lease_fds_released_fn released, void *userdata,
                  LeaseFds **ret)
{
    LeaseFds *f = calloc(1, sizeof(LeaseFds));
    if (!f)
        return -ENOMEM;
    *f = (LeaseFds) { .mode = mode, .event = sd_event_ref(event), .released = released, .userdata = userdata };
    int r;
    if (mode == LEASE_FDS_FD_STORE) {
        f->vaults = lease_vaults_new();
        r = f->vaults ? sd_event_add_defer(event, &f->settle_later, on_settle_later, f) : -ENOMEM;
        if (r >= 0) {
            (void) sd_event_source_set_enabled(f->settle_later, SD_EVENT_OFF);
            (void) sd_event_source_set_description(f->settle_later, "lease-fds-settle");
        }
    } else
        r = 0;
    if (r >= 0)
        r = lease_closer_new(event, on_closer_closed, f, &f->closer);
    if (r < 0) {
        lease_fds_free(f);
        return r;
    }
    *ret = f;
    return 0;
}

LeaseFds *lease_fds_free(LeaseFds *f)
{
    if (!f)
        return NULL;
    f->closer = lease_closer_free(f->closer); /* closes what is queued */
    while (f->waiters)
        waiter_finish(f, f->waiters, false);
    sd_event_source_disable_unref(f->settle_later);
    sd_event_source_disable_unref(f->barrier);
    sd_event_source_disable_unref(f->barrier_timer);
    sd_event_source_disable_unref(f->retry);
    lease_vaults_free(f->vaults);
    for (size_t i = 0; i < f->n_stored; i++)
        if (f->stored[i].fd >= 0)
            close(f->stored[i].fd);
    free(f->stored);
    free(f->tickets);
    sd_event_unref(f->event);
    free(f);
    return NULL;
}

void lease_fds_keep(LeaseFds *f, Lease *l)
{
    if (f && l->fd >= 0)
        lease_vaults_add(f->vaults, l);
}

uint64_t lease_fds_let_go(LeaseFds *f, Lease *l, uint64_t retake)
{
    if (l->fd < 0)
        return 0;
    int fd = TAKE_FD(l->fd);
    if (!f) {
        close(fd);
        return 0;
    }
    uint64_t ticket = f->stopped ? 0 : ticket_new(f, l, retake);
    if (f->mode == LEASE_FDS_FD_STORE) {
        lease_vaults_remove(f->vaults, l);
        /* Not the last copy as long as the vault holds one: PID 1 pays the
         * last close when the vault goes. */
        close(fd);
        settle_soon(f); /* the vault changed, ticket or not */
    } else if (ticket && f->closer)
        lease_closer_queue(f->closer, fd, ticket);
    else
        close(fd);
    return ticket;
}

void lease_fds_discard(LeaseFds *f, int fd)
{
    if (fd < 0)
        return;
    if (f && f->closer)
        lease_closer_queue(f->closer, fd, 0);
    else
        close(fd);
}

bool lease_fds_cancel_retake(LeaseFds *f, uint64_t ticket)
{
    for (size_t i = 0; f && i < f->n_tickets; i++)
        if (f->tickets[i].id == ticket) {
            f->tickets[i].retake = 0;
            return true;
        }
    return false;
}

void lease_fds_stop(LeaseFds *f)
{
    if (!f || f->stopped)
        return;
    f->stopped = true;
    /* Every queued fd closed now: by hand, every ticket is done. */
    if (f->closer) {
        f->closer = lease_closer_free(f->closer);
        if (f->mode == LEASE_FDS_BY_HAND)
            tickets_done(f, f->newest);
    }
    /* The fd store: the stale vaults go to PID 1, whom nobody waits for. */
    lease_vaults_flush(f->vaults);
    while (f->waiters)
        waiter_finish(f, f->waiters, f->n_tickets > 0);
}

static int on_waiter_timeout(sd_event_source *s, uint64_t usec, void *userdata)
{
    Waiter *w = userdata;
    log_notice("The devices of released leases are still not closed after %llu s; answering now, their CIDs "
               "stay marked as releasing until they are",
               (unsigned long long) (LEASE_FDS_REPLY_USEC / 1000000ULL));
    waiter_finish(w->owner, w, true);
    return 0;
}

int lease_fds_when_free(LeaseFds *f, void (*done)(void *userdata, bool timed_out), void *userdata)
{
    if (!lease_fds_pending(f)) {
        done(userdata, false);
        return 0;
    }
    Waiter *w = calloc(1, sizeof(Waiter));
    if (!w)
        return -ENOMEM;
    *w = (Waiter) { .owner = f, .upto = f->newest, .done = done, .userdata = userdata };
    int r = sd_event_add_time_relative(f->event, &w->timer, CLOCK_MONOTONIC, LEASE_FDS_REPLY_USEC, 0,
                                       on_waiter_timeout, w);
    if (r < 0)
        log_warning_errno(r, "Cannot time the wait for closing: %m");
    Waiter **p = &f->waiters;
    while (*p)
        p = &(*p)->next;
    *p = w;
    return 0;
}

int lease_fds_add_stored(LeaseFds *f, const char *name, int fd, struct Vault *vault, const LeaseRecord *rec)
{
    if (f->n_stored == f->stored_allocated) {
        size_t want = f->stored_allocated ? 2 * f->stored_allocated : 64;
        StoredFd *grown = realloc(f->stored, want * sizeof(StoredFd));
        if (!grown) {
            close(fd);
            return -ENOMEM;
        }
        f->stored = grown;
        f->stored_allocated = want;
    }
    StoredFd *sf = &f->stored[f->n_stored++];
    *sf = (StoredFd) { .fd = fd, .vault = vault, .has_record = rec != NULL };
    snprintf(sf->name, sizeof(sf->name), "%s", name);
    if (rec)
        sf->rec = *rec;
    f->stored_sorted = false;
    return 0;
}

static int found_stored(void *userdata, const char *name, int fd, struct Vault *v, const LeaseRecord *rec)
{
    return lease_fds_add_stored(userdata, name, fd, v, rec);
}

int lease_fds_take_stored(LeaseFds *f)
{
    size_t own_before = f->n_stored;
    int n = lease_vaults_take(f->vaults, found_stored, f);
    if (n < 0)
        return n;
    if (f->mode != LEASE_FDS_FD_STORE)
        log_notice("Not started by systemd: no fd store, so reserved CIDs do not survive a restart of vsocknsd "
                   "by themselves (clients keep theirs).");
    if (n > 0) {
        size_t of_their_own = 0;
        for (size_t i = own_before; i < f->n_stored; i++)
            of_their_own += !f->stored[i].vault;
        log_info("Got %d fds back from the fd store: %zu vaults with %zu lease fds, %zu lease fds of their own", n,
                 lease_vaults_count(f->vaults), f->n_stored - own_before - of_their_own, of_their_own);
    }
    return 0;
}

static int stored_compare(const void *a, const void *b)
{
    return strcmp(((const StoredFd *) a)->name, ((const StoredFd *) b)->name);
}

/* The first stored fd of that name (sorted by name, so adoption finds each
 * lease's in O(log n); a name may come twice, in two vaults, when a vault
 * was being rebuilt), or NULL. */
static StoredFd *stored_by_name(LeaseFds *f, const char *name)
{
    if (!f->stored_sorted) {
        qsort(f->stored, f->n_stored, sizeof(StoredFd), stored_compare);
        f->stored_sorted = true;
    }
    size_t lo = 0, hi = f->n_stored;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(f->stored[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < f->n_stored && streq(f->stored[lo].name, name) ? &f->stored[lo] : NULL;
}

int lease_fds_claim(LeaseFds *f, Lease *l)
{
    if (!f)
        return -ENOENT;
    char name[256];
    lease_fd_name(l, name, sizeof(name));
    /* The first of that name that is still unclaimed. */
    for (StoredFd *sf = stored_by_name(f, name); sf && sf < f->stored + f->n_stored && streq(sf->name, name); sf++)
        if (sf->fd >= 0) {
            l->fd = TAKE_FD(sf->fd);
            /* A vault with an older copy of the record (or none) is rebuilt. */
            l->slot = (LeaseFdSlot) { .vault = sf->vault,
                                      .record_current = sf->has_record && l->rec.file_ino &&
                                                        sf->rec.file_ino == l->rec.file_ino };
            return 0;
        }
    return -ENOENT;
}

bool lease_fds_stored_record(LeaseFds *f, uint32_t cid, const char *ns, uint64_t ino, LeaseRecord *ret)
{
    if (!f)
        return false;
    Lease named = { .rec.cid = cid };
    char name[256];
    snprintf(named.rec.ns, sizeof(named.rec.ns), "%s", ns);
    lease_fd_name(&named, name, sizeof(name));
    for (StoredFd *sf = stored_by_name(f, name); sf && sf < f->stored + f->n_stored && streq(sf->name, name); sf++)
        if (sf->has_record && sf->rec.file_ino == ino) {
            *ret = sf->rec;
            return true;
        }
    return false;
}

size_t lease_fds_unclaimed(const LeaseFds *f)
{
    size_t n = 0;
    for (size_t i = 0; f && i < f->n_stored; i++)
        n += f->stored[i].fd >= 0;
    return n;
}

void lease_fds_adopted(LeaseFds *f)
{
    if (!f)
        return;
    size_t changes = 0, moved = 0;
    for (size_t i = 0; i < f->n_stored; i++) {
        StoredFd *sf = &f->stored[i];
        if (sf->fd >= 0) {
            /* No lease claims it: its vault goes stale (lease_vaults_adopted()),
             * or its entry goes. */
            log_notice("Closing fd '%s' from the fd store: no lease of ours needs it", sf->name);
            close(sf->fd);
            sf->fd = -1;
        } else if (!sf->vault)
            moved++; /* a lease took it, and put it into a vault */
        if (!sf->vault && f->mode == LEASE_FDS_FD_STORE) {
            lease_vaults_store_remove(sf->name);
            changes++;
        }
    }
    free(f->stored);
    f->stored = NULL;
    f->n_stored = f->stored_allocated = 0;
    if (moved > 0)
        log_info("Removed %zu lease fds stored in entries of their own (by an earlier vsocknsd) from the fd "
                 "store; the leases that still stand keep theirs in vaults", moved);
    lease_vaults_adopted(f->vaults, changes);
}
