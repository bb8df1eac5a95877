/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <poll.h>
#include <stdbool.h>
#include <limits.h>
#include <linux/magic.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ns-worker.h"
#include "shared/fault.h"
#include "shared/macro.h"
#include "shared/process.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

static uint64_t now_ms(void)
{
    return clock_usec(CLOCK_MONOTONIC) / 1000;
}

int vsock_sysctl_here(const char *key, const char *value, char *out, size_t out_size)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/sys/net/vsock/%s", key);

    _cleanup_close_ int fd = open(path, (value ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (value) {
        size_t len = strlen(value);
        ssize_t n = write(fd, value, len);
        if (n < 0)
            return -errno;
        return (size_t) n == len ? 0 : -EIO;
    }
    if (out_size == 0)
        return -EINVAL;
    ssize_t n = read(fd, out, out_size - 1);
    if (n < 0)
        return -errno;
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    return 0;
}

/* Our own netns needs no worker: its sysctls are read and written here. */
static int sysctl_run(NsWorkers *w, int netns_fd, NsOp op, const char *key, const char *value, char *out,
                      size_t out_size)
{
    if (netns_fd < 0)
        return vsock_sysctl_here(key, value, out, out_size);
    NsRequest q = ns_request(op, netns_fd);
    snprintf(q.key, sizeof(q.key), "%s", key);
    snprintf(q.value, sizeof(q.value), "%s", value ?: "");
    NsAnswer a;
    int r = ns_workers_run(w, &q, 0, &a);
    if (out && out_size > 0)
        snprintf(out, out_size, "%s", a.text);
    return r;
}

int vsock_sysctl_read(NsWorkers *w, int netns_fd, const char *key, char *buf, size_t size)
{
    if (size > 0)
        buf[0] = '\0';
    return sysctl_run(w, netns_fd, NS_OP_SYSCTL_READ, key, NULL, buf, size);
}

int vsock_sysctl_write(NsWorkers *w, int netns_fd, const char *key, const char *value)
{
    return sysctl_run(w, netns_fd, NS_OP_SYSCTL_WRITE, key, value, NULL, 0);
}

int vsock_child_mode_lock_here(const char *want, char *out, size_t out_size)
{
    char found[VSOCK_MODE_TEXT_MAX] = "?", own[VSOCK_MODE_TEXT_MAX] = "?";
    if (vsock_sysctl_here("child_ns_mode", NULL, found, sizeof(found)) < 0 || !found[0] || strchr(found, ' '))
        snprintf(found, sizeof(found), "?");
    if (vsock_sysctl_here("ns_mode", NULL, own, sizeof(own)) < 0 || !own[0] || strchr(own, ' '))
        snprintf(own, sizeof(own), "?");
    snprintf(out, out_size, "%s %s", found, own);
    return vsock_sysctl_here("child_ns_mode", want, NULL, 0);
}

int vsock_child_mode_lock(NsWorkers *w, int netns_fd, const char *want, char found[static VSOCK_MODE_TEXT_MAX],
                          char own[static VSOCK_MODE_TEXT_MAX])
{
    NsRequest q = ns_request(NS_OP_CHILD_MODE_LOCK, netns_fd);
    snprintf(q.value, sizeof(q.value), "%s", want);
    NsAnswer a;
    int r = ns_workers_run(w, &q, 0, &a);
    snprintf(found, VSOCK_MODE_TEXT_MAX, "?");
    snprintf(own, VSOCK_MODE_TEXT_MAX, "?");
    char *space = strchr(a.text, ' ');
    if (space) {
        *space = '\0';
        snprintf(found, VSOCK_MODE_TEXT_MAX, "%.15s", a.text);
        snprintf(own, VSOCK_MODE_TEXT_MAX, "%.15s", space + 1);
    }
    return r;
}

int netns_dir_prepare(const char *dir)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;

    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* Serialises us against ip netns add doing the same setup; a holder
     * that never lets go must not stall the daemon. */
    uint64_t deadline = now_ms() + NS_WORKER_TIMEOUT_MS_DEFAULT;
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        if (errno != EWOULDBLOCK && errno != EINTR)
            return -errno;
        if (now_ms() >= deadline)
            return -ETIMEDOUT;
        usleep(10000);
    }

    /*
     * Bind mounts made under a shared mount propagate to every mount
     * namespace that has a copy of it, so units with their own mount
     * namespace still see namespaces pinned later. If dir is not a mount
     * point yet, mounting on it gives EINVAL: bind it onto itself first.
     */
    int r = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (mount("", dir, "none", MS_SHARED | MS_REC, NULL) == 0) {
            r = 0;
            break;
        }
        r = -errno;
        if (r != -EINVAL || attempt > 0)
            break;
        if (mount(dir, dir, "none", MS_BIND | MS_REC, NULL) < 0) {
            r = -errno;
            break;
        }
    }
    flock(fd, LOCK_UN);
    return r;
}

