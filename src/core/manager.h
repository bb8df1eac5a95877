/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The model of vsocknsd: the managed parents, the namespaces created on
 * request, their state on disk and their reconciliation with the kernel and
 * /run/netns. Knows nothing of D-Bus: failures come back as a negative errno
 * plus, for failures a caller can expect, an error name and a sentence.
 */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <systemd/sd-event.h>

#include "errors.h"
#include "lease-fds.h"
#include "lease.h"
#include "namespace.h"
#include "namespace-table.h"
#include "netns.h"
#include "ns-worker.h"
#include "vsock-diag.h"

#define MANAGER_NAMESPACES_MAX 4096
/* What a user other than root may hold, unless vsocknsd.conf says otherwise. */
#define MANAGER_NAMESPACES_PER_USER_DEFAULT 16
#define MANAGER_LEASES_PER_USER_DEFAULT 64

typedef enum KernelSupport {
    KERNEL_SUPPORT_NONE,       /* no vsock namespaces (< 7.0), or no vsock */
    KERNEL_SUPPORT_NAMESPACES, /* ns_mode/child_ns_mode (>= 7.0) */
} KernelSupport;

typedef struct ManagerConfig {
    char netns_dir[256];       /* /run/netns */
    char state_dir[256];       /* /run/vsockns */
    char config_file[256];     /* /etc/vsockns/vsocknsd.conf */
    char unit_dir[256];        /* /etc/systemd/system: attach drop-ins */
    char runtime_unit_dir[256]; /* /run/systemd/system: attach --runtime */
    char generator_dir[256];    /* /run/systemd/generator: vsockns-generator's drop-ins (namespaces.d) */
} ManagerConfig;

/* A parent namespace the daemon created and whose child_ns_mode it locked. */
typedef struct Parent {
    VsockMode mode;
    char path[PATH_MAX];
    int status;          /* 0: usable; else why not (-EBUSY: locked wrongly) */
    char problem[256];   /* for the error a caller gets when status != 0 */
} Parent;

typedef struct Manager Manager;
typedef void (*manager_ns_callback)(Manager *m, const Namespace *ns, void *userdata);
typedef void (*manager_lease_callback)(Manager *m, Lease *l, const char *why, void *userdata);

/* What happens to a lease's device without the lease ending, for the
 * bus layer to announce. */
typedef enum LeaseFdEvent {
    LEASE_FD_RETAKEN,   /* a fresh device holds the CID again */
    LEASE_FD_LOST,      /* the CID could not be taken again: the lease ends next */
} LeaseFdEvent;
typedef void (*manager_lease_fd_callback)(Manager *m, Lease *l, LeaseFdEvent event, const char *why,
                                          void *userdata);

/* The kernel calls leases need, behind a table so unit tests can run the
 * lease logic against a fake kernel. */
typedef struct LeaseKernelOps {
    /* Opens vhost-vsock in the namespace netns_fd (ns NULL and netns_fd -1:
     * the host) and sets the guest CID: the fd, or -EADDRINUSE, -EINVAL, ... */
    int (*reserve_cid)(void *userdata, const char *ns, int netns_fd, uint32_t cid);
} LeaseKernelOps;

extern const LeaseKernelOps lease_kernel_ops_real;

/* One word of AttachableUnits=NAMESPACE:GLOB in vsocknsd.conf: non-root
 * callers whom polkit allows may attach units matching GLOB (fnmatch) to
 * NAMESPACE, and detach them from it; no other units. */
typedef struct AttachableUnit {
    char ns[NS_NAME_MAX + 1];
    char glob[256];
} AttachableUnit;

struct Manager {
    char version[32];
    ManagerConfig config;
    NamespaceTable namespaces;   /* every record, pending ones included */
    Parent parents[2];   /* indexed by VsockMode */

    KernelSupport kernel_support;
    bool g2h_fallback_supported; /* 7.2+ */
    bool guest_transport;        /* we run in a guest with a G2H vsock device */
    char host_child_mode[16];
    VsockMode configured_host_child_mode; /* from the config file, or INVALID */

