/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Network namespaces the way ip-netns(8) keeps them: created from inside a
 * chosen parent namespace, pinned by a bind mount of the nsfs file onto a
 * placeholder in a shared-mount directory, removed with a lazy unmount.
 *
 * Running code inside a namespace. setns()/unshare() change only the
 * calling thread, and the daemon's own thread never leaves the host netns
 * (whose sysctls it reads and writes itself). There is one way to do
 * anything in another namespace: netns_helper_run(), a short-lived forked
 * helper that joins the namespace, runs one function and sends back one
 * answer; the daemon waits for it at most netns_helper_timeout_ms (10 s),
 * then kills it and reports -ETIMEDOUT. Creation is that helper in two
 * steps, and asynchronous (NetnsJob): the daemon serves other callers while
 * the kernel makes the namespace, which it may take its time over. The
 * single exception is opening a file that must belong to the namespace and
 * come back as an fd (vhost.h: netns_open_file), done on a thread that
 * joins the namespace and returns (or aborts the daemon): an open of
 * /dev/vhost-vsock cannot stall, and forking per AcquireLease would cost
 * more than the lease.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NETNS_RUN_DIR "/run/netns"

/* A function run inside the helper, after it joined the target namespace.
 * It returns 0 or a negative errno and may leave a short answer in out. */
typedef int (*netns_helper_fn)(void *userdata, char *out, size_t out_size);

/* Runs fn in a forked helper whose network namespace is netns_fd (or the
 * caller's when netns_fd < 0). Returns fn's result; out gets its answer. */
int netns_helper_run(int netns_fd, netns_helper_fn fn, void *userdata, char *out, size_t out_size);

/* Reads /proc/sys/net/vsock/KEY as seen from netns_fd (< 0: our own, read
 * without a helper). */
int vsock_sysctl_read(int netns_fd, const char *key, char *buf, size_t size);
/* Writes it: 0, or the kernel's -EBUSY/-EPERM/... for child_ns_mode. */
int vsock_sysctl_write(int netns_fd, const char *key, const char *value);

/* The longest vsock mode as text ("global"), with room to spare. */
#define VSOCK_MODE_TEXT_MAX 16
/* In one helper in netns_fd: reads child_ns_mode and ns_mode into found and
 * own ("?" if unreadable), then writes child_ns_mode=want, which both
 * checks and locks it. Returns the write's result (-EBUSY: locked to
 * another value, -EPERM: a local namespace cannot have global children). */
int vsock_child_mode_lock(int netns_fd, const char *want, char found[static VSOCK_MODE_TEXT_MAX],
                          char own[static VSOCK_MODE_TEXT_MAX]);

/* What identifies a namespace (its nsfs file) or a placeholder file. */
typedef struct NetnsId {
    uint64_t dev, ino;
} NetnsId;

typedef struct NetnsSetup {
    const char *pin_path;        /* where to bind-mount the new namespace */
    const char *child_ns_mode;   /* NULL, or write (and so lock) this */
    int g2h_fallback;            /* -1: leave alone, else write 0/1 */
} NetnsSetup;

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

/* Helpers and locks give up after this long (-ETIMEDOUT). A variable only
 * so that the unit tests can shorten it. */
#define NETNS_HELPER_TIMEOUT_MS_DEFAULT 10000
extern int netns_helper_timeout_ms;

/* Makes dir a shared mount point (once) so pins propagate everywhere, holding
 * flock() on it while doing so, as ip netns does against parallel setup. */
int netns_dir_prepare(const char *dir);

/*
 * A namespace creation under way, so that the event loop never waits for
 * the kernel: netns_create_begin() makes the placeholder (O_EXCL: -EEXIST
 * if the path exists), records it, and starts the helper; the caller
 * watches fd for POLLIN and calls netns_job_step() until it returns 0, when
 * result is in. record (may be NULL) is called at each stage, the second
 * time from netns_job_step(). With result 0, ns_fd holds the new namespace,
 * verified to be the one pinned (the caller takes it: set it to -1). On
 * failure nothing is left, but for a pin that someone replaced while we
 * made it (-ESTALE), which is not ours to remove.
 */
typedef struct NetnsJob {
    int fd;                      /* to wait on (POLLIN); -1 once result is in */
    int result;                  /* 0 or a negative errno, once fd is -1 */
    int ns_fd;                   /* with result 0: the new namespace */
    NetnsCreated created;        /* what was made so far */
    pid_t pid;                   /* the helper, while there is one */
    struct NetnsHelper *helper;  /* netns.c's; NULL once done (and for fakes) */
} NetnsJob;

int netns_create_begin(int parent_fd, const NetnsSetup *setup, netns_record_fn record, void *userdata,
                       NetnsJob **ret);
/* Reads what the helper said and acts on it: -EAGAIN to wait for fd
 * again, 0 once result is in (the helper is gone then). */
int netns_job_step(NetnsJob *j);
/* Gives up (a deadline passed): kills the helper; the job then ends with
 * -ETIMEDOUT, once the helper is gone, through netns_job_step(). */
void netns_job_cancel(NetnsJob *j);
/* Waits in poll() for the end, cancelling after timeout_ms: the result.
 * Only where nothing else is served (startup, shutdown, tests). */
int netns_job_wait(NetnsJob *j, int timeout_ms);
/* Cancels and waits for a job still under way, closes an ns_fd not taken. */
NetnsJob *netns_job_free(NetnsJob *j);

/* The same without a loop (for vsockns's own parents, at startup): waits
 * up to netns_helper_timeout_ms. *ret_fd on success. */
int netns_create_pinned(int parent_fd, const NetnsSetup *setup, int *ret_fd, NetnsCreated *ret);

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
    /* netns_create_begin(); a fake may return a job that is already done
     * (fd -1, helper NULL): the netns_job_*() functions accept it. */
    int (*create_begin)(void *userdata, int parent_fd, const NetnsSetup *setup, netns_record_fn record,
                        void *record_userdata, NetnsJob **ret);
    int (*open_verified)(void *userdata, const char *path, const NetnsId *want, NetnsId *ret);
    int (*path_id)(void *userdata, const char *path, NetnsId *ret, bool *ret_is_ns);
    int (*unpin_verified)(void *userdata, const char *path, const NetnsId *id);
    int (*remove_placeholder)(void *userdata, const char *path, const NetnsId *id);
    int (*sysctl_read)(void *userdata, int netns_fd, const char *key, char *buf, size_t size);
} NetnsOps;

extern const NetnsOps netns_ops_real;

/* Where namespace name is pinned below dir (/run/netns/NAME). */
void netns_pin_path(const char *dir, const char *name, char *buf, size_t size);
/* Whether dir/name, through ops, still pins the namespace want (same nsfs
 * inode, and device when it is known). Only looks. */
bool netns_pin_holds(const NetnsOps *ops, void *userdata, const char *dir, const char *name, const NetnsId *want);
