/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The lease half of the manager: acquire, release, reconcile after restarts. */
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

#include "errors.h"
#include "manager.h"
#include "netns.h"
#include "state.h"
#include "vhost.h"
#include "shared/log.h"
#include "shared/process.h"
#include "shared/macro.h"

static int real_reserve_cid(void *userdata, const char *pin_path, uint32_t cid)
{
    _cleanup_close_ int netns_fd = -1;
    if (pin_path) {
        netns_fd = netns_open(pin_path);
        if (netns_fd < 0)
            return netns_fd;
    }
    return vhost_reserve_cid(netns_fd, cid);
}

const LeaseKernelOps lease_kernel_ops_real = {
    .reserve_cid = real_reserve_cid,
};

static bool is_host(const char *ns)
{
    return streq(ns, NS_NAME_HOST);
}

/* The CID space of a namespace (".host": the global one); NULL if unknown. */
static CidSpace *space_of(Manager *m, const char *ns, bool create)
{
    if (is_host(ns))
        return m->global_space;
    Namespace *n = manager_find(m, ns);
    if (!n)
        return NULL;
    if (n->mode == VSOCK_MODE_GLOBAL || m->kernel_support == KERNEL_SUPPORT_NONE)
        return m->global_space;
    if (!n->space && create)
        n->space = cid_space_new(n->name);
    return n->space;
}

/* The LeaseSet of a namespace (".host": the host's); NULL if unknown. */
static LeaseSet *lease_set_of(Manager *m, const char *ns)
{
    if (is_host(ns))
        return &m->host_leases;
    Namespace *n = manager_find(m, ns);
    return n ? &n->leases : NULL;
}

static void pin_of(Manager *m, const char *ns, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", m->config.netns_dir, ns);
}

void lease_fd_name(const Lease *l, char *buf, size_t size)
{
    /* FDNAME allows no ':'; names never contain '-' before the CID digits. */
    snprintf(buf, size, "lease-%u-%s", l->rec.cid, l->rec.ns);
}

Lease *manager_find_lease(Manager *m, const char *ns, uint32_t cid)
{
    CidSpace *space = space_of(m, ns, false);
    if (!space)
        return NULL;
    void *v = cid_map_get(&space->map, cid);
    if (!v || v == CID_HELD_OUTSIDE)
        return NULL;
    Lease *l = v;
    return streq(l->rec.ns, ns) ? l : NULL;
}

static const char *describe_holder(const Lease *l, char *buf, size_t size)
{
    snprintf(buf, size, "leased to '%s' (uid %u) in %s", l->rec.owner, (unsigned) l->rec.uid, l->rec.ns);
    return buf;
}

int manager_check_lease_request(Manager *m, const LeaseRequest *req, ManagerError *e)
{
    if (!is_host(req->ns) && !manager_find(m, req->ns))
        return manager_error_set(e, -ENOENT, BUS_ERROR_NO_SUCH_NAMESPACE,
                           "No namespace '%.64s' managed by vsockns (use \".host\" for the host).", req->ns);
    if (req->cid != 0 && (req->cid < CID_MIN || req->cid > CID_MAX))
        return manager_error_set(e, -EINVAL, BUS_ERROR_INVALID_CID,
                           "CID %u cannot be a guest CID: 0 means 'pick one', 1 and 2 are the local and "
                           "host CIDs, 4294967295 is 'any'.", req->cid);
    const char *problem = lease_owner_problem(req->owner);
    if (problem)
        return manager_error_set(e, -EINVAL, BUS_ERROR_INVALID_OWNER, "Owner label refused: %s.", problem);
    if (lease_strategy_from_string(req->strategy) == LEASE_STRATEGY_INVALID)
        return manager_error_set(e, -EINVAL, BUS_ERROR_INVALID_OPTION,
                           "Unknown strategy '%.32s': use 'lowest', 'random' or 'stable'.", req->strategy);
    if (req->bind_pid < 0)
        return manager_error_set(e, -EINVAL, BUS_ERROR_INVALID_OPTION, "BindPID must be a process ID.");
    if (m->n_leases >= m->leases_max)
        return manager_error_set(e, -E2BIG, BUS_ERROR_LIMIT_REACHED,
                           "vsockns already holds %zu leases, its limit; release some first.", m->n_leases);
    return 0;
}