int netns_make_here(int g2h_fallback, const char *child_ns_mode, char *mode, size_t mode_size, int *ret_g2h_fallback)
{
    if (unshare(CLONE_NEWNET) < 0)
        return -errno;

    struct nl_sock *sk = nl_socket_alloc();
    if (!sk)
        return -ENOMEM;
    int r = nl_connect(sk, NETLINK_ROUTE);
    struct rtnl_link *lo = NULL, *change = NULL;
    if (r == 0)
        r = rtnl_link_get_kernel(sk, 0, "lo", &lo);
    if (r == 0 && !(change = rtnl_link_alloc()))
        r = -NLE_NOMEM;
    if (r == 0) {
        rtnl_link_set_flags(change, IFF_UP);
        r = rtnl_link_change(sk, lo, change, 0);
    }
    rtnl_link_put(change);
    rtnl_link_put(lo);
    nl_socket_free(sk);
    if (r < 0)
        return -ENETDOWN;

    if (g2h_fallback >= 0 && (r = vsock_sysctl_here("g2h_fallback", g2h_fallback ? "1" : "0", NULL, 0)) < 0)
        return r;
    if (child_ns_mode && (r = vsock_sysctl_here("child_ns_mode", child_ns_mode, NULL, 0)) < 0)
        return r;
    r = vsock_sysctl_here("ns_mode", NULL, mode, mode_size);
    if (r == -ENOENT) /* a kernel without vsock namespaces: all global */
        snprintf(mode, mode_size, "global");
    else if (r < 0)
        return r;
    /* Read here, while in it: asking later would take another request. */
    char g2h[8];
    *ret_g2h_fallback = vsock_sysctl_here("g2h_fallback", NULL, g2h, sizeof(g2h)) < 0 ? -1 : streq(g2h, "1");
    return 0;
}

static int fd_id(int fd, NetnsId *ret)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    *ret = (NetnsId) { .dev = st.st_dev, .ino = st.st_ino };
    return 0;
}

static bool id_matches(const NetnsId *want, const NetnsId *got)
{
    return got->ino == want->ino && (want->dev == 0 || got->dev == want->dev);
}

/* netns.c's side of a job; NULL in a fake's job. */
struct NetnsJobState {
    NsWorkers *workers;
    NsCall *call;            /* the request under way */
    bool sync;               /* netns_create_pinned(): each step waits in poll() */
    int made_fd;             /* the new namespace, between made and pinned */
    char *pin_path;
    NetnsSetup setup;        /* its pin_path is ours */
};

/* The creation is over with r: leave nothing but what succeeded (a pinned
 * namespace, held as j->ns_fd), then tell. */
static void job_finish(NetnsJob *j, int r)
{
    struct NetnsJobState *st = j->state;
    NetnsCreated *c = &j->created;
    st->call = NULL;
    if (st->made_fd >= 0)
        close(st->made_fd);
    st->made_fd = -1;
    j->result = r;
    if (r == -EINPROGRESS) {
        /* A stop could not see its worker gone: the step may still
         * happen, so leave the pin path to the next start (its pending
         * record says what is ours). */
    } else if (r < 0) {
        /* Only what is still ours: the namespace (if the bind got that
         * far), else the bare placeholder. Every step is over by now (a
         * worker killed at a deadline is gone before its answer). */
        if (c->id.ino == 0 || netns_unpin_verified(st->pin_path, &c->id) == -ESTALE)
            netns_remove_placeholder(st->pin_path, &c->placeholder);
    } else {
        /* Hold the namespace that is pinned there now, if it is still ours. */
        int fd = netns_open_verified(st->pin_path, &c->id, NULL);
        if (fd < 0)
            j->result = fd;
        else
            j->ns_fd = fd;
    }
    j->finished = true;
    if (!st->sync && st->setup.done)
        st->setup.done(j, st->setup.userdata);
}

/* The next step: a request whose answer goes to next. */
static void job_request(NetnsJob *j, const NsRequest *q, ns_answer_fn next)
{
    struct NetnsJobState *st = j->state;
    if (st->sync) {
        NsAnswer a;
        ns_workers_run(st->workers, q, st->setup.timeout_ms, &a);
        next(&a, j);
        if (a.fd >= 0)
            close(a.fd);
        return;
    }
    int r = ns_workers_submit(st->workers, q, st->setup.timeout_ms, next, j, &st->call);
    if (r < 0)
        job_finish(j, r);
}

static void on_pinned(NsAnswer *a, void *userdata)
{
    job_finish(userdata, a->result);
}

