/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Network namespaces the way ip-netns(8) keeps them: created from inside a
 * chosen parent namespace, pinned by a bind mount of the nsfs file onto a
 * placeholder in a shared-mount directory, removed with a lazy unmount.
 *
 * Running code inside a namespace: the daemon's own thread never leaves the
 * host netns (whose sysctls it reads and writes itself); everything done
 * inside another namespace is a request to the namespace workers
 * (ns-worker.h), and the functions named *_here() below are what a worker
 * runs once it has joined the namespace. Creation is two requests: make the
 * namespace (its fd comes back), then, once vsocknsd has recorded it, pin
 * it. Files and sockets that must belong to the namespace (a vhost-vsock
 * device, a sock_diag socket) are opened there by a worker too, and come
 * back as fds (vhost.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NETNS_RUN_DIR "/run/netns"

typedef struct NsWorkers NsWorkers;

/* Reads /proc/sys/net/vsock/KEY as seen from netns_fd (< 0: our own, read
 * here; else through a worker, waiting in poll(): start-up only). */
int vsock_sysctl_read(NsWorkers *w, int netns_fd, const char *key, char *buf, size_t size);
/* Writes it: 0, or the kernel's -EBUSY/-EPERM/... for child_ns_mode. */
int vsock_sysctl_write(NsWorkers *w, int netns_fd, const char *key, const char *value);
/* The same in the caller's own netns (a worker's, once it joined one);
 * value NULL: read into out. */
int vsock_sysctl_here(const char *key, const char *value, char *out, size_t out_size);

/* The longest vsock mode as text ("global"), with room to spare. */
#define VSOCK_MODE_TEXT_MAX 16
/* In netns_fd: reads child_ns_mode and ns_mode into found and own ("?" if
 * unreadable), then writes child_ns_mode=want, which both checks and locks
 * it. Returns the write's result (-EBUSY: locked to another value, -EPERM:
 * a local namespace cannot have global children). Start-up only. */
int vsock_child_mode_lock(NsWorkers *w, int netns_fd, const char *want, char found[static VSOCK_MODE_TEXT_MAX],
                          char own[static VSOCK_MODE_TEXT_MAX]);
/* What a worker runs for it: out gets "FOUND OWN". */
int vsock_child_mode_lock_here(const char *want, char *out, size_t out_size);

/* What a worker runs to make a namespace, inside the parent it joined:
 * unshare, lo up, g2h_fallback (-1: leave) and child_ns_mode (NULL: leave)
 * written; mode gets its ns_mode. The worker is left in the new namespace. */
int netns_make_here(int g2h_fallback, const char *child_ns_mode, char *mode, size_t mode_size,
                    int *ret_g2h_fallback);

/* What identifies a namespace (its nsfs file) or a placeholder file. */
typedef struct NetnsId {
    uint64_t dev, ino;
} NetnsId;

typedef struct NetnsCreated {
    char ns_mode[16];            /* what the kernel gave the new namespace */
    NetnsId id;                  /* the namespace (known from NETNS_STAGE_MADE on) */
    NetnsId placeholder;         /* the file it is pinned onto */
    int g2h_fallback;            /* its g2h_fallback (0/1), -1 if the kernel has none */
} NetnsCreated;

typedef enum NetnsStage {
    NETNS_STAGE_PLACEHOLDER,     /* the placeholder exists, nothing else */
    NETNS_STAGE_MADE,            /* the namespace exists, not pinned yet */
} NetnsStage;

/* Told what exists at each stage, before the next step: the moment to
 * record how to recognise it after a crash. A negative return aborts the
 * creation (nothing is left behind) and is returned. */
typedef int (*netns_record_fn)(void *userdata, NetnsStage stage, const NetnsCreated *so_far);

typedef struct NetnsJob NetnsJob;
/* A creation is over: j->result (and with 0, j->ns_fd) is in. */
typedef void (*netns_done_fn)(NetnsJob *j, void *userdata);

typedef struct NetnsSetup {
    const char *pin_path;        /* where to bind-mount the new namespace */
    const char *child_ns_mode;   /* NULL, or write (and so lock) this */
    int g2h_fallback;            /* -1: leave alone, else write 0/1 */
    int timeout_ms;              /* each step's deadline; <= 0: the workers' */
    netns_record_fn record;      /* may be NULL */
    void *record_userdata;
    netns_done_fn done;          /* netns_create_begin() only */
    void *userdata;
} NetnsSetup;

/* Workers and locks give up after this long (-ETIMEDOUT), by default. */
#define NS_WORKER_TIMEOUT_MS_DEFAULT 10000

/* Makes dir a shared mount point (once) so pins propagate everywhere, holding
 * flock() on it while doing so, as ip netns does against parallel setup. */
int netns_dir_prepare(const char *dir);

/*
 * A namespace creation under way, so that the event loop never waits for
 * the kernel: netns_create_begin() makes the placeholder (O_EXCL: -EEXIST
 * if the path exists), records it, and asks a worker to make the namespace;
 * once it is recorded (record, NETNS_STAGE_MADE) a worker pins it, and
 * setup->done is called from the loop, once. With result 0, ns_fd holds
 * the new namespace, verified to be the one pinned (the caller takes it:
 * set it to -1). On failure nothing is left, but for a pin that someone
 * replaced while we made it (-ESTALE), which is not ours to remove. A step
 * past its deadline ends the job with -ETIMEDOUT, once its worker is gone.
 * -EINPROGRESS (a stop whose worker would not go): nothing is undone, the
 * caller's record of the creation is for the next start to settle.
 */
struct NetnsJob {
    int result;                  /* 0 or a negative errno, once finished */
    bool finished;
    int ns_fd;                   /* with result 0: the new namespace */
    NetnsCreated created;        /* what was made so far */
    struct NetnsJobState *state; /* netns.c's; NULL in a fake's job */
};

int netns_create_begin(NsWorkers *w, int parent_fd, const NetnsSetup *setup, NetnsJob **ret);
/* For shutdown: stops the step under way (its worker killed and gone);
 * the job ends with -ESHUTDOWN and done is called before this returns. */
void netns_job_stop(NetnsJob *j);
/* An empty job (for fakes that finish at once). */
NetnsJob *netns_job_new(void);
/* Frees a job; one still under way is stopped first, without done. */
NetnsJob *netns_job_free(NetnsJob *j);

/* The same, each step waiting in poll(): for vsockns's own parents at
 * start-up. *ret_fd on success. */
int netns_create_pinned(NsWorkers *w, int parent_fd, const NetnsSetup *setup, int *ret_fd, NetnsCreated *ret);

/*
 * Opens the namespace pinned at path, to hold on to: never through a
 * symlink, never blocking on a FIFO planted there. It must be an nsfs file
 * of a network namespace (-ENOTCONN if not, e.g. a bare placeholder) and, if
 * want is not NULL, that namespace (-ESTALE otherwise; want->dev 0 matches
 * any device). *ret (may be NULL) gets its identity.
 */
int netns_open_verified(const char *path, const NetnsId *want, NetnsId *ret);

/* The identity of what is at path now, without following a symlink and
 * without opening it; is_ns tells whether it is a namespace pin. */
int netns_path_id(const char *path, NetnsId *ret, bool *ret_is_ns);

/* Unpins path only while it still pins namespace id: lazy unmount
 * (UMOUNT_NOFOLLOW) and unlink. -ESTALE, touching nothing, if it pins
 * another namespace or none; -ENOENT if there is nothing. */
int netns_unpin_verified(const char *path, const NetnsId *id);

/* Removes path only if it is still the bare placeholder id (not a pin). */
int netns_remove_placeholder(const char *path, const NetnsId *id);

/* Lazy unmount and unlink, whatever is there; -ENOENT if there was nothing.
 * Only for vsockns's own parents under /run/vsockns. */
int netns_unpin(const char *path);

/* 0 and the namespace inode if path is a pinned namespace; -ENOENT if it
 * does not exist, -ENOTCONN if it is a file but no namespace is mounted. */
int netns_pin_inode(const char *path, uint64_t *ret_inode);

/* Opens a pinned namespace for setns() (see netns_open_verified()). */
int netns_open(const char *path);

/*
 * What the manager does to namespaces, behind a table (as the lease kernel
 * ops) so its create, delete and reconcile logic runs in unit tests against
 * a fake (tests/unit/test-namespaces.c). Each is the function above of the
 * same name; userdata is the table's.
 */
typedef struct NetnsOps {
    /* netns_create_begin(); a fake may instead finish at once: it returns
     * 1 and a finished job (netns_job_new()), and never calls done. */
    int (*create_begin)(void *userdata, NsWorkers *w, int parent_fd, const NetnsSetup *setup, NetnsJob **ret);
    int (*open_verified)(void *userdata, const char *path, const NetnsId *want, NetnsId *ret);
    int (*path_id)(void *userdata, const char *path, NetnsId *ret, bool *ret_is_ns);
    int (*unpin_verified)(void *userdata, const char *path, const NetnsId *id);
    int (*remove_placeholder)(void *userdata, const char *path, const NetnsId *id);
    int (*sysctl_read)(void *userdata, NsWorkers *w, int netns_fd, const char *key, char *buf, size_t size);
} NetnsOps;

extern const NetnsOps netns_ops_real;

/* Where namespace name is pinned below dir (/run/netns/NAME). */
void netns_pin_path(const char *dir, const char *name, char *buf, size_t size);
/* Whether dir/name, through ops, still pins the namespace want (same nsfs
 * inode, and device when it is known). Only looks. */
bool netns_pin_holds(const NetnsOps *ops, void *userdata, const char *dir, const char *name, const NetnsId *want);
