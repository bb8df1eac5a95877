/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "fd-store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "core/state.h"
#include "daemon/fd-closer.h"
#include "shared/log.h"
#include "shared/fault.h"
#include "shared/macro.h"

#define SETTLE_TIMEOUT_USEC (5 * 1000000ULL)
#define NAME_MAX_LEN 256 /* a lease's fd name with its NUL */
/* A vault's record: the fd name, its NUL, and (when its lease file's inode
 * is known) the packed lease record, so that a restart need not read that
 * file (lease_records_load_known()). */
#define RECORD_MAX (NAME_MAX_LEN + LEASE_RECORD_PACKED_MAX)

typedef struct Vault {
    unsigned id;                /* its entries in the store: vault-ID-r, vault-ID-w */
    char ns[NS_NAME_MAX + 1];   /* whose leases it keeps ("" until known) */
    int writer;                 /* our end; -1 if it did not come back */
    int reader;                 /* only while reading it back at startup; else -1 */
    Lease *members[VAULT_SIZE]; /* by slot; an ended lease leaves a hole */
    size_t n_slots, n_live;
    size_t n_records;           /* records in its queue */
    bool full;                  /* the queue took no more */
    bool stale;                 /* holds records of leases that ended */
} Vault;

struct FdStore {
    Vault **vaults;
    size_t n, allocated;
    unsigned next_id;
    Manager *manager;
    /* Armed by every change that leaves a copy to let go of (a vault gone
     * stale, a CID waiting for PID 1): settles on the next loop iteration,
     * so no caller has to remember to. */
    sd_event_source *settle_later;
};

static int store_notify(const char *what, unsigned id, const char *end, int fd)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "%s=1\nFDNAME=vault-%u-%s", what, id, end);
    return fd >= 0 ? sd_pid_notify_with_fds(0, false, msg, &fd, 1) : sd_notify(false, msg);
}

/* Asks systemd to close its entry of that name. */
static void store_remove(const char *name)
{
    char msg[300];
    snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
    (void) sd_notify(false, msg);
}

/* Room for one more vault in s->vaults. */
static int vaults_grow(FdStore *s)
{
    if (s->n < s->allocated)
        return 0;
    size_t want = s->allocated ? s->allocated * 2 : 16;
    Vault **grown = realloc(s->vaults, want * sizeof(Vault *));
    if (!grown)
        return -ENOMEM;
    s->vaults = grown;
    s->allocated = want;
    return 0;
}

/* A new, empty vault for ns, both ends in the store; NULL on failure. */
static Vault *vault_new(FdStore *s, const char *ns)
{
    if (vaults_grow(s) < 0)
        return NULL;
    Vault *v = calloc(1, sizeof(Vault));
    int pair[2];
    if (!v)
        return NULL;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0) {
        log_warning_errno(errno, "Cannot make a vault for the fd store: %m");
        free(v);
        return NULL;
    }
    v->id = s->next_id++;
    snprintf(v->ns, sizeof(v->ns), "%s", ns);
    int r = store_notify("FDSTORE", v->id, "r", pair[1]);
    if (r > 0) {
        r = store_notify("FDSTORE", v->id, "w", pair[0]);
        if (r <= 0)
            (void) store_notify("FDSTOREREMOVE", v->id, "r", -1);
    }
    close(pair[1]);
    if (r <= 0) {
        log_warning_errno(r < 0 ? r : -ENOTCONN, "Cannot put a vault into the fd store: %m");
        close(pair[0]);
        free(v);
        return NULL;
    }
    v->writer = pair[0];
    v->reader = -1;
    s->vaults[s->n++] = v;
    return v;
}

/* Out of the store (systemd closes its ends, and with them every fd still
 * queued) and forgotten. */
static void vault_drop(FdStore *s, size_t i)
{
    Vault *v = s->vaults[i];
    (void) store_notify("FDSTOREREMOVE", v->id, "r", -1);
    (void) store_notify("FDSTOREREMOVE", v->id, "w", -1);
    for (size_t k = 0; k < v->n_slots; k++)
        if (v->members[k])
            v->members[k]->vault = NULL;
    if (v->writer >= 0)
        close(v->writer);
    free(v);
    s->vaults[i] = s->vaults[--s->n];
}