    manager_ns_callback on_added, on_removed;
    void *userdata;

    CidSpace *global_space;      /* the host and every global namespace */
    LeaseSet host_leases;        /* the leases of ".host" */
    size_t n_leases;
    size_t leases_max;
    const LeaseKernelOps *kernel;
    void *kernel_userdata;
    const NetnsOps *netns;       /* what is done to managed namespaces */
    void *netns_userdata;
    manager_lease_callback on_lease_added, on_lease_removed;
    manager_lease_fd_callback on_lease_fd;
    sd_event *event;             /* NULL: no loop (tools, most tests) */
    LeaseFds *fds;               /* every lease's device (NULL without a loop) */
    NsWorkers *workers;          /* everything done inside another namespace */
    int probe_deadline_ms;       /* an isolation probe's (ISOLATION_PROBE_DEADLINE_MS) */
    uint64_t last_lease_id;      /* Lease.id of the newest lease */
    uint64_t check_round;        /* manager_check_leases() in bounded steps */
    size_t namespaces_per_user, leases_per_user; /* quotas for uids other than 0 */
    /* Quotas of a namespace, for all uids but 0 together (a tenant is a
     * group): leases in it, namespaces nested in it. SIZE_MAX: none. */
    size_t leases_per_namespace, namespaces_per_parent;
    AttachableUnit *attachable;  /* AttachableUnits= of vsocknsd.conf */
    size_t n_attachable;
    /* What the last manager_reconcile() took, in microseconds: for the
     * daemon's "ready" line. */
    uint64_t reconcile_namespaces_usec, read_leases_usec, adopt_leases_usec;
};

typedef struct LeaseRequest {
    const char *ns;              /* a managed namespace or ".host" */
    uint32_t cid;                /* 0: pick one */
    const char *owner;
    const char *strategy;        /* NULL: lowest */
    bool reserve;
    uid_t uid;                   /* the caller */
    pid_t pid;
    pid_t bind_pid;              /* 0: none */
    int bind_pidfd;              /* -1: none (not owned: duplicated if used) */
    bool persist;                /* re-take the CID when the bound process exits */
    bool hand_out;               /* the caller gets a copy of the device (then it is
                                  * bound: to the caller unless bind_pid/pidfd) */
} LeaseRequest;

/* What CreateNamespace asked for, already parsed from the bus. */
typedef struct CreateRequest {
    const char *name;
    const char *mode;
    const char *parent;  /* NULL or "" */
    int g2h_fallback;    /* -1: not given */
    uid_t uid;           /* the caller, for quotas */
} CreateRequest;

void manager_config_default(ManagerConfig *c);
int manager_new(const ManagerConfig *config, Manager **ret);
Manager *manager_free(Manager *m);
/* Runs the manager on event: bound processes are watched, and lease
 * devices are kept and let go of by m->fds in that mode. Before startup. */
int manager_attach_event(Manager *m, sd_event *event, LeaseFdsMode mode);

/* Loads vsock, applies the config file, sets up the parents, re-adopts the
 * namespaces of an earlier run. Failures of single parts are logged and
 * shown later; only what makes the daemon useless is returned. */
int manager_startup(Manager *m);
/* Applies the settings of vsocknsd.conf read from f (manager_startup
 * reads config.config_file); bad lines are logged and skipped. */
void manager_config_parse(Manager *m, FILE *f);
/* Whether AttachableUnits= lists unit for namespace ns. */
bool manager_unit_attachable(const Manager *m, const char *ns, const char *unit);

/* The part of startup that re-adopts the namespaces and leases of an
 * earlier run from the state files (also run alone by the unit tests). */
int manager_reconcile(Manager *m);

const char *kernel_support_to_string(KernelSupport s);
/* A managed namespace by name; NULL also while it is still being created.
 * Only looks: no lookup changes anything. */
