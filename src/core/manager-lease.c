/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lease half of the manager: acquire, release, reconcile after
 * restarts. Uses the namespaces (namespace-table.h) but never the rest of
 * manager.c, which calls in here; devices are lease-fds.h's to keep.
 */
#include <fcntl.h>
#include <malloc.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>

#include "errors.h"
#include "lease-fds.h"
#include "manager.h"
#include "ns-worker.h"
#include "netns.h"
#include "state.h"
#include "vhost.h"
#include "shared/events.h"
#include "shared/log.h"
#include "shared/process.h"
#include "shared/fault.h"
#include "shared/macro.h"

/* userdata: the Manager (manager_new() sets it with these ops). */
static int real_reserve_cid(void *userdata, const char *ns, int netns_fd, uint32_t cid)
{
    Manager *m = userdata;
    /* -1 means the host to vhost_reserve_cid(): never for a namespace. */
    if (ns && netns_fd < 0)
        return -EBADF;
    int unused;
    int r = vhost_reserve_cid(m->workers, netns_fd, cid, &unused);
    lease_fds_discard(m->fds, unused);
    return r;
}

const LeaseKernelOps lease_kernel_ops_real = {
    .reserve_cid = real_reserve_cid,
};

static bool is_host(const char *ns)
{
    return streq(ns, NS_NAME_HOST);
}

/* A managed namespace by name (not one still being created), or NULL. */
static Namespace *namespace_of(Manager *m, const char *ns)
{
    Namespace *n = ns_table_find(&m->namespaces, ns);
    return n && !n->pending ? n : NULL;
}

static void lease_released(void *userdata, const char *space_key, uint32_t cid, uint64_t retake_id);

/* Here rather than in manager.c, which calls in here, never the reverse. */
bool manager_namespace_pinned(Manager *m, const Namespace *ns)
{
    return netns_pin_holds(m->netns, m->netns_userdata, m->config.netns_dir, ns->name,
                           &(NetnsId) { .dev = ns->dev, .ino = ns->inode });
}

int manager_attach_event(Manager *m, sd_event *event, LeaseFdsMode mode)
{
    int r = lease_fds_new(event, mode, lease_released, m, &m->fds);
    if (r >= 0)
        r = ns_workers_attach_event(m->workers, event);
    if (r < 0)
        return r;
    m->event = sd_event_ref(event);
    return 0;
}

static int on_bound_process_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    Lease *l = userdata;
    manager_bound_process_exited(l->manager, l);
    return 0;
}

/* Watches the process a lease is bound to (its pidfd turns readable when
 * it exits), on the manager's loop; without one, whoever runs the manager
 * calls manager_bound_process_exited() (tests). */
static void watch_bound_process(Manager *m, Lease *l)
{
    if (!m->event || l->bind_pidfd < 0 || l->watch)
        return;
    int r = sd_event_add_io(m->event, &l->watch, l->bind_pidfd, EPOLLIN, on_bound_process_exit, l);
    if (r < 0)
        log_warning_errno(r, "Cannot watch the process of lease %u in %s: %m", l->rec.cid, l->rec.ns);
}

/* Stops watching and closes the pidfd, in that order. */
static void unbind_process(Lease *l)
{
    l->watch = sd_event_source_disable_unref(l->watch);
    if (l->bind_pidfd >= 0)
        close(l->bind_pidfd);
    l->bind_pidfd = -1;
}

/* The CID space of a namespace (".host": the global one); NULL if unknown. */
static CidSpace *space_of(Manager *m, const char *ns, bool create)
{
    if (is_host(ns))
        return m->global_space;
    Namespace *n = namespace_of(m, ns);
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
    Namespace *n = namespace_of(m, ns);
    return n ? &n->leases : NULL;
}

/* The namespace fd to reserve in: -1 for the host (ns NULL). */
static int netns_fd_of(Manager *m, const char *ns)
{
    if (is_host(ns))
        return -1;
    Namespace *n = namespace_of(m, ns);
    return n ? n->fd : -1;
}

Lease *manager_find_lease(Manager *m, const char *ns, uint32_t cid)
{
    CidSpace *space = space_of(m, ns, false);
    if (!space)
        return NULL;
    Lease *l = cid_map_value_lease(cid_map_get(&space->map, cid));
    return l && streq(l->rec.ns, ns) ? l : NULL;
}