/* Queues the lease's record: 0, -EAGAIN if the vault is full, or < 0. */
static int vault_send(Vault *v, const Lease *l)
{
    char record[RECORD_MAX], control[CMSG_SPACE(sizeof(int))] = { 0 };
    lease_fd_name(l, record, NAME_MAX_LEN);
    size_t len = strlen(record) + 1;
    if (l->rec.file_ino != 0)
        len += lease_record_pack(&l->rec, record + len, sizeof(record) - len);
    struct iovec iov = { .iov_base = record, .iov_len = len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof(control) };
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &l->fd, sizeof(int));
    if (v->n_records >= VAULT_SIZE || v->writer < 0)
        return -EAGAIN;
    if (sendmsg(v->writer, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
        return errno == EAGAIN || errno == ENOBUFS ? -EAGAIN : -errno;
    v->n_records++;
    return 0;
}

static bool vault_attach(Vault *v, Lease *l)
{
    if (v->n_slots >= VAULT_SIZE)
        return false;
    l->vault = v;
    l->vault_slot = v->n_slots;
    v->members[v->n_slots++] = l;
    v->n_live++;
    return true;
}

/* The newest vault of ns with room, or NULL. */
static Vault *vault_with_room(FdStore *s, const char *ns)
{
    for (size_t i = s->n; i-- > 0;) {
        Vault *v = s->vaults[i];
        if (!v->full && v->writer >= 0 && v->n_records < VAULT_SIZE && v->n_slots < VAULT_SIZE &&
            streq(v->ns, ns))
            return v;
    }
    return NULL;
}

void fd_store_add(Lease *l)
{
    FdStore *s = l->manager->fd_store;
    if (!s || l->fd < 0)
        return;
    if (l->vault) {
        /* Came back in this vault at startup: its record is there already,
         * but maybe not the current one (fd_store_flush() makes it so). */
        if (!l->vault_record_current)
            l->vault->stale = true;
        if (vault_attach(l->vault, l))
            return;
        l->vault->stale = true;
        l->vault = NULL;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        Vault *v = vault_with_room(s, l->rec.ns);
        if (!v)
            v = vault_new(s, l->rec.ns);
        if (!v)
            break;
        int r = vault_send(v, l);
        if (r == -EAGAIN) {
            v->full = true;
            continue;
        }
        if (r < 0) {
            log_warning_errno(r, "Cannot put the fd of CID %u in %s into a vault of the fd store: %m", l->rec.cid,
                              l->rec.ns);
            return;
        }
        (void) vault_attach(v, l);
        FAULT_POINT("after-fdstore");
        return;
    }
    log_warning("Cannot put the fd of CID %u in %s into the fd store: it survives a restart of vsocknsd only if "
                "a client still holds a copy",
                l->rec.cid, l->rec.ns);
}

static int on_settle_later(sd_event_source *source, void *userdata)
{
    FdStore *s = userdata;
    return fd_store_settle(sd_event_source_get_event(source), s->manager, NULL);
}

void fd_store_remove(Lease *l)
{
    FdStore *s = l->manager->fd_store;
    /* Even without a vault: the manager may be waiting for a settle to
     * free this CID (releasing markers, a persistent lease's re-take). */
    if (s && s->settle_later)
        (void) sd_event_source_set_enabled(s->settle_later, SD_EVENT_ONESHOT);
    Vault *v = l->vault;
    if (!v)
        return;
    if (l->vault_slot < v->n_slots && v->members[l->vault_slot] == l) {
        v->members[l->vault_slot] = NULL;
        v->n_live--;
    }
    v->stale = true;
    l->vault = NULL;
}

/* A stale vault's live leases into a new vault, which is stored before the
 * old one is removed. On failure the old one stays (and stays stale). */
static void vault_rebuild(FdStore *s, size_t i)
{
    Vault *old = s->vaults[i];
    Vault *v = vault_new(s, old->ns);
    if (!v)
        return;
    old = s->vaults[i]; /* vault_new() may have moved the array */
    for (size_t k = 0; k < old->n_slots; k++) {
        Lease *l = old->members[k];
        if (l && l->fd >= 0 && vault_send(v, l) < 0) {
            log_warning("Cannot rebuild vault %u of the fd store (CID %u in %s); keeping it as it is", old->id,
                        l->rec.cid, l->rec.ns);
            vault_drop(s, s->n - 1);
            return;
        }
    }
    for (size_t k = 0; k < old->n_slots; k++) {
        Lease *l = old->members[k];
        if (l && l->fd >= 0)
            (void) vault_attach(v, l);
    }
    old->n_slots = 0; /* its leases are v's now */
    FAULT_POINT("after-vault-rebuild");
    vault_drop(s, i);
}

/* Rebuilds or removes every stale vault. */
static void fd_store_flush(FdStore *s)
{
    /* Backwards: vault_drop() moves the last vault (done, or new) to i. */
    for (size_t i = s ? s->n : 0; i-- > 0;) {
        Vault *v = s->vaults[i];
        if (!v->stale)
            continue;
        if (v->n_live == 0)
            vault_drop(s, i);
        else
            vault_rebuild(s, i);
    }
}

/* What comes back at startup, before it goes to the manager. */
typedef struct Taken {
    StoredFd *fds;
    size_t n, allocated;
} Taken;

static int taken_push(Taken *t, const char *name, int fd, Vault *v, const LeaseRecord *rec)
{
    if (t->n == t->allocated) {
        size_t want = t->allocated ? t->allocated * 2 : 64;
        StoredFd *grown = realloc(t->fds, want * sizeof(StoredFd));
        if (!grown)
            return -ENOMEM;
        t->fds = grown;
        t->allocated = want;
    }
    StoredFd *sf = &t->fds[t->n++];
    snprintf(sf->name, sizeof(sf->name), "%s", name);
    sf->fd = fd;
    sf->vault = v;
    sf->has_record = rec != NULL;
    if (rec)
        sf->rec = *rec;
    return 0;
}

/* The vault of this id among those coming back, made (without ends) if new. */
static Vault *vault_coming_back(FdStore *s, unsigned id)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->vaults[i]->id == id)
            return s->vaults[i];
    if (vaults_grow(s) < 0)
        return NULL;
    Vault *v = calloc(1, sizeof(Vault));
    if (!v)
        return NULL;
    v->id = id;
    v->writer = v->reader = -1;
    if (id >= s->next_id)
        s->next_id = id + 1;
    s->vaults[s->n++] = v;
    return v;
}