/* The namespace exists (or not): record it, then have it pinned. */
static void on_made(NsAnswer *a, void *userdata)
{
    NetnsJob *j = userdata;
    struct NetnsJobState *st = j->state;
    st->call = NULL;
    int r = a->result;
    if (r == 0) {
        NetnsCreated *c = &j->created;
        snprintf(c->ns_mode, sizeof(c->ns_mode), "%.15s", a->text);
        c->id = a->id;
        c->g2h_fallback = a->g2h_fallback;
        st->made_fd = a->fd;
        a->fd = -1;
        r = st->made_fd < 0 ? -EPROTO : 0;
    }
    if (r == 0 && st->setup.record)
        r = st->setup.record(st->setup.record_userdata, NETNS_STAGE_MADE, &j->created);
    if (r < 0) {
        job_finish(j, r); /* closing made_fd ends the unpinned namespace */
        return;
    }
    NsRequest q = ns_request(NS_OP_PIN, st->made_fd);
    snprintf(q.path, sizeof(q.path), "%s", st->pin_path);
    job_request(j, &q, on_pinned);
}

NetnsJob *netns_job_new(void)
{
    NetnsJob *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->ns_fd = -1;
    j->created.g2h_fallback = -1;
    return j;
}

static int job_begin(NsWorkers *w, int parent_fd, const NetnsSetup *setup, bool sync, NetnsJob **ret)
{
    NetnsJob *j = netns_job_new();
    struct NetnsJobState *st = j ? calloc(1, sizeof(*st)) : NULL;
    char *pin_path = st ? strdup(setup->pin_path) : NULL;
    if (!pin_path) {
        free(st);
        free(j);
        return -ENOMEM;
    }
    *st = (struct NetnsJobState) { .workers = w, .sync = sync, .made_fd = -1, .pin_path = pin_path,
                                   .setup = *setup };
    st->setup.pin_path = pin_path;
    j->state = st;
    /* The placeholder: O_EXCL makes a second creator of the name fail. */
    int fd = open(pin_path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
    int r = fd < 0 ? -errno : fd_id(fd, &j->created.placeholder);
    if (fd >= 0)
        close(fd);
    if (r == 0 && setup->record)
        r = setup->record(setup->record_userdata, NETNS_STAGE_PLACEHOLDER, &j->created);
    NsRequest q = ns_request(NS_OP_MAKE, parent_fd);
    q.g2h_fallback = setup->g2h_fallback;
    snprintf(q.value, sizeof(q.value), "%s", setup->child_ns_mode ?: "");
    if (r == 0 && sync)
        job_request(j, &q, on_made);
    else if (r == 0)
        r = ns_workers_submit(w, &q, setup->timeout_ms, on_made, j, &st->call);
    if (r < 0) {
        if (fd >= 0)
            netns_remove_placeholder(pin_path, &j->created.placeholder);
        st->sync = true; /* nobody to tell */
        netns_job_free(j);
        return r;
    }
    *ret = j;
    return 0;
}

int netns_create_begin(NsWorkers *w, int parent_fd, const NetnsSetup *setup, NetnsJob **ret)
{
    return job_begin(w, parent_fd, setup, false, ret);
}

void netns_job_stop(NetnsJob *j)
{
    struct NetnsJobState *st = j->state;
    if (st && st->call)
        ns_call_stop(st->call); /* answers -ESHUTDOWN: job_finish() */
}

NetnsJob *netns_job_free(NetnsJob *j)
{
    if (!j)
        return NULL;
    struct NetnsJobState *st = j->state;
    if (st) {
        st->setup.done = NULL; /* freed: nobody to tell */
        netns_job_stop(j);
        if (st->made_fd >= 0)
            close(st->made_fd);
        free(st->pin_path);
        free(st);
    }
    if (j->ns_fd >= 0)
        close(j->ns_fd);
    free(j);
    return NULL;
}

int netns_create_pinned(NsWorkers *w, int parent_fd, const NetnsSetup *setup, int *ret_fd, NetnsCreated *ret)
{
    NetnsJob *j;
    int r = job_begin(w, parent_fd, setup, true, &j);
    if (r < 0)
        return r;
    r = j->result;
    *ret = j->created;
    if (r == 0) {
        *ret_fd = j->ns_fd;
        j->ns_fd = -1;
    }
    netns_job_free(j);
    return r;
}

/* On nsfs itself, not a file elsewhere that answers NS_GET_NSTYPE (a
 * FUSE file system may answer ioctls). */
static int check_nsfs(int fd)
{
    struct statfs sfs;
    if (fstatfs(fd, &sfs) < 0)
        return -errno;
    return sfs.f_type == NSFS_MAGIC ? 0 : -ENOTCONN;
}

int netns_open_verified(const char *path, const NetnsId *want, NetnsId *ret)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP ? -ENOTCONN : -errno;
    NetnsId got;
    int r = fd_id(fd, &got);
    if (r == 0)
        r = check_nsfs(fd);
    if (r == 0 && ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET)
        r = -ENOTCONN;
    if (r == 0 && want && !id_matches(want, &got))
        r = -ESTALE;
    if (r < 0) {
        close(fd);
        return r;
    }
    if (ret)
        *ret = got;
    return fd;
}