static EventFields lease_fields(const Lease *l)
{
    return (EventFields) { .ns = l->rec.ns, .cid = l->rec.cid, .owner = l->rec.owner, .has_uid = true,
                           .uid = l->rec.uid };
}

/* Who holds l, as told to viewer: root and the holder itself learn the
 * label, uid and namespace; anyone else only that the CID is taken (need
 * to know: other users' labels and uids are not theirs to see). */
static const char *describe_holder(const Lease *l, uid_t viewer, char *buf, size_t size)
{
    if (viewer == 0 || viewer == l->rec.uid)
        snprintf(buf, size, "leased to '%s' (uid %u) in %s", l->rec.owner, (unsigned) l->rec.uid, l->rec.ns);
    else
        snprintf(buf, size, "leased to another user in this CID space");
    return buf;
}

int manager_check_lease_request(Manager *m, const LeaseRequest *req, ManagerError *e)
{
    if (!is_host(req->ns) && !namespace_of(m, req->ns))
        return manager_no_such_namespace(e, req->ns, true);
    if (req->cid != 0 && (req->cid < CID_MIN || req->cid > CID_MAX))
        return manager_error_set(e, -EINVAL, ERROR_INVALID_CID,
                           "CID %u cannot be a guest CID: 0 means 'pick one', 1 and 2 are the local and "
                           "host CIDs, 4294967295 is 'any'.", req->cid);
    const char *problem = lease_owner_problem(req->owner);
    if (problem)
        return manager_error_set(e, -EINVAL, ERROR_INVALID_OWNER, "Owner label refused: %s.", problem);
    if (req->uid != 0 && lease_owner_root_only(req->owner))
        return manager_error_set(e, -EPERM, ERROR_INVALID_OWNER,
                                 "Owner label refused: labels beginning '%s' are the libvirt hook's, which runs "
                                 "as root; choose another.", LEASE_OWNER_ROOT_PREFIX);
    if (lease_strategy_from_string(req->strategy) == LEASE_STRATEGY_INVALID)
        return manager_error_set(e, -EINVAL, ERROR_INVALID_OPTION,
                           "Unknown strategy '%.32s': use 'lowest', 'random' or 'stable'.", req->strategy);
    if (req->bind_pid < 0)
        return manager_error_set(e, -EINVAL, ERROR_INVALID_OPTION, "BindPID must be a process ID.");
    if (m->n_leases >= m->leases_max)
        return manager_error_set(e, -E2BIG, ERROR_LIMIT_REACHED,
                           "vsockns already holds %zu leases, its limit; release some first.", m->n_leases);
    return 0;
}

/* Opens a pidfd for the bind options and records what identifies the
 * process across a restart of the daemon. */
