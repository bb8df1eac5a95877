/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "netns.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include "shared/macro.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

typedef struct HelperReply {
    int result;
    char out[256];
} HelperReply;

static ssize_t loop_read(int fd, void *buf, size_t size)
{
    size_t done = 0;
    while (done < size) {
        ssize_t n = read(fd, (char *) buf + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        done += n;
    }
    return done;
}

/* The helper's side: join the namespace, run fn, send one HelperReply. */
static _Noreturn void helper_child(int netns_fd, int reply_fd, netns_helper_fn fn, void *userdata)
{
    HelperReply reply = { .result = 0 };

    if (netns_fd >= 0 && setns(netns_fd, CLONE_NEWNET) < 0)
        reply.result = -errno;
    else
        reply.result = fn(userdata, reply.out, sizeof(reply.out));
    reply.out[sizeof(reply.out) - 1] = '\0';
    (void) !write(reply_fd, &reply, sizeof(reply));
    _exit(0);
}

int netns_helper_run(int netns_fd, netns_helper_fn fn, void *userdata, char *out, size_t out_size)
{
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -errno;

    pid_t pid = fork();
    if (pid < 0) {
        int r = -errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return r;
    }
    if (pid == 0) {
        close(pipefd[0]);
        /* Never outlive the daemon half-way through a namespace setup. */
        signal(SIGPIPE, SIG_IGN);
        helper_child(netns_fd, pipefd[1], fn, userdata);
    }

    close(pipefd[1]);
    HelperReply reply;
    ssize_t n = loop_read(pipefd[0], &reply, sizeof(reply));
    close(pipefd[0]);

    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t) sizeof(reply))
        return -EPROTO; /* the helper died before answering */
    if (out && out_size > 0)
        snprintf(out, out_size, "%s", reply.out);
    return reply.result;
}

typedef struct SysctlOp {
    const char *key;
    const char *value; /* NULL: read */
} SysctlOp;

/* Runs in the helper: /proc/sys/net files belong to the opener's netns. */
static int sysctl_in_helper(void *userdata, char *out, size_t out_size)
{
    const SysctlOp *op = userdata;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "/proc/sys/net/vsock/%s", op->key);

    _cleanup_close_ int fd = open(path, (op->value ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (op->value) {
        size_t len = strlen(op->value);
        ssize_t n = write(fd, op->value, len);
        if (n < 0)
            return -errno;
        return (size_t) n == len ? 0 : -EIO;
    }
    ssize_t n = read(fd, out, out_size - 1);
    if (n < 0)
        return -errno;
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    return 0;
}

int vsock_sysctl_read(int netns_fd, const char *key, char *buf, size_t size)
{
    SysctlOp op = { .key = key };
    return netns_helper_run(netns_fd, sysctl_in_helper, &op, buf, size);
}

int vsock_sysctl_write(int netns_fd, const char *key, const char *value)
{
    SysctlOp op = { .key = key, .value = value };
    return netns_helper_run(netns_fd, sysctl_in_helper, &op, NULL, 0);
}

int netns_dir_prepare(const char *dir)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;

    _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* Serialises us against ip netns add doing the same setup. */
    if (flock(fd, LOCK_EX) < 0)
        return -errno;

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

/* Runs in the helper, already inside the parent namespace. */
static int create_in_helper(void *userdata, char *out, size_t out_size)
{
    const NetnsSetup *setup = userdata;

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

    if (setup->g2h_fallback >= 0) {
        SysctlOp op = { .key = "g2h_fallback", .value = setup->g2h_fallback ? "1" : "0" };
        r = sysctl_in_helper(&op, NULL, 0);
        if (r < 0)
            return r;
    }
    if (setup->child_ns_mode) {
        SysctlOp op = { .key = "child_ns_mode", .value = setup->child_ns_mode };
        r = sysctl_in_helper(&op, NULL, 0);
        if (r < 0)
            return r;
    }

    SysctlOp op = { .key = "ns_mode" };
    r = sysctl_in_helper(&op, out, out_size);
    if (r == -ENOENT) /* a kernel without vsock namespaces: all global */
        snprintf(out, out_size, "global");
    else if (r < 0)
        return r;

    if (mount("/proc/self/ns/net", setup->pin_path, "none", MS_BIND, NULL) < 0)
        return -errno;
    return 0;
}

int netns_create_pinned(int parent_fd, const NetnsSetup *setup, NetnsCreated *ret)
{
    /* The placeholder: O_EXCL makes a second creator of the name fail. */
    int fd = open(setup->pin_path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    close(fd);

    char mode[sizeof(ret->ns_mode)] = "";
    int r = netns_helper_run(parent_fd, create_in_helper, (void *) setup, mode, sizeof(mode));
    if (r == 0)
        r = netns_pin_inode(setup->pin_path, &ret->inode);
    if (r < 0) {
        netns_unpin(setup->pin_path);
        return r;
    }
    snprintf(ret->ns_mode, sizeof(ret->ns_mode), "%s", mode);
    return 0;
}

int netns_unpin(const char *path)
{
    /* MNT_DETACH: processes still inside keep the namespace alive; the name
     * is gone at once, as with ip netns del. */
    if (umount2(path, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        return -errno;
    if (unlink(path) < 0)
        return -errno;
    return 0;
}

int netns_pin_inode(const char *path, uint64_t *ret_inode)
{
    struct statfs sfs;
    struct stat st;

    if (statfs(path, &sfs) < 0 || stat(path, &st) < 0)
        return -errno;
    if (sfs.f_type != NSFS_MAGIC)
        return -ENOTCONN;
    if (ret_inode)
        *ret_inode = st.st_ino;
    return 0;
}

int netns_open(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    return fd < 0 ? -errno : fd;
}