/* Reads a vault's records with MSG_PEEK: copies of the fds come to us and
 * the records stay queued, so a crash now loses nothing. */
static int vault_read_back(Vault *v, int reader, Taken *t)
{
    int zero = 0;
    if (setsockopt(reader, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof(zero)) < 0)
        return -errno;
    for (;;) {
        char name[RECORD_MAX + 1], control[CMSG_SPACE(sizeof(int) * 8)];
        struct iovec iov = { .iov_base = name, .iov_len = RECORD_MAX };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                             .msg_controllen = sizeof(control) };
        ssize_t k = recvmsg(reader, &mh, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0 && errno != EAGAIN)
            return -errno;
        if (k <= 0)
            return 0;
        name[k] = 0;
        /* The name, and maybe the record after its NUL. */
        size_t name_len = strnlen(name, k);
        LeaseRecord rec;
        bool has_record = name_len + 1 < (size_t) k &&
                          lease_record_unpack(name + name_len + 1, k - name_len - 1, &rec) == 0;
        int fd = -1;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t j = 0; j < nfds; j++) {
                int got;
                memcpy(&got, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
                if (fd < 0)
                    fd = got;
                else
                    close(got); /* one fd per record; never more */
            }
        }
        v->n_records++;
        unsigned cid;
        int at = 0;
        if (fd < 0 || sscanf(name, "lease-%u-%n", &cid, &at) != 1 || at == 0 || name_len >= NAME_MAX_LEN ||
            (name_len + 1 != (size_t) k && !has_record)) {
            log_warning("Vault %u of the fd store holds a record that is not a lease's; it goes", v->id);
            if (fd >= 0)
                close(fd);
            continue;
        }
        if (!v->ns[0])
            snprintf(v->ns, sizeof(v->ns), "%s", name + at);
        int r = taken_push(t, name, fd, v, has_record ? &rec : NULL);
        if (r < 0) {
            close(fd);
            return r;
        }
    }
}