/* Opens a pidfd for the bind options and records what identifies the
 * process across a restart of the daemon. */
static int bind_process(const LeaseRequest *req, Lease *l, ManagerError *e)
{
    pid_t pid = req->bind_pid;
    int fd = -1;

    if (req->bind_pidfd >= 0) {
        fd = fcntl(req->bind_pidfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
            return manager_error_set(e, -errno, BUS_ERROR_INVALID_OPTION, "Cannot use BindPIDFD: %s.", strerror(errno));
        pid = pidfd_get_pid(fd);
        if (pid <= 0) {
            close(fd);
            return manager_error_set(e, -EBADF, BUS_ERROR_INVALID_OPTION, "BindPIDFD is not a pidfd of a live process.");
        }
    } else if (pid > 0) {
        fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
            return manager_error_set(e, -errno, BUS_ERROR_INVALID_OPTION, "BindPID %d: no such process.", (int) pid);
    } else
        return 0;

    l->bind_pidfd = fd;
    l->rec.bind_pid = pid;
    l->rec.bind_start_time = process_start_time(pid);
    return 0;
}

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Asks the kernel for cid in the request's namespace. */
static int reserve(Manager *m, const LeaseRequest *req, uint32_t cid)
{
    char pin[PATH_MAX];
    pin_of(m, req->ns, pin, sizeof(pin));
    return m->kernel->reserve_cid(m->kernel_userdata, is_host(req->ns) ? NULL : pin, cid);
}

static int kernel_error(ManagerError *e, int r, uint32_t cid, const char *ns)
{
    if (r == -ENOENT || r == -ENODEV)
        return manager_error_set(e, -EOPNOTSUPP, BUS_ERROR_NOT_SUPPORTED,
                           "There is no /dev/vhost-vsock here (modprobe vhost_vsock): only advisory leases "
                           "(Reserve=false) work without it.");
    return manager_error_set(e, r, BUS_ERROR_KERNEL, "Cannot reserve CID %u in %s: %s.", cid, ns, strerror(-r));
}

static int acquire_explicit(Manager *m, const LeaseRequest *req, CidSpace *space, int *ret_fd, ManagerError *e)
{
    void *holder = cid_map_get(&space->map, req->cid);
    char buf[512];
    if (holder && holder != CID_HELD_OUTSIDE)
        return manager_error_set(e, -EADDRINUSE, BUS_ERROR_CID_IN_USE, "CID %u is %s.", req->cid,
                           describe_holder(holder, buf, sizeof(buf)));
    *ret_fd = -1;
    if (!req->reserve) {
        /* Advisory: someone else holds it, which is what we may have seen. */
        if (holder)
            cid_map_remove(&space->map, req->cid);
        return 0;
    }
    /* Even a CID seen busy before may be free now: the kernel decides. */
    int fd = reserve(m, req, req->cid);
    if (fd == -EADDRINUSE) {
        if (!holder)
            cid_map_put(&space->map, req->cid, CID_HELD_OUTSIDE);
        return manager_error_set(e, fd, BUS_ERROR_CID_IN_USE,
                           "CID %u is held outside vsockns in the CID space of %s (a VM or program that did "
                           "not lease it).", req->cid, req->ns);
    }
    if (fd < 0)
        return kernel_error(e, fd, req->cid, req->ns);
    if (holder)
        cid_map_remove(&space->map, req->cid);
    *ret_fd = fd;
    return 0;
}

/* Walks the free CIDs of the space from the strategy's start; each one the
 * kernel reports busy is remembered and skipped. */
static int acquire_auto(Manager *m, const LeaseRequest *req, CidSpace *space, uint32_t *ret_cid, int *ret_fd,
                        ManagerError *e)
{
    uint32_t cid = cid_map_next_free(&space->map, lease_pick_start(lease_strategy_from_string(req->strategy),
                                                                   req->owner));
    for (unsigned busy = 0; cid != 0; busy++) {
        if (busy >= LEASE_BUSY_SKIP_MAX)
            return manager_error_set(e, -ENOSPC, BUS_ERROR_NO_FREE_CID,
                               "Gave up after %u CIDs held outside vsockns in the CID space of %s; ask for a "
                               "specific CID.", busy, req->ns);
        *ret_fd = -1;
        if (!req->reserve) {
            *ret_cid = cid;
            return 0;
        }
        int fd = reserve(m, req, cid);
        if (fd >= 0) {
            *ret_fd = fd;
            *ret_cid = cid;
            return 0;
        }
        if (fd != -EADDRINUSE)
            return kernel_error(e, fd, cid, req->ns);
        log_info("CID %u in the CID space of %s is held outside vsockns; skipping it", cid, req->ns);
        int r = cid_map_put(&space->map, cid, CID_HELD_OUTSIDE);
        if (r < 0)
            return manager_error_set(e, r, NULL, "Out of memory.");
        cid = cid_map_next_free(&space->map, cid == CID_MAX ? CID_MIN : cid + 1);
    }
    return manager_error_set(e, -ENOSPC, BUS_ERROR_NO_FREE_CID, "No free CID left in the CID space of %s.", req->ns);
}

int manager_acquire_lease(Manager *m, const LeaseRequest *req, Lease **ret, ManagerError *e)
{
    int r = manager_check_lease_request(m, req, e);
    if (r < 0)
        return r;
    CidSpace *space = space_of(m, req->ns, true);
    if (!space)
        return manager_error_set(e, -ENOMEM, NULL, "Out of memory.");

    Lease *l = calloc(1, sizeof(Lease));
    if (!l)
        return manager_error_set(e, -ENOMEM, NULL, "Out of memory.");
    *l = (Lease) { .space = space, .fd = -1, .bind_pidfd = -1 };
    r = bind_process(req, l, e);
    if (r >= 0)
        r = req->cid ? acquire_explicit(m, req, space, &l->fd, e) : acquire_auto(m, req, space, &l->rec.cid, &l->fd, e);
    if (req->cid)
        l->rec.cid = req->cid;
    LeaseSet *set = lease_set_of(m, req->ns);
    if (r >= 0)
        r = cid_map_put(&space->map, l->rec.cid, l);
    if (r >= 0) {
        r = lease_set_add(set, l);
        if (r < 0)
            cid_map_remove(&space->map, l->rec.cid);
    }
    if (r < 0) {
        if (l->fd >= 0)
            close(l->fd);
        if (l->bind_pidfd >= 0)
            close(l->bind_pidfd);
        free(l);
        return e && e->message[0] ? r : manager_error_set(e, r, NULL, "Cannot record the lease: %s.", strerror(-r));
    }

    snprintf(l->rec.ns, sizeof(l->rec.ns), "%s", req->ns);
    snprintf(l->rec.owner, sizeof(l->rec.owner), "%s", req->owner);
    l->rec.uid = req->uid;
    l->rec.pid = req->pid;
    l->rec.acquired_usec = now_usec();
    l->rec.reserved = req->reserve;
    m->n_leases++;
    r = lease_record_save(m->config.state_dir, &l->rec);
    if (r < 0)
        log_warning_errno(r, "Cannot record lease %u in %s on disk, it will not survive a restart: %m",
                          l->rec.cid, l->rec.ns);
    log_info("Leased CID %u in %s to '%s'%s", l->rec.cid, l->rec.ns, l->rec.owner,
             l->rec.reserved ? "" : " (advisory)");
    if (m->on_lease_added)
        m->on_lease_added(m, l, NULL, m->userdata);
    if (ret)
        *ret = l;
    return 0;
}

void manager_drop_lease(Manager *m, Lease *l, const char *why)
{
    cid_map_remove(&l->space->map, l->rec.cid);
    lease_set_remove(lease_set_of(m, l->rec.ns), l);
    m->n_leases--;
    log_info("Released CID %u in %s ('%s'): %s", l->rec.cid, l->rec.ns, l->rec.owner, why);
    /* The callback still sees the fds: it removes them from the fd store. */
    if (m->on_lease_removed)
        m->on_lease_removed(m, l, why, m->userdata);
    if (l->fd >= 0)
        close(l->fd);
    if (l->bind_pidfd >= 0)
        close(l->bind_pidfd);
    lease_record_remove(m->config.state_dir, &l->rec);
    free(l);
}

int manager_release_lease(Manager *m, const char *ns, uint32_t cid, uid_t caller, ManagerError *e)
{
    if (!is_host(ns) && !manager_find(m, ns))
        return manager_error_set(e, -ENOENT, BUS_ERROR_NO_SUCH_NAMESPACE, "No namespace '%.64s' managed by vsockns.", ns);
    Lease *l = manager_find_lease(m, ns, cid);
    if (!l)
        return manager_error_set(e, -ENOENT, BUS_ERROR_NO_SUCH_LEASE, "No lease of CID %u in %.64s.", cid, ns);
    if (caller != 0 && caller != l->rec.uid)
        return manager_error_set(e, -EPERM, BUS_ERROR_ACCESS_DENIED,
                           "CID %u in %s is leased by uid %u; only that user or root may release it.", cid, ns,
                           (unsigned) l->rec.uid);
    manager_drop_lease(m, l, "released");
    return 0;
}

static int foreach_in_set(const LeaseSet *set, int (*fn)(Lease *l, void *userdata), void *userdata)
{
    Lease **sorted;
    size_t n;
    int r = lease_set_sorted(set, &sorted, &n);
    for (size_t i = 0; r >= 0 && i < n; i++)
        r = fn(sorted[i], userdata);
    free(sorted);
    return r;
}

int manager_foreach_lease(Manager *m, const char *ns, int (*fn)(Lease *l, void *userdata), void *userdata)
{
    if (ns && ns[0]) {
        LeaseSet *set = lease_set_of(m, ns);
        return set ? foreach_in_set(set, fn, userdata) : 0;
    }
    int r = foreach_in_set(&m->host_leases, fn, userdata);
    for (size_t i = 0; r >= 0 && i < m->n_namespaces; i++)
        r = foreach_in_set(&m->namespaces[i].leases, fn, userdata);
    return r;
}

size_t manager_namespace_lease_count(Manager *m, const Namespace *ns)
{
    return ns->leases.n;
}

static int drop_one(Lease *l, void *userdata)
{
    Manager *m = ((void **) userdata)[0];
    manager_drop_lease(m, l, ((void **) userdata)[1]);
    return 0;
}

void manager_drop_namespace_leases(Manager *m, const char *ns, const char *why)
{
    LeaseSet *set = lease_set_of(m, ns);
    size_t n = set ? set->n : 0;
    void *args[2] = { m, (void *) why };
    m->dropping_many = true;
    /* foreach works on a sorted copy: dropping while it walks is fine. */
    manager_foreach_lease(m, ns, drop_one, args);
    m->dropping_many = false;
    if (n > 0 && m->on_leases_flushed)
        m->on_leases_flushed(m, m->userdata);
}

static void free_unadopted(Lease *l)
{
    if (l->fd >= 0)
        close(l->fd);
    if (l->bind_pidfd >= 0)
        close(l->bind_pidfd);
    free(l);
}

static int take_stored_fd(Manager *m, const Lease *l)
{
    char name[256];
    lease_fd_name(l, name, sizeof(name));
    for (size_t i = 0; i < m->n_stored_fds; i++)
        if (m->stored_fds[i].fd >= 0 && streq(m->stored_fds[i].name, name))
            return TAKE_FD(m->stored_fds[i].fd);
    return -1;
}

/* Decides whether a lease of an earlier run still stands. Returns NULL with
 * a reason in *why when it does not. */
static Lease *adopt_lease(Manager *m, const LeaseRecord *rec, const char **why)
{
    if (!is_host(rec->ns) && !manager_find(m, rec->ns)) {
        *why = "its namespace is gone";
        return NULL;
    }
    CidSpace *space = space_of(m, rec->ns, true);
    if (!space || cid_map_get(&space->map, rec->cid)) {
        *why = "another lease holds that CID";
        return NULL;
    }
    Lease *l = calloc(1, sizeof(Lease));
    if (!l) {
        *why = "out of memory";
        return NULL;
    }
    *l = (Lease) { .rec = *rec, .space = space, .bind_pidfd = -1 };
    l->fd = take_stored_fd(m, l);

    if (rec->bind_pid > 0) {
        uint64_t start = process_start_time(rec->bind_pid);
        if (start == 0 || start != rec->bind_start_time)
            *why = "the process it was bound to has exited";
        else if ((l->bind_pidfd = (int) syscall(SYS_pidfd_open, rec->bind_pid, 0)) < 0)
            *why = "the process it was bound to has exited";
        if (l->bind_pidfd < 0)
            goto drop;
    }
    if (rec->reserved && l->fd < 0) {
        /* No fd came back (no fd store): ask the kernel whether anyone
         * still holds the CID, e.g. the client's copy of our fd. */
        LeaseRequest probe = { .ns = rec->ns };
        int fd = reserve(m, &probe, rec->cid);
        if (fd >= 0) {
            close(fd);
            *why = "the kernel no longer holds its CID";
            goto drop;
        }
        log_info("Lease of CID %u in %s: our fd is gone, but the CID is still held (by the client's copy)",
                 rec->cid, rec->ns);
    }
    return l;

drop:
    free_unadopted(l);
    return NULL;
}

int manager_reconcile_leases(Manager *m, const LeaseRecord *records, size_t n)
{
    if (!m->have_fd_store && n > 0)
        log_notice("No systemd fd store: reserved CIDs survive this restart only where a client still holds "
                   "its copy of the fd.");
    for (size_t i = 0; i < n; i++) {
        const char *why = "invalid";
        Lease *l = adopt_lease(m, &records[i], &why);
        if (!l) {
            log_notice("Dropping lease of CID %u in %s ('%s'): %s", records[i].cid, records[i].ns,
                       records[i].owner, why);
            lease_record_remove(m->config.state_dir, &records[i]);
            continue;
        }
        if (cid_map_put(&l->space->map, l->rec.cid, l) < 0) {
            free_unadopted(l);
            continue;
        }
        if (lease_set_add(lease_set_of(m, l->rec.ns), l) < 0) {
            cid_map_remove(&l->space->map, l->rec.cid);
            free_unadopted(l);
            continue;
        }
        m->n_leases++;
        log_info("Re-adopted lease of CID %u in %s ('%s'%s)", l->rec.cid, l->rec.ns, l->rec.owner,
                 l->fd >= 0 ? ", fd from the fd store" : "");
        if (m->on_lease_added)
            m->on_lease_added(m, l, "adopted", m->userdata);
    }
    return 0;
}

typedef struct CidList {
    uint32_t *cids;
    size_t n;
} CidList;

static int collect_held_outside(uint32_t cid, void *value, void *userdata)
{
    CidList *list = userdata;
    if (value != CID_HELD_OUTSIDE)
        return 0;
    uint32_t *grown = realloc(list->cids, (list->n + 1) * sizeof(uint32_t));
    if (!grown)
        return -ENOMEM;
    list->cids = grown;
    list->cids[list->n++] = cid;
    return 0;
}

/* pin: the namespace to ask in (NULL: the host, for the global space). */
static size_t recheck_space(Manager *m, CidSpace *space, const char *pin)
{
    CidList list = {};
    size_t freed = 0;
    cid_map_foreach(&space->map, collect_held_outside, &list);
    for (size_t i = 0; i < list.n; i++) {
        int fd = m->kernel->reserve_cid(m->kernel_userdata, pin, list.cids[i]);
        if (fd < 0)
            continue;
        close(fd);
        cid_map_remove(&space->map, list.cids[i]);
        freed++;
    }
    free(list.cids);
    return freed;
}

size_t manager_recheck_held_outside(Manager *m)
{
    size_t freed = recheck_space(m, m->global_space, NULL);
    for (size_t i = 0; i < m->n_namespaces; i++) {
        char pin[PATH_MAX];
        if (!m->namespaces[i].space)
            continue;
        pin_of(m, m->namespaces[i].name, pin, sizeof(pin));
        freed += recheck_space(m, m->namespaces[i].space, pin);
    }
    if (freed > 0)
        log_info("%zu CIDs held outside vsockns are free again", freed);
    return freed;
}