Namespace *manager_find(Manager *m, const char *name);
/* manager_find(), or NULL with NoSuchNamespace in e (the one sentence for
 * it; host_too: the request also takes ".host"). */
Namespace *manager_get(Manager *m, const char *name, bool host_too, ManagerError *e);
/* Where namespace NAME is pinned: the one source of that path
 * (config.netns_dir, /run/netns), for the Path property and drop-ins. */
void manager_pin_path(const Manager *m, const char *name, char *buf, size_t size);
/* Whether /run/netns/NAME still pins the namespace we hold (same nsfs
 * inode and device). Only looks. */
bool manager_namespace_pinned(Manager *m, const Namespace *ns);
/*
 * For the request that is about to act on ns: if its pin was removed or
 * replaced behind our back (and the inotify event is not handled yet), this
 * is where it is decided: ns is forgotten (its leases end, ns is freed) and
 * -ENOENT comes back with NoSuchNamespace in e. 0: it still stands.
 */
int manager_forget_if_unpinned(Manager *m, Namespace *ns, ManagerError *e);
/* Stops managing ns: its leases end, its record goes, on_removed is told;
 * ns is freed. The namespace itself is left as it is (the caller unpinned
 * it, or it is gone). */
void manager_forget_namespace(Manager *m, Namespace *ns, const char *why);

/* Checks a request without touching anything; on success *ret_parent_path
 * is the namespace to create the child from (NULL: the host). */
int manager_check_create(Manager *m, const CreateRequest *req, const char **ret_parent_path, ManagerError *e);

/*
 * Creating a namespace without the loop waiting for the kernel. begin
 * checks the request (as manager_check_create), records the name as
 * pending (taken, but found by nobody: manager_find() skips it) and asks
 * the namespace workers to make it. It returns 0 with *ret_job, and done is
 * called from the loop once it is over (each worker step has the workers'
 * deadline: a stall ends it with a Kernel error naming it); or 1 and
 * *ret_ns if it finished at once (a fake kernel), done then never called.
 * stop (shutdown) ends a job now: done is called with "vsocknsd is
 * stopping" before it returns.
 */
typedef struct CreateJob CreateJob;
typedef void (*manager_create_done_fn)(Manager *m, int r, Namespace *ns, const ManagerError *e, void *userdata);
int manager_create_namespace_begin(Manager *m, const CreateRequest *req, manager_create_done_fn done, void *userdata,
                                   CreateJob **ret_job, Namespace **ret_ns, ManagerError *e);
void manager_create_namespace_stop(CreateJob *j);
/* All of it at once, running the manager's loop until it is over: for
 * tests and tools. */
int manager_create_namespace(Manager *m, const CreateRequest *req, Namespace **ret, ManagerError *e);
int manager_delete_namespace(Manager *m, const char *name, bool force, ManagerError *e);

size_t manager_namespace_lease_count(Manager *m, const Namespace *ns);
/* The leases of ns that a caller of uid does not hold (what a forced
 * delete would end of other users'). */
size_t manager_namespace_foreign_lease_count(Manager *m, const Namespace *ns, uid_t uid);

/* Looking (core/manager-inspect.c): nothing changes, except that a
 * namespace whose pin is gone is forgotten first. name may be ".host"
 * for the sockets. The isolation check asks a namespace worker for the
 * probe (isolation.h); done gets its report (NsAnswer.report) from the
 * loop, unless the call is cancelled; the namespace's mode is what to
 * expect. */
int manager_list_sockets(Manager *m, const char *name, VsockSocket **ret, size_t *ret_n, ManagerError *e);
int manager_check_isolation_start(Manager *m, const char *name, ns_answer_fn done, void *userdata,
                                  VsockMode *ret_mode, NsCall **ret_call, ManagerError *e);

/* Leases (core/manager-lease.c). The check validates without touching
 * anything, so callers can run it before asking for authorisation. */
