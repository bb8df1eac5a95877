/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lease-vaults.h"

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

#include "lease.h"
#include "state.h"
#include "shared/log.h"
#include "shared/fault.h"
#include "shared/macro.h"

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

struct LeaseVaults {
    Vault **vaults;
    size_t n, allocated;
    unsigned next_id;
};

LeaseVaults *lease_vaults_new(void)
{
    return calloc(1, sizeof(LeaseVaults));
}

static int store_notify(const char *what, unsigned id, const char *end, int fd)
{
    char msg[128];
    snprintf(msg, sizeof(msg), "%s=1\nFDNAME=vault-%u-%s", what, id, end);
    return fd >= 0 ? sd_pid_notify_with_fds(0, false, msg, &fd, 1) : sd_notify(false, msg);
}

void lease_vaults_store_remove(const char *name)
{
    char msg[300];
    snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
    (void) sd_notify(false, msg);
}

/* Room for one more vault in s->vaults. */
static int vaults_grow(LeaseVaults *s)
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
static Vault *vault_new(LeaseVaults *s, const char *ns)
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
static void vault_drop(LeaseVaults *s, size_t i)
{
    Vault *v = s->vaults[i];
    (void) store_notify("FDSTOREREMOVE", v->id, "r", -1);
    (void) store_notify("FDSTOREREMOVE", v->id, "w", -1);
    for (size_t k = 0; k < v->n_slots; k++)
        if (v->members[k])
            v->members[k]->slot.vault = NULL;
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
    l->slot.vault = v;
    l->slot.index = v->n_slots;
    v->members[v->n_slots++] = l;
    v->n_live++;
    return true;
}

/* The newest vault of ns with room, or NULL. */
static Vault *vault_with_room(LeaseVaults *s, const char *ns)
{
    for (size_t i = s->n; i-- > 0;) {
        Vault *v = s->vaults[i];
        if (!v->full && v->writer >= 0 && v->n_records < VAULT_SIZE && v->n_slots < VAULT_SIZE &&
            streq(v->ns, ns))
            return v;
    }
    return NULL;
}

void lease_vaults_add(LeaseVaults *s, Lease *l)
{
    if (!s || l->fd < 0)
        return;
    if (l->slot.vault) {
        /* Came back in this vault at startup: its record is there already,
         * but maybe not the current one (lease_vaults_flush() makes it so). */
        Vault *back = l->slot.vault;
        l->slot.vault = NULL;
        if (!l->slot.record_current)
            back->stale = true;
        if (vault_attach(back, l))
            return;
        back->stale = true;
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

void lease_vaults_remove(LeaseVaults *s, Lease *l)
{
    Vault *v = l->slot.vault;
    if (!v)
        return;
    if (l->slot.index < v->n_slots && v->members[l->slot.index] == l) {
        v->members[l->slot.index] = NULL;
        v->n_live--;
    }
    v->stale = true;
    l->slot.vault = NULL;
}

/* A stale vault's live leases into a new vault, which is stored before the
 * old one is removed. On failure the old one stays (and stays stale). */
static void vault_rebuild(LeaseVaults *s, size_t i)
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

size_t lease_vaults_flush(LeaseVaults *s)
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
    size_t stale = 0;
    for (size_t i = 0; s && i < s->n; i++)
        stale += s->vaults[i]->stale;
    return stale;
}

/* The vault of this id among those coming back, made (without ends) if new. */
static Vault *vault_coming_back(LeaseVaults *s, unsigned id)
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
static int vault_read_back(Vault *v, int reader, lease_vaults_found_fn found, void *userdata)
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
        int r = found(userdata, name, fd, v, has_record ? &rec : NULL);
        if (r < 0)
            return r;
    }
}

int lease_vaults_take(LeaseVaults *s, lease_vaults_found_fn found, void *userdata)
{
    char **names = NULL;
    /* Without sd_listen_fds()'s own close-on-exec pass: that is two
     * fcntl() per fd, and 1,000 namespaces with leases are 2,000 vault
     * ends. The reading ends are closed below; the fds kept get it here. */
    int n = sd_listen_fds_with_names(false, &names);
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDNAMES");
    if (n < 0)
        return log_error_errno(n, "Cannot read the fds passed by systemd: %m");

    int r = 0;
    for (int i = 0; i < n; i++) {
        int fd = SD_LISTEN_FDS_START + i;
        const char *name = names && names[i] ? names[i] : "";
        unsigned id;
        char end = 0;
        int len = 0;
        bool is_vault = s && sscanf(name, "vault-%u-%c%n", &id, &end, &len) == 2 && name[len] == 0 &&
                        (end == 'r' || end == 'w');
        Vault *v = is_vault && r >= 0 ? vault_coming_back(s, id) : NULL;
        if (is_vault && r >= 0 && !v)
            /* Out of memory: a vault we cannot look at is not foreign.
             * Fail the start with the store as it is; systemd retries. */
            r = log_error_errno(-ENOMEM, "Cannot take vault %u back from the fd store: %m", id);
        if (v) {
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
            r = found(userdata, name, fd, NULL, NULL);
        } else {
            if (r >= 0) {
                log_notice("Closing fd '%s' from the fd store: not one of vsocknsd's", name);
                lease_vaults_store_remove(name);
            }
            close(fd);
        }
        free(names ? names[i] : NULL);
    }
    free(names);
    for (size_t k = 0; s && k < s->n; k++) {
        Vault *v = s->vaults[k];
        if (v->reader < 0)
            continue;
        int rr = r < 0 ? 0 : vault_read_back(v, v->reader, found, userdata);
        if (rr < 0)
            r = log_error_errno(rr, "Cannot read vault %u of the fd store: %m", v->id);
        close(v->reader); /* systemd keeps its copy */
        v->reader = -1;
    }
    return r < 0 ? r : n;
}

size_t lease_vaults_count(const LeaseVaults *s)
{
    return s ? s->n : 0;
}

void lease_vaults_adopted(LeaseVaults *s, size_t changes)
{
    for (size_t i = 0; s && i < s->n; i++) {
        Vault *v = s->vaults[i];
        if (v->n_live < v->n_records || v->n_live == 0 || v->writer < 0) {
            v->stale = true;
            changes++;
        }
    }
    lease_vaults_flush(s);
    if (changes > 0) {
        int r = sd_notify_barrier(false, LEASE_FDS_SETTLE_USEC);
        if (r < 0)
            log_warning_errno(r, "systemd did not confirm the fd store changes at startup: %m");
    }
}

LeaseVaults *lease_vaults_free(LeaseVaults *s)
{
    if (!s)
        return NULL;
    for (size_t i = 0; i < s->n; i++) {
        if (s->vaults[i]->writer >= 0)
            close(s->vaults[i]->writer);
        free(s->vaults[i]);
    }
    free(s->vaults);
    free(s);
    return NULL;
}

int lease_vaults_barrier(void)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0)
        return -errno;
    int r = sd_pid_notify_with_fds(0, false, "BARRIER=1", &fds[1], 1);
    close(fds[1]);
    if (r <= 0) {
        close(fds[0]);
        return r < 0 ? r : -ENOTCONN;
    }
    return fds[0];
}