int fd_store_take(sd_event *event, Manager *m)
{
    char **names = NULL;
    m->have_fd_store = getenv("NOTIFY_SOCKET") != NULL;
    if (m->have_fd_store) {
        FdStore *s = m->fd_store = calloc(1, sizeof(FdStore));
        if (!s)
            return -ENOMEM;
        s->manager = m;
        int r = sd_event_add_defer(event, &s->settle_later, on_settle_later, s);
        if (r < 0)
            return log_error_errno(r, "Cannot set up the fd store's settling: %m");
        (void) sd_event_source_set_enabled(s->settle_later, SD_EVENT_OFF);
        (void) sd_event_source_set_description(s->settle_later, "fd-store-settle");
    }
    /* Without sd_listen_fds()'s own close-on-exec pass: that is two
     * fcntl() per fd, and 1,000 namespaces with leases are 2,000 vault
     * ends. The reading ends are closed below; the fds kept get it here. */
    int n = sd_listen_fds_with_names(false, &names);
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDNAMES");
    if (n < 0)
        return log_error_errno(n, "Cannot read the fds passed by systemd: %m");
    if (n == 0) {
        if (!m->have_fd_store)
            log_notice("Not started by systemd: no fd store, so reserved CIDs do not survive a restart of "
                       "vsocknsd by themselves (clients keep theirs).");
        free(names);
        return 0;
    }

    FdStore *s = m->fd_store;
    Taken t = { 0 };
    int r = 0;
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        const char *name = names && names[i] ? names[i] : "";
        unsigned id;
        char end = 0;
        int len = 0;
        Vault *v = NULL;
        if (r >= 0 && s && sscanf(name, "vault-%u-%c%n", &id, &end, &len) == 2 && name[len] == 0 &&
            (end == 'r' || end == 'w') && (v = vault_coming_back(s, id))) {
            int *slot = end == 'r' ? &v->reader : &v->writer;
            if (*slot >= 0)
                close(fd); /* a second copy of that end: never stored so */
            else {
                *slot = fd;
                if (end == 'w') /* kept; the reading end is closed once read */
                    (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
            }
        } else if (r >= 0 && strncmp(name, "lease-", 6) == 0) {
            (void) fcntl(fd, F_SETFD, FD_CLOEXEC);
            r = taken_push(&t, name, fd, NULL, NULL);
        } else {
            if (r >= 0) {
                log_notice("Closing fd '%s' from the fd store: not one of vsocknsd's", name);
                store_remove(name);
            }
            close(fd);
        }
        free(names ? names[i] : NULL);
    }
    free(names);
    size_t of_their_own = t.n;
    for (size_t k = 0; s && k < s->n; k++) {
        Vault *v = s->vaults[k];
        if (v->reader < 0)
            continue;
        int rr = r < 0 ? 0 : vault_read_back(v, v->reader, &t);
        if (rr < 0)
            r = log_error_errno(rr, "Cannot read vault %u of the fd store: %m", v->id);
        close(v->reader); /* systemd keeps its copy */
        v->reader = -1;
    }
    if (r < 0) {
        for (size_t k = 0; k < t.n; k++)
            close(t.fds[k].fd);
        free(t.fds);
        return r;
    }
    log_info("Got %d fds back from the fd store: %zu vaults with %zu lease fds, %zu lease fds of their own", n,
             s ? s->n : 0, t.n - of_their_own, of_their_own);
    manager_take_stored_fds(m, t.fds, t.n);
    return 0;
}

void fd_store_adopted(Manager *m)
{
    FdStore *s = m->fd_store;
    size_t changes = 0, unclaimed = 0, moved = 0;
    for (size_t i = 0; i < m->n_stored_fds; i++) {
        StoredFd *sf = &m->stored_fds[i];
        if (sf->fd >= 0) {
            /* No lease claims it: its vault goes stale (below), or its
             * entry goes. */
            log_notice("Closing fd '%s' from the fd store: no lease of ours needs it", sf->name);
            close(sf->fd);
            sf->fd = -1;
            unclaimed++;
        } else if (!sf->vault)
            moved++; /* a lease took it, and put it into a vault */
        if (!sf->vault) {
            store_remove(sf->name);
            changes++;
        }
    }
    free(m->stored_fds);
    m->stored_fds = NULL;
    m->n_stored_fds = 0;
    if (moved > 0)
        log_info("Moved %zu lease fds from entries of their own in the fd store into vaults", moved);
    for (size_t i = 0; s && i < s->n; i++) {
        Vault *v = s->vaults[i];
        if (v->n_live < v->n_records || v->n_live == 0 || v->writer < 0) {
            v->stale = true;
            changes++;
        }
    }
    fd_store_flush(s);
    if (changes > 0) {
        int r = sd_notify_barrier(false, SETTLE_TIMEOUT_USEC);
        if (r < 0)
            log_warning_errno(r, "systemd did not confirm the fd store changes (%zu fds no lease needed): %m",
                              unclaimed);
    }
}

void fd_store_free(Manager *m)
{
    FdStore *s = m->fd_store;
    if (!s)
        return;
    sd_event_source_disable_unref(s->settle_later);
    for (size_t i = 0; i < s->n; i++) {
        if (s->vaults[i]->writer >= 0)
            close(s->vaults[i]->writer);
        free(s->vaults[i]);
    }
    free(s->vaults);
    free(s);
    m->fd_store = NULL;
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

    fd_store_flush(m->fd_store);
    if (!m->have_fd_store)
        return fd_closer_settle(event, m, reply_to);
    /* What is changed so far is covered below: no second round for it. */
    (void) sd_event_source_set_enabled(m->fd_store->settle_later, SD_EVENT_OFF);
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