int netns_path_id(const char *path, NetnsId *ret, bool *ret_is_ns)
{
    struct stat st;
    struct statfs sfs;
    if (lstat(path, &st) < 0)
        return -errno;
    *ret = (NetnsId) { .dev = st.st_dev, .ino = st.st_ino };
    /* statfs follows a symlink: a symlink is never a pin of ours. */
    *ret_is_ns = S_ISREG(st.st_mode) && statfs(path, &sfs) == 0 && sfs.f_type == NSFS_MAGIC;
    return 0;
}

int netns_unpin_verified(const char *path, const NetnsId *id)
{
    NetnsId now;
    bool is_ns;
    int r = netns_path_id(path, &now, &is_ns);
    if (r < 0)
        return r;
    if (!is_ns || !id_matches(id, &now))
        return -ESTALE;
    /*
     * A window remains between the check and the unmount (someone with
     * root could swap the pin in between); UMOUNT_NOFOLLOW at least keeps a
     * symlink from leading the unmount elsewhere. MNT_DETACH: processes
     * still inside keep the namespace alive; the name is gone at once, as
     * with ip netns del.
     */
    if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0)
        return -errno;
    return unlink(path) < 0 && errno != ENOENT ? -errno : 0;
}

int netns_remove_placeholder(const char *path, const NetnsId *id)
{
    NetnsId now;
    bool is_ns;
    int r = netns_path_id(path, &now, &is_ns);
    if (r < 0)
        return r;
    if (is_ns || now.dev != id->dev || now.ino != id->ino)
        return -ESTALE;
    return unlink(path) < 0 ? -errno : 0;
}

int netns_unpin(const char *path)
{
    if (umount2(path, MNT_DETACH | UMOUNT_NOFOLLOW) < 0 && errno != EINVAL && errno != ENOENT)
        return -errno;
    if (unlink(path) < 0)
        return -errno;
    return 0;
}

int netns_pin_inode(const char *path, uint64_t *ret_inode)
{
    NetnsId id;
    bool is_ns;
    int r = netns_path_id(path, &id, &is_ns);
    if (r < 0)
        return r;
    if (!is_ns)
        return -ENOTCONN;
    if (ret_inode)
        *ret_inode = id.ino;
    return 0;
}

int netns_open(const char *path)
{
    return netns_open_verified(path, NULL, NULL);
}

static int real_create_begin(void *userdata, NsWorkers *w, int parent_fd, const NetnsSetup *setup, NetnsJob **ret)
{
    return netns_create_begin(w, parent_fd, setup, ret);
}

static int real_open_verified(void *userdata, const char *path, const NetnsId *want, NetnsId *ret)
{
    return netns_open_verified(path, want, ret);
}

static int real_path_id(void *userdata, const char *path, NetnsId *ret, bool *ret_is_ns)
{
    return netns_path_id(path, ret, ret_is_ns);
}

static int real_unpin_verified(void *userdata, const char *path, const NetnsId *id)
{
    return netns_unpin_verified(path, id);
}

static int real_remove_placeholder(void *userdata, const char *path, const NetnsId *id)
{
    return netns_remove_placeholder(path, id);
}

static int real_sysctl_read(void *userdata, NsWorkers *w, int netns_fd, const char *key, char *buf, size_t size)
{
    return vsock_sysctl_read(w, netns_fd, key, buf, size);
}

const NetnsOps netns_ops_real = {
    .create_begin = real_create_begin,
    .open_verified = real_open_verified,
    .path_id = real_path_id,
    .unpin_verified = real_unpin_verified,
    .remove_placeholder = real_remove_placeholder,
    .sysctl_read = real_sysctl_read,
};

void netns_pin_path(const char *dir, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", dir, name);
}

bool netns_pin_holds(const NetnsOps *ops, void *userdata, const char *dir, const char *name, const NetnsId *want)
{
    char path[PATH_MAX];
    NetnsId now;
    bool is_ns;
    netns_pin_path(dir, name, path, sizeof(path));
    return ops->path_id(userdata, path, &now, &is_ns) == 0 && is_ns && now.ino == want->ino &&
           (!want->dev || now.dev == want->dev);
}