static int bind_process(const LeaseRequest *req, Lease *l, ManagerError *e)
{
    pid_t pid = req->bind_pid;
    int fd = -1;

    /* A device handed out is bound to its caller unless another process
     * is named: when that process exits, no copy of ours may keep the
     * device (and through it a dead VM's memory) alive. */
    if (req->reserve && req->hand_out && req->bind_pidfd < 0 && pid == 0)
        pid = req->pid;

    if (req->bind_pidfd >= 0) {
        fd = fcntl(req->bind_pidfd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
            return manager_error_set(e, -errno, ERROR_INVALID_OPTION, "Cannot use BindPIDFD: %s.", strerror(errno));
        pid = pidfd_get_pid(fd);
        if (pid <= 0) {
            close(fd);
            return manager_error_set(e, -EBADF, ERROR_INVALID_OPTION, "BindPIDFD is not a pidfd of a live process.");
        }
    } else if (pid > 0) {
        fd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (fd < 0)
            return manager_error_set(e, -errno, ERROR_INVALID_OPTION, "BindPID %d: no such process.", (int) pid);
    } else
        return 0;

    uid_t owner;
    if (req->uid != 0 && (process_uid(pid, &owner) < 0 || owner != req->uid)) {
        close(fd);
        return manager_error_set(e, -EPERM, ERROR_ACCESS_DENIED,
                           "Process %d is not yours: a lease can only be bound to a process of its user.", (int) pid);
    }
    l->bind_pidfd = fd;
    l->rec.bind_pid = pid;
    l->rec.bind_start_time = process_start_time(pid);
    return 0;
}

/* A reservation that failed because the namespace worker did (past its
 * deadline, gone, or not gone after the kill), not the kernel's answer:
 * a batch of them stops there rather than wait that long for each. */
static bool worker_failed(int r)
{
    return r == -ETIMEDOUT || r == -EINPROGRESS || r == -EPROTO;
}

/* Asks the kernel for cid in the request's namespace. */
static int reserve(Manager *m, const LeaseRequest *req, uint32_t cid)
{
    /* By the fd we hold, never by /run/netns/NAME, which anyone with root
     * can replace at any moment. */
    return m->kernel->reserve_cid(m->kernel_userdata, is_host(req->ns) ? NULL : req->ns, netns_fd_of(m, req->ns), cid);
}

static int kernel_error(ManagerError *e, int r, uint32_t cid, const char *ns)
{
    if (r == -ENOENT || r == -ENODEV)
        return manager_error_set(e, -EOPNOTSUPP, ERROR_NOT_SUPPORTED,
                           "There is no /dev/vhost-vsock here (modprobe vhost_vsock): only advisory leases "
                           "(Reserve=false) work without it.");
    if (r == -ETIMEDOUT)
        return manager_error_set(e, r, ERROR_KERNEL,
                                 "Cannot reserve CID %u in %s: the namespace worker opening %s there did not "
                                 "answer within %d s (a stalled kernel, or an overloaded machine); nothing was "
                                 "leased, try again.",
                                 cid, ns, VHOST_VSOCK_DEVICE, NETNS_OPEN_TIMEOUT_MS / 1000);
    if (worker_failed(r))
        return manager_error_set(e, r, ERROR_KERNEL,
                                 "Cannot reserve CID %u in %s: the namespace worker opening %s there failed "
                                 "(%s); nothing was leased, try again.",
                                 cid, ns, VHOST_VSOCK_DEVICE, strerror(-r));
    return manager_error_set(e, r, ERROR_KERNEL, "Cannot reserve CID %u in %s: %s.", cid, ns, strerror(-r));
}

/* Remembers a CID the kernel reported busy that no lease of ours holds,
 * up to LEASE_HELD_OUTSIDE_MAX per space. */
static void held_outside_mark(CidSpace *space, uint32_t cid)
{
    if (space->n_held_outside < LEASE_HELD_OUTSIDE_MAX && cid_map_put(&space->map, cid, CID_HELD_OUTSIDE) == 0)
        space->n_held_outside++;
}

/* Forgets a marker (held outside, or releasing) at cid. */
static void marker_clear(CidSpace *space, uint32_t cid)
{
    if (cid_map_remove(&space->map, cid) == CID_HELD_OUTSIDE)
        space->n_held_outside--;
}

static int acquire_explicit(Manager *m, const LeaseRequest *req, CidSpace *space, int *ret_fd, ManagerError *e)
{
    void *holder = cid_map_get(&space->map, req->cid);
    char buf[512];
    if (cid_map_value_lease(holder))
        return manager_error_set(e, -EADDRINUSE, ERROR_CID_IN_USE, "CID %u is %s.", req->cid,
                           describe_holder(holder, req->uid, buf, sizeof(buf)));
    *ret_fd = -1;
    if (!req->reserve) {
        /* Advisory: someone else holds it, which is what we may have seen. */
        if (holder)
            marker_clear(space, req->cid);
        return 0;
    }
    /* Even a CID seen busy before may be free now: the kernel decides. */
    int fd = reserve(m, req, req->cid);
    if (fd == -EADDRINUSE && holder == CID_RELEASING)
        return manager_error_set(e, fd, ERROR_CID_IN_USE,
                           "CID %u in the CID space of %s was released a moment ago and its device is not "
                           "closed yet (%s); try again.", req->cid, req->ns,
                           lease_fds_mode(m->fds) == LEASE_FDS_FD_STORE ? "systemd's fd store still holds it"
                                                                        : "vsocknsd is closing it");
    if (fd == -EADDRINUSE) {
        if (!holder)
            held_outside_mark(space, req->cid);
        return manager_error_set(e, fd, ERROR_CID_IN_USE,
                           "CID %u is held outside vsockns in the CID space of %s (a VM or program that did "
                           "not lease it).", req->cid, req->ns);
    }
    if (fd < 0)
        return kernel_error(e, fd, req->cid, req->ns);
    if (holder)
        marker_clear(space, req->cid);
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
            return manager_error_set(e, -ENOSPC, ERROR_NO_FREE_CID,
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
        held_outside_mark(space, cid);
        cid = cid_map_next_free(&space->map, cid == CID_MAX ? CID_MIN : cid + 1);
    }
    return manager_error_set(e, -ENOSPC, ERROR_NO_FREE_CID, "No free CID left in the CID space of %s.", req->ns);
}

int manager_acquire_lease(Manager *m, const LeaseRequest *req, Lease **ret, ManagerError *e)
{
    int r = manager_check_lease_request(m, req, e);
    if (r < 0)
        return r;
    /* By the fd we hold, but never in a namespace whose pin was swapped
     * behind our back: the caller decides (manager_forget_if_unpinned()). */
    if (!is_host(req->ns) && !manager_namespace_pinned(m, namespace_of(m, req->ns)))
        return manager_error_set(e, -ENOENT, ERROR_NO_SUCH_NAMESPACE,
                                 "Namespace '%.64s' was removed behind vsockns's back.", req->ns);
    CidSpace *space = space_of(m, req->ns, true);
    if (!space)
        return manager_error_set(e, -ENOMEM, ERROR_NONE, "Out of memory.");

    Lease *l = calloc(1, sizeof(Lease));
    if (!l)
        return manager_error_set(e, -ENOMEM, ERROR_NONE, "Out of memory.");
    *l = (Lease) { .id = ++m->last_lease_id, .space = space, .fd = -1, .bind_pidfd = -1, .manager = m };
    r = bind_process(req, l, e);
    if (r >= 0)
        r = req->cid ? acquire_explicit(m, req, space, &l->fd, e) : acquire_auto(m, req, space, &l->rec.cid, &l->fd, e);
    if (req->cid)
        l->rec.cid = req->cid;
    if (r >= 0 && l->fd >= 0)
        FAULT_POINT("after-set-guest-cid");
    if (r >= 0) {
        snprintf(l->rec.ns, sizeof(l->rec.ns), "%s", req->ns);
        snprintf(l->rec.owner, sizeof(l->rec.owner), "%s", req->owner);
        l->rec.uid = req->uid;
        l->rec.pid = req->pid;
        l->rec.acquired_usec = clock_usec(CLOCK_REALTIME);
        l->rec.reserved = req->reserve;
        l->rec.persist = req->persist && req->reserve;
        /* A lease that would not survive a restart is not granted: its fd
         * would come back from the fd store with no record, and be dropped. */
        r = lease_record_save(m->config.state_dir, &l->rec);
        if (r < 0)
            /* Named: out of fds (vsocknsd's limit) or of room under /run. */
            manager_error_set(e, r, r == -EMFILE || r == -ENFILE ? ERROR_LIMIT_REACHED : ERROR_KERNEL,
                              "Cannot record the lease of CID %u in %s under %s: %s; nothing was kept.",
                              l->rec.cid, req->ns, m->config.state_dir, strerror(-r));
        else
            FAULT_POINT("after-state-write");
    }
    LeaseSet *set = lease_set_of(m, req->ns);
    bool saved = r >= 0;
    if (r >= 0)
        r = cid_map_put(&space->map, l->rec.cid, l);
    if (r >= 0) {
        r = lease_set_add(set, l);
        if (r < 0)
            cid_map_remove(&space->map, l->rec.cid);
    }
    if (r < 0) {
        if (saved)
            lease_record_remove(m->config.state_dir, &l->rec);
        lease_fds_discard(m->fds, l->fd);
        if (l->bind_pidfd >= 0)
            close(l->bind_pidfd);
        free(l);
        return e && e->message[0] ? r
                                  : manager_error_set(e, r, ERROR_NONE, "Cannot record the lease: %s.", strerror(-r));
    }
    m->n_leases++;
    lease_fds_keep(m->fds, l);
    watch_bound_process(m, l);
    log_event(LOG_INFO, EVENT_LEASE_ACQUIRED,
              lease_fields(l),
              "Leased CID %u in %s to '%s'%s", l->rec.cid, l->rec.ns, l->rec.owner,
              l->rec.reserved ? "" : " (advisory)");
    if (m->on_lease_added)
        m->on_lease_added(m, l, NULL, m->userdata);
    if (ret)
        *ret = l;
    return 0;
}

static void retake(Manager *m, Lease *l, const char *why);

/* A CID space by its key: "" the global one, else a local namespace's
 * (NULL once that namespace, and its space, are gone). */
static CidSpace *space_by_key(Manager *m, const char *key)
{
    if (!key[0])
        return m->global_space;
    Namespace *n = namespace_of(m, key);
    return n ? n->space : NULL;
}

/* lease-fds: a ticket is done. */
static void lease_released(void *userdata, const char *space_key, uint32_t cid, uint64_t retake_id)
{
    Manager *m = userdata;
    CidSpace *space = space_by_key(m, space_key);
    void *v = space ? cid_map_get(&space->map, cid) : NULL;
    /* The namespace may be gone (a global one's CIDs are in the global
     * space all the same), the CID taken again, the lease released
     * meanwhile: only that very lease takes its CID again. */
    if (!retake_id && v == CID_RELEASING)
        cid_map_remove(&space->map, cid);
    Lease *l = cid_map_value_lease(v);
    if (retake_id && l && l->id == retake_id && l->fd < 0) {
        l->retake_ticket = 0;
        retake(m, l, "the process it was bound to exited");
    }
}

/* Takes the CID of a persistent lease again on a fresh device; if someone
 * else was faster, the lease is lost and ends. */
static void retake(Manager *m, Lease *l, const char *why)
{
    LeaseRequest probe = { .ns = l->rec.ns };
    int fd = reserve(m, &probe, l->rec.cid);
    if (fd >= 0) {
        l->fd = fd;
        lease_fds_keep(m->fds, l);
        log_event(LOG_NOTICE, EVENT_LEASE_MOVED,
                  lease_fields(l),
                  "Took CID %u in %s ('%s') again on a fresh device: %s", l->rec.cid, l->rec.ns, l->rec.owner, why);
        if (m->on_lease_fd)
            m->on_lease_fd(m, l, LEASE_FD_RETAKEN, why, m->userdata);
        return;
    }
    log_event(LOG_WARNING, EVENT_LEASE_LOST,
              lease_fields(l),
              "Lost CID %u in %s ('%s'): it could not be taken again (%s) after %s", l->rec.cid, l->rec.ns,
              l->rec.owner, strerror(-fd), why);
    if (m->on_lease_fd)
        m->on_lease_fd(m, l, LEASE_FD_LOST, why, m->userdata);
    manager_drop_lease(m, l, "lost: its CID could not be taken again");
}

void manager_bound_process_exited(Manager *m, Lease *l)
{
    const char *why = "the process it was bound to exited";
    if (!l->rec.persist || !l->rec.reserved) {
        manager_drop_lease(m, l, why);
        return;
    }
    unbind_process(l);
    l->rec.bind_pid = 0;
    l->rec.bind_start_time = 0;
    lease_record_save(m->config.state_dir, &l->rec);
    /* Every copy of ours must be gone before the CID is free again; with
     * nothing to wait for (no copy of ours after a restart without the fd
     * store, or no loop), it is taken again at once. */
    l->retake_ticket = lease_fds_let_go(m->fds, l, l->id);
    if (!l->retake_ticket)
        retake(m, l, why);
}

typedef struct CheckContext {
    Manager *manager;
    size_t checked, retaken, max;
} CheckContext;

static int check_one(Lease *l, void *userdata)
{
    CheckContext *c = userdata;
    if (!l->rec.reserved || l->fd < 0)
        return 0;
    /* A bounded call goes on where the last one stopped: leases already
     * checked in this round are skipped. */
    if (c->max && l->checked_round == c->manager->check_round)
        return 0;
    if (c->max && c->checked >= c->max)
        return -ECANCELED;
    if (c->max)
        l->checked_round = c->manager->check_round;
    c->checked++;
    LeaseRequest probe = { .ns = l->rec.ns };
    int fd = reserve(c->manager, &probe, l->rec.cid);
    if (worker_failed(fd))
        return -ECANCELED; /* the namespace's worker stalled or died: not once per lease */
    if (fd < 0)
        return 0; /* still held (EADDRINUSE), or the kernel cannot tell */
    /* Our device no longer holds the CID: someone with a copy moved it. The
     * probe holds it now; that fresh device becomes the lease's. */
    const char *why = "its device was moved to another CID by a holder of the fd";
    log_event(LOG_WARNING, EVENT_LEASE_MOVED,
              lease_fields(l),
              "CID %u in %s ('%s') was no longer held: %s; taken again", l->rec.cid, l->rec.ns, l->rec.owner, why);
    (void) lease_fds_let_go(c->manager->fds, l, 0); /* the moved device: its own CID is none of ours */
    l->fd = fd;
    lease_fds_keep(c->manager->fds, l);
    if (c->manager->on_lease_fd)
        c->manager->on_lease_fd(c->manager, l, LEASE_FD_RETAKEN, why, c->manager->userdata);
    c->retaken++;
    return 0;
}

void manager_check_leases(Manager *m, const char *ns, size_t max, size_t *ret_checked, size_t *ret_retaken)
{
    CheckContext c = { .manager = m, .max = max };
    if (manager_foreach_lease(m, ns, check_one, &c) != -ECANCELED && max)
        m->check_round++; /* every lease had its turn: a new round next time */
    if (ret_checked)
        *ret_checked = c.checked;
    if (ret_retaken)
        *ret_retaken = c.retaken;
}

void manager_drop_lease(Manager *m, Lease *l, const char *why)
{
    cid_map_remove(&l->space->map, l->rec.cid);
    lease_set_remove(lease_set_of(m, l->rec.ns), l);
    m->n_leases--;
    log_event(LOG_INFO, EVENT_LEASE_RELEASED,
              lease_fields(l),
              "Released CID %u in %s ('%s'): %s", l->rec.cid, l->rec.ns, l->rec.owner, why);
    if (m->on_lease_removed)
        m->on_lease_removed(m, l, why, m->userdata);
    /* Automatic picks skip the CID, and an explicit one hears "try again",
     * until every copy of ours is closed (lease-fds.h): this device's, or,
     * for a persistent lease waiting to take its CID again, the old one. */
    uint64_t ticket = lease_fds_let_go(m->fds, l, 0);
    if (!ticket && l->retake_ticket && lease_fds_cancel_retake(m->fds, l->retake_ticket))
        ticket = l->retake_ticket;
    if (ticket)
        (void) cid_map_put(&l->space->map, l->rec.cid, CID_RELEASING);
    unbind_process(l);
    lease_record_remove(m->config.state_dir, &l->rec);
    free(l);
}

int manager_release_lease(Manager *m, const char *ns, uint32_t cid, uid_t caller, ManagerError *e)
{
    if (!is_host(ns) && !namespace_of(m, ns))
        return manager_no_such_namespace(e, ns, true);
    Lease *l = manager_find_lease(m, ns, cid);
    if (!l)
        return manager_error_set(e, -ENOENT, ERROR_NO_SUCH_LEASE, "No lease of CID %u in %.64s.", cid, ns);
    if (caller != 0 && caller != l->rec.uid)
        return manager_error_set(e, -EPERM, ERROR_ACCESS_DENIED,
                           "CID %u in %s is leased by uid %u; only that user or root may release it.", cid, ns,
                           (unsigned) l->rec.uid);
    manager_drop_lease(m, l, "released");
    return 0;
}

int manager_bind_lease(Manager *m, const char *ns, uint32_t cid, const LeaseRequest *bind, ManagerError *e)
{
    Lease *l = manager_find_lease(m, ns, cid);
    /* Only its user or root may bind a lease; anyone else hears the same
     * whether the CID is leased or free, so that BindLease tells nobody
     * which CIDs other users hold. */
    if (bind->uid != 0 && (!l || bind->uid != l->rec.uid))
        return manager_error_set(e, -ENOENT, ERROR_NO_SUCH_LEASE,
                           "uid %u holds no lease of CID %u in %.64s; only a lease's user or root may bind it.",
                           (unsigned) bind->uid, cid, ns);
    if (!l)
        return manager_error_set(e, -ENOENT, ERROR_NO_SUCH_LEASE, "No lease of CID %u in %.64s.", cid, ns);
    if (!l->rec.reserved)
        return manager_error_set(e, -EINVAL, ERROR_INVALID_OPTION,
                           "CID %u in %s is an advisory lease: it has no device to bind.", cid, ns);
    if (bind->bind_pid <= 0 && bind->bind_pidfd < 0)
        return manager_error_set(e, -EINVAL, ERROR_INVALID_OPTION, "Name the process: BindPID or BindPIDFD.");
    Lease bound = { .bind_pidfd = -1 };
    int r = bind_process(bind, &bound, e);
    if (r < 0)
        return r;
    unbind_process(l); /* the old watch goes before its pidfd */
    l->bind_pidfd = bound.bind_pidfd;
    watch_bound_process(m, l);
    l->rec.bind_pid = bound.rec.bind_pid;
    l->rec.bind_start_time = bound.rec.bind_start_time;
    lease_record_save(m->config.state_dir, &l->rec);
    log_info("Lease of CID %u in %s ('%s') is now bound to process %d", cid, ns, l->rec.owner, (int) l->rec.bind_pid);
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
    for (size_t i = 0; r >= 0 && i < m->namespaces.n; i++)
        r = foreach_in_set(&m->namespaces.items[i]->leases, fn, userdata);
    return r;
}

size_t manager_namespace_lease_count(Manager *m, const Namespace *ns)
{
    return ns->leases.n;
}

size_t manager_namespace_foreign_lease_count(Manager *m, const Namespace *ns, uid_t uid)
{
    size_t n = 0;
    for (size_t i = 0; i < ns->leases.n; i++)
        n += ns->leases.items[i]->rec.uid != uid;
    return n;
}

typedef struct BulkDrop {
    Manager *manager;
    const char *why;
    size_t total, done;
} BulkDrop;

static int drop_one(Lease *l, void *userdata)
{
    BulkDrop *b = userdata;
    manager_drop_lease(b->manager, l, b->why);
    if (++b->done == b->total / 2)
        FAULT_POINT("bulk-drop-middle");
    return 0;
}

void manager_drop_namespace_leases(Manager *m, const char *ns, const char *why)
{
    LeaseSet *set = lease_set_of(m, ns);
    BulkDrop b = { .manager = m, .why = why, .total = set ? set->n : 0 };
    /* foreach works on a sorted copy: dropping while it walks is fine. */
    manager_foreach_lease(m, ns, drop_one, &b);
    /* Thousands of small blocks just freed: give the pages back, so a
     * daemon that once held many leases does not stay that size. */
    if (b.total >= 64)
        malloc_trim(0);
}

/* A lease of an earlier run that does not stand: its fd (claimed from the
 * store: its vault is rebuilt without it) is closed. */
static void free_unadopted(Manager *m, Lease *l)
{
    lease_fds_discard(m->fds, l->fd);
    if (l->bind_pidfd >= 0)
        close(l->bind_pidfd);
    free(l);
}

/* Decides whether a lease of an earlier run still stands. Returns NULL with
 * a reason in *why when it does not. */
static Lease *adopt_lease(Manager *m, const LeaseRecord *rec, const char **why, bool *from_store)
{
    *from_store = false;
    if (!is_host(rec->ns) && !namespace_of(m, rec->ns)) {
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
    *l = (Lease) { .id = ++m->last_lease_id, .rec = *rec, .space = space, .fd = -1, .bind_pidfd = -1, .manager = m };
    bool stored = lease_fds_claim(m->fds, l) == 0;

    if (rec->bind_pid > 0) {
        uint64_t start = process_start_time(rec->bind_pid);
        if (start == 0 || start != rec->bind_start_time)
            *why = "the process it was bound to has exited";
        else if ((l->bind_pidfd = (int) syscall(SYS_pidfd_open, rec->bind_pid, 0)) < 0)
            *why = "the process it was bound to has exited";
        if (l->bind_pidfd < 0)
            goto drop;
    }
    if (rec->reserved && !stored) {
        /* No fd came back (no fd store): ask the kernel whether anyone
         * still holds the CID, e.g. the client's copy of our fd. */
        LeaseRequest probe = { .ns = rec->ns };
        int fd = reserve(m, &probe, rec->cid);
        if (fd >= 0 && rec->persist) {
            /* Persistent: the fresh device we just asked with holds it now. */
            l->fd = fd;
            log_info("Lease of CID %u in %s ('%s'): nobody held it any more; taken again on a fresh device",
                     rec->cid, rec->ns, rec->owner);
            return l;
        }
        if (fd >= 0) {
            lease_fds_discard(m->fds, fd);
            *why = "the kernel no longer holds its CID";
            goto drop;
        }
        log_info("Lease of CID %u in %s: our fd is gone, but the CID is still held (by the client's copy)",
                 rec->cid, rec->ns);
    }
    *from_store = stored;
    return l;

drop:
    free_unadopted(m, l);
    return NULL;
}

int manager_reconcile_leases(Manager *m, const LeaseRecord *records, size_t n)
{
    if (lease_fds_mode(m->fds) != LEASE_FDS_FD_STORE && n > 0)
        log_notice("No systemd fd store: reserved CIDs survive this restart only where a client still holds "
                   "its copy of the fd.");
    size_t adopted = 0, from_store = 0;
    for (size_t i = 0; i < n; i++) {
        const char *why = "invalid";
        bool stored;
        Lease *l = adopt_lease(m, &records[i], &why, &stored);
        if (!l) {
            log_notice("Dropping lease of CID %u in %s ('%s'): %s", records[i].cid, records[i].ns,
                       records[i].owner, why);
            lease_record_remove(m->config.state_dir, &records[i]);
            continue;
        }
        if (cid_map_put(&l->space->map, l->rec.cid, l) < 0) {
            free_unadopted(m, l);
            continue;
        }
        if (lease_set_add(lease_set_of(m, l->rec.ns), l) < 0) {
            cid_map_remove(&l->space->map, l->rec.cid);
            free_unadopted(m, l);
            continue;
        }
        m->n_leases++;
        lease_fds_keep(m->fds, l);
        watch_bound_process(m, l);
        adopted++;
        from_store += stored;
        log_debug("Re-adopted lease of CID %u in %s ('%s'%s)", l->rec.cid, l->rec.ns, l->rec.owner,
                  stored ? ", fd from the fd store" : "");
        if (m->on_lease_added)
            m->on_lease_added(m, l, "adopted", m->userdata);
    }
    if (adopted > 0)
        log_info("Re-adopted %zu leases, %zu of them with their fd from the fd store", adopted, from_store);
    return 0;
}

typedef struct CidList {
    uint32_t *cids;
    size_t n;
    uint32_t from;
} CidList;

static int collect_held_outside(uint32_t cid, void *value, void *userdata)
{
    CidList *list = userdata;
    if (value != CID_HELD_OUTSIDE || cid < list->from)
        return 0;
    if (list->n == LEASE_RECHECK_BATCH)
        return -ECANCELED; /* enough for this round */
    list->cids[list->n++] = cid;
    return 0;
}

/*
 * Asks the kernel about the next LEASE_RECHECK_BATCH CIDs of the space
 * marked held outside, going round over successive calls. The kernel can
 * only be asked by taking the CID: for the moment between SET_GUEST_CID and
 * close, an outside VM starting with exactly that CID would get EADDRINUSE.
 * That window is a few microseconds per CID (a few ms under TCG), once per
 * CID per recheck; vsockns never probes CIDs nobody marked busy.
 */
static size_t recheck_space(Manager *m, CidSpace *space, const char *ns, int netns_fd)
{
    uint32_t cids[LEASE_RECHECK_BATCH];
    CidList list = { .cids = cids, .from = space->recheck_from };
    size_t freed = 0;
    cid_map_foreach(&space->map, collect_held_outside, &list);
    /* A full batch goes on after its last CID next time; a short one
     * reached the end, and the next call starts over. */
    space->recheck_from = list.n == LEASE_RECHECK_BATCH ? list.cids[list.n - 1] + 1 : 0;
    for (size_t i = 0; i < list.n; i++) {
        int fd = m->kernel->reserve_cid(m->kernel_userdata, ns, netns_fd, list.cids[i]);
        if (worker_failed(fd))
            break; /* the next minute tries again */
        if (fd < 0)
            continue;
        lease_fds_discard(m->fds, fd);
        marker_clear(space, list.cids[i]);
        freed++;
    }
    return freed;
}

size_t manager_recheck_held_outside(Manager *m)
{
    size_t freed = recheck_space(m, m->global_space, NULL, -1);
    for (size_t i = 0; i < m->namespaces.n; i++) {
        Namespace *ns = m->namespaces.items[i];
        if (ns->space)
            freed += recheck_space(m, ns->space, ns->name, ns->fd);
    }
    if (freed > 0)
        log_info("%zu CIDs held outside vsockns are free again", freed);
    return freed;
}