int manager_check_lease_request(Manager *m, const LeaseRequest *req, ManagerError *e);
int manager_acquire_lease(Manager *m, const LeaseRequest *req, Lease **ret, ManagerError *e);
Lease *manager_find_lease(Manager *m, const char *ns, uint32_t cid);
/* Releasing someone else's lease needs root (polkit: a later step). */
int manager_release_lease(Manager *m, const char *ns, uint32_t cid, uid_t caller, ManagerError *e);
/* Ends a lease, whatever the reason (released, its process exited, its
 * namespace went, ...): the one teardown path. It tells the bus layer
 * (on_lease_removed: the signal), lets go of the device (lease-fds.h: the
 * CID stays marked CID_RELEASING until its ticket is done), stops watching
 * its process and removes the state file. */
void manager_drop_lease(Manager *m, Lease *l, const char *why);

/*
 * The process a lease is bound to has exited (its pidfd, watched on the
 * manager's loop, says so). A reserved lease is bound to keep a dead VM's
 * memory from being pinned: the device it used must go, every copy of it.
 * So the lease ends, or, if it persists, every copy of ours is let go of
 * and the CID is taken again on a fresh device once that ticket is done
 * (LEASE_FD_RETAKEN, or LEASE_FD_LOST if someone else got the CID between).
 */
void manager_bound_process_exited(Manager *m, Lease *l);

/*
 * Checks that the reserved CIDs of ns (NULL or "": all) are still held, at
 * most max leases from where the last call stopped (0: all). Whoever holds
 * a copy of a lease's fd can move its device to another CID with
 * VHOST_VSOCK_SET_GUEST_CID; a CID found free is taken again at once
 * (LEASE_FD_RETAKEN). Counts go to the ret_ pointers (may be NULL).
 */
void manager_check_leases(Manager *m, const char *ns, size_t max, size_t *ret_checked, size_t *ret_retaken);
/* Binds a reserved lease to another process (bind->bind_pid or
 * bind->bind_pidfd), e.g. the VM its caller has just started with the fd:
 * when that process exits, the lease ends (or is re-taken if it persists).
 * The caller (bind->uid) must be root or the lease's user. */
int manager_bind_lease(Manager *m, const char *ns, uint32_t cid, const LeaseRequest *bind, ManagerError *e);
/* Calls fn for the leases of ns (NULL or "": all, the host's first, then
 * each namespace's), in CID order per namespace. Costs O(k log k) for the k
 * leases visited, whatever else exists; fn may drop the lease it is given. */
int manager_foreach_lease(Manager *m, const char *ns, int (*fn)(Lease *l, void *userdata), void *userdata);
/* Drops every lease of a namespace (deleted, or gone behind our back). */
void manager_drop_namespace_leases(Manager *m, const char *ns, const char *why);
/* Adopts the leases of an earlier run (state + fd store + kernel): each
 * lease claims its fd from m->fds (lease_fds_take_stored() before). */
int manager_reconcile_leases(Manager *m, const LeaseRecord *records, size_t n);
/* Asks the kernel again about CIDs marked held outside vsockns (at most
 * LEASE_RECHECK_BATCH per space and call, going round) and forgets those it
 * has let go. Returns how many were freed. */
size_t manager_recheck_held_outside(Manager *m);

/* Something removed NAME from the netns directory (inotify): drop it if it
 * was ours and is really gone. Returns true if it was dropped. */
bool manager_handle_pin_removed(Manager *m, const char *name);

int manager_save(Manager *m);

/* Whether uid (not root) may have one more namespace (lease false) or lease
 * (lease true), with `waiting` more of its calls already queued for one:
 * QuotaExceeded, naming the setting, if not. */
int manager_check_quota(Manager *m, uid_t uid, bool lease, size_t waiting, ManagerError *e);
/* The namespace's own quota (LeasesPerNamespace=, NamespacesPerParent=)
 * for one more lease in ns (lease true) or namespace nested in ns, asked
 * by uid (root: none): QuotaExceeded, naming the setting, if not. ns ""
 * or ".host": none. */
int manager_check_namespace_quota(Manager *m, uid_t uid, bool lease, const char *ns, ManagerError *e);
