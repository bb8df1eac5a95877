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

#include "shared/fault.h"
#include "shared/macro.h"
#include "shared/process.h"

#ifndef NSFS_MAGIC
#define NSFS_MAGIC 0x6e736673
#endif

typedef struct HelperReply {
    int result;
    char out[256];
    uint64_t dev, ino;           /* create: the new namespace */
    int g2h_fallback;            /* create: its g2h_fallback, -1 if none */
} HelperReply;

static uint64_t now_ms(void)
{
    return clock_usec(CLOCK_MONOTONIC) / 1000;
}

int netns_helper_timeout_ms = NETNS_HELPER_TIMEOUT_MS_DEFAULT;

/* Reads one reply from a helper, waiting at most netns_helper_timeout_ms:
 * the size read, or -ETIMEDOUT. A helper that died reads short. */
static ssize_t read_reply(int fd, HelperReply *reply)
{
    uint64_t deadline = now_ms() + netns_helper_timeout_ms;
    size_t done = 0;
    while (done < sizeof(*reply)) {
        uint64_t now = now_ms();
        if (now >= deadline)
            return -ETIMEDOUT;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int n = poll(&p, 1, (int) (deadline - now));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -ETIMEDOUT;
        ssize_t got = read(fd, (char *) reply + done, sizeof(*reply) - done);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got < 0)
            return -errno;
        if (got == 0)
            break;
        done += got;
    }
    return done;
}

/* Reaps a helper; one that is stuck (we gave up waiting) is killed first. */
static void reap_helper(pid_t pid, bool kill_it)
{
    if (kill_it)
        kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* The helper's side: join the namespace, run fn, send one HelperReply. */
static _Noreturn void helper_child(int netns_fd, int reply_fd, netns_helper_fn fn, void *userdata)
{
    HelperReply reply = { .result = 0 };

    close_all_fds_but((int[]) { netns_fd, reply_fd }, 2);
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
    ssize_t n = read_reply(pipefd[0], &reply);
    close(pipefd[0]);
    reap_helper(pid, n == -ETIMEDOUT);
    if (n < 0)
        return (int) n;
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

/* Reads or writes one vsock sysctl of the caller's netns (/proc/sys/net
 * files belong to the netns of whoever opens them): in a helper, that is
 * the namespace it joined. */
static int sysctl_here(void *userdata, char *out, size_t out_size)
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
    if (out_size == 0)
        return -EINVAL;
    ssize_t n = read(fd, out, out_size - 1);
    if (n < 0)
        return -errno;
    out[n] = '\0';
    out[strcspn(out, "\n")] = '\0';
    return 0;
}

/* Our own netns needs no helper: its sysctls are read and written here. */
static int sysctl_run(int netns_fd, SysctlOp *op, char *out, size_t out_size)
{
    if (netns_fd < 0)
        return sysctl_here(op, out, out_size);
    return netns_helper_run(netns_fd, sysctl_here, op, out, out_size);
}

int vsock_sysctl_read(int netns_fd, const char *key, char *buf, size_t size)
{
    SysctlOp op = { .key = key };
    if (size > 0)
        buf[0] = '\0';
    return sysctl_run(netns_fd, &op, buf, size);
}

int vsock_sysctl_write(int netns_fd, const char *key, const char *value)
{
    SysctlOp op = { .key = key, .value = value };
    return sysctl_run(netns_fd, &op, NULL, 0);
}

/* In the helper: child_ns_mode and ns_mode as they were, as "FOUND OWN" in
 * out, then the write of child_ns_mode (which checks and locks). */
static int child_mode_lock_here(void *userdata, char *out, size_t out_size)
{
    char found[VSOCK_MODE_TEXT_MAX] = "?", own[VSOCK_MODE_TEXT_MAX] = "?";
    SysctlOp read_found = { .key = "child_ns_mode" }, read_own = { .key = "ns_mode" };
    SysctlOp lock = { .key = "child_ns_mode", .value = userdata };
    if (sysctl_here(&read_found, found, sizeof(found)) < 0 || !found[0] || strchr(found, ' '))
        snprintf(found, sizeof(found), "?");
    if (sysctl_here(&read_own, own, sizeof(own)) < 0 || !own[0] || strchr(own, ' '))
        snprintf(own, sizeof(own), "?");
    snprintf(out, out_size, "%s %s", found, own);
    return sysctl_here(&lock, NULL, 0);
}

int vsock_child_mode_lock(int netns_fd, const char *want, char found[static VSOCK_MODE_TEXT_MAX],
                          char own[static VSOCK_MODE_TEXT_MAX])
{
    char answer[2 * VSOCK_MODE_TEXT_MAX + 1] = "";
    int r = netns_helper_run(netns_fd, child_mode_lock_here, (void *) want, answer, sizeof(answer));
    snprintf(found, VSOCK_MODE_TEXT_MAX, "?");
    snprintf(own, VSOCK_MODE_TEXT_MAX, "?");
    char *space = strchr(answer, ' ');
    if (space) {
        *space = '\0';
        snprintf(found, VSOCK_MODE_TEXT_MAX, "%s", answer);
        snprintf(own, VSOCK_MODE_TEXT_MAX, "%s", space + 1);
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
    uint64_t deadline = now_ms() + netns_helper_timeout_ms;
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

/* Runs in the helper, already inside the parent namespace: makes the
 * namespace and sets it up, but does not pin it. out: its ns_mode. */
static int create_in_helper(const NetnsSetup *setup, char *out, size_t out_size, int *ret_g2h_fallback)
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

    if (setup->g2h_fallback >= 0) {
        SysctlOp op = { .key = "g2h_fallback", .value = setup->g2h_fallback ? "1" : "0" };
        r = sysctl_here(&op, NULL, 0);
        if (r < 0)
            return r;
    }
    if (setup->child_ns_mode) {
        SysctlOp op = { .key = "child_ns_mode", .value = setup->child_ns_mode };
        r = sysctl_here(&op, NULL, 0);
        if (r < 0)
            return r;
    }

    SysctlOp op = { .key = "ns_mode" };
    r = sysctl_here(&op, out, out_size);
    if (r == -ENOENT) /* a kernel without vsock namespaces: all global */
        snprintf(out, out_size, "global");
    else if (r < 0)
        return r;
    /* Read here, while in it: asking later would take another helper. */
    char g2h[8];
    op = (SysctlOp) { .key = "g2h_fallback" };
    *ret_g2h_fallback = sysctl_here(&op, g2h, sizeof(g2h)) < 0 ? -1 : streq(g2h, "1");
    return 0;
}

/*
 * The creating helper, in two steps so that the daemon can record the new
 * namespace's identity before it is pinned: it makes the namespace and
 * reports (result, mode, dev/ino); then it waits for one byte, 'y' to pin
 * it, anything else (or the daemon going away) to exit without pinning.
 */
static _Noreturn void create_child(int parent_fd, const NetnsSetup *setup, int reply_fd, int go_fd)
{
    close_all_fds_but((int[]) { parent_fd, reply_fd, go_fd }, 3);
    /* Tests only: a kernel that stalls in the middle of a creation. */
    FAULT_STALL("create-helper-stall");
    HelperReply reply = { .result = 0, .g2h_fallback = -1 };
    struct stat st;
    if (parent_fd >= 0 && setns(parent_fd, CLONE_NEWNET) < 0)
        reply.result = -errno;
    else
        reply.result = create_in_helper(setup, reply.out, sizeof(reply.out), &reply.g2h_fallback);
    if (reply.result == 0 && stat("/proc/self/ns/net", &st) < 0)
        reply.result = -errno;
    if (reply.result == 0) {
        reply.dev = st.st_dev;
        reply.ino = st.st_ino;
    }
    if (write(reply_fd, &reply, sizeof(reply)) != sizeof(reply) || reply.result < 0)
        _exit(0);
    char go = 0;
    if (read(go_fd, &go, 1) != 1 || go != 'y')
        _exit(0);
    reply = (HelperReply) { .result = 0 };
    if (mount("/proc/self/ns/net", setup->pin_path, "none", MS_BIND, NULL) < 0)
        reply.result = -errno;
    (void) !write(reply_fd, &reply, sizeof(reply));
    _exit(0);
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

typedef enum HelperStage {
    HELPER_WAIT_MADE,     /* for the report that the namespace exists */
    HELPER_WAIT_PINNED,   /* told to pin it: for the report of the bind mount */
    HELPER_WAIT_EXIT,     /* the result is known: for the helper to be gone */
} HelperStage;

/* The daemon's side of one creating helper. */
struct NetnsHelper {
    pid_t pid;
    int go_fd;               /* 'y' or 'n' once the namespace is recorded */
    HelperStage stage;
    bool killed;             /* netns_job_cancel(): the answer is -ETIMEDOUT */
    HelperReply reply;       /* being read */
    size_t got;
    char *pin_path;
    netns_record_fn record;
    void *userdata;
};

static NetnsJob *job_new(void)
{
    NetnsJob *j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    j->fd = j->ns_fd = -1;
    j->created.g2h_fallback = -1;
    return j;
}

/* The helper is gone and j->result is known: reap it and leave nothing but
 * what succeeded (a pinned namespace, held as j->ns_fd). */
static void job_settle(NetnsJob *j)
{
    struct NetnsHelper *h = j->helper;
    /* Its end of the pipe closed as it exited: this wait is short. */
    while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    j->pid = 0;
    close(j->fd);
    j->fd = -1;
    if (h->go_fd >= 0)
        close(h->go_fd);
    NetnsCreated *c = &j->created;
    if (j->result < 0) {
        /* Only what is still ours: the namespace (if the bind got that
         * far), else the bare placeholder. */
        if (c->id.ino == 0 || netns_unpin_verified(h->pin_path, &c->id) == -ESTALE)
            netns_remove_placeholder(h->pin_path, &c->placeholder);
    } else {
        /* Hold the namespace that is pinned there now, if it is still ours. */
        int fd = netns_open_verified(h->pin_path, &c->id, NULL);
        if (fd < 0)
            j->result = fd;
        else
            j->ns_fd = fd;
    }
    free(h->pin_path);
    free(h);
    j->helper = NULL;
}

/* One whole reply has arrived: act on it. */
static void job_on_reply(NetnsJob *j)
{
    struct NetnsHelper *h = j->helper;
    h->got = 0;
    if (h->stage == HELPER_WAIT_PINNED) {
        j->result = h->reply.result;
        h->stage = HELPER_WAIT_EXIT;
        return;
    }
    int r = h->reply.result;
    if (r == 0) {
        NetnsCreated *c = &j->created;
        snprintf(c->ns_mode, sizeof(c->ns_mode), "%.15s", h->reply.out);
        c->id = (NetnsId) { .dev = h->reply.dev, .ino = h->reply.ino };
        c->g2h_fallback = h->reply.g2h_fallback;
        r = h->record ? h->record(h->userdata, NETNS_STAGE_MADE, c) : 0;
        /* It waits for the word (after a failure of its own it does not:
         * it has exited, and a write would meet a closed pipe). */
        (void) !write(h->go_fd, r == 0 ? "y" : "n", 1);
    }
    close(h->go_fd);
    h->go_fd = -1;
    if (r == 0)
        h->stage = HELPER_WAIT_PINNED;
    else {
        j->result = r;
        h->stage = HELPER_WAIT_EXIT;
    }
}

int netns_job_step(NetnsJob *j)
{
    struct NetnsHelper *h = j->helper;
    if (!h)
        return 0;
    for (;;) {
        char discard[sizeof(HelperReply)];
        char *into = h->stage == HELPER_WAIT_EXIT ? discard : (char *) &h->reply + h->got;
        size_t want = h->stage == HELPER_WAIT_EXIT ? sizeof(discard) : sizeof(h->reply) - h->got;
        ssize_t n = read(j->fd, into, want);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return -EAGAIN;
        if (n <= 0) {
            /* The helper is gone (or the pipe broke): was that the end? */
            if (h->stage != HELPER_WAIT_EXIT)
                j->result = h->killed ? -ETIMEDOUT : n < 0 ? -errno : -EPROTO;
            job_settle(j);
            return 0;
        }
        if (h->stage == HELPER_WAIT_EXIT)
            continue;
        h->got += n;
        if (h->got == sizeof(h->reply))
            job_on_reply(j);
    }
}

void netns_job_cancel(NetnsJob *j)
{
    struct NetnsHelper *h = j->helper;
    if (!h || h->killed || h->stage == HELPER_WAIT_EXIT)
        return; /* nothing under way, or it is exiting by itself */
    /* It answers with end-of-file once dead (netns_job_step). */
    kill(h->pid, SIGKILL);
    h->killed = true;
}

int netns_job_wait(NetnsJob *j, int timeout_ms)
{
    uint64_t deadline = now_ms() + (uint64_t) timeout_ms;
    while (netns_job_step(j) == -EAGAIN) {
        uint64_t now = now_ms();
        if (now >= deadline)
            netns_job_cancel(j); /* then wait for it to be gone */
        struct pollfd p = { .fd = j->fd, .events = POLLIN };
        if (poll(&p, 1, now >= deadline ? -1 : (int) (deadline - now)) < 0 && errno != EINTR)
            return -errno;
    }
    return j->result;
}

NetnsJob *netns_job_free(NetnsJob *j)
{
    if (!j)
        return NULL;
    if (j->helper) {
        netns_job_cancel(j);
        netns_job_wait(j, 0);
    }
    if (j->ns_fd >= 0)
        close(j->ns_fd);
    free(j);
    return NULL;
}

/* Starts the helper of a creation whose placeholder exists. */
static int job_start_helper(NetnsJob *j, int parent_fd, const NetnsSetup *setup)
{
    struct NetnsHelper *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->go_fd = -1;
    h->pin_path = strdup(setup->pin_path);
    int reply[2] = { -1, -1 }, go[2] = { -1, -1 };
    int r = 0;
    if (!h->pin_path)
        r = -ENOMEM;
    /* Non-blocking: the loop reads what is there and goes on; the helper's
     * few hundred bytes always fit. */
    else if (pipe2(reply, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(go, O_CLOEXEC) < 0)
        r = -errno;
    pid_t pid = r < 0 ? -1 : fork();
    if (pid == 0) {
        signal(SIGPIPE, SIG_IGN);
        create_child(parent_fd, setup, reply[1], go[0]);
    }
    if (r == 0 && pid < 0)
        r = -errno;
    if (reply[1] >= 0)
        close(reply[1]);
    if (go[0] >= 0)
        close(go[0]);
    if (r < 0) {
        if (reply[0] >= 0)
            close(reply[0]);
        if (go[1] >= 0)
            close(go[1]);
        free(h->pin_path);
        free(h);
        return r;
    }
    h->pid = j->pid = pid;
    h->go_fd = go[1];
    h->stage = HELPER_WAIT_MADE;
    j->fd = reply[0];
    j->helper = h;
    return 0;
}

int netns_create_begin(int parent_fd, const NetnsSetup *setup, netns_record_fn record, void *userdata,
                       NetnsJob **ret)
{
    NetnsJob *j = job_new();
    if (!j)
        return -ENOMEM;
    /* The placeholder: O_EXCL makes a second creator of the name fail. */
    int fd = open(setup->pin_path, O_RDONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) {
        free(j);
        return -errno;
    }
    int r = fd_id(fd, &j->created.placeholder);
    close(fd);
    if (r == 0 && record)
        r = record(userdata, NETNS_STAGE_PLACEHOLDER, &j->created);
    if (r == 0)
        r = job_start_helper(j, parent_fd, setup);
    if (r < 0) {
        netns_remove_placeholder(setup->pin_path, &j->created.placeholder);
        free(j);
        return r;
    }
    j->helper->record = record;
    j->helper->userdata = userdata;
    *ret = j;
    return 0;
}

int netns_create_pinned(int parent_fd, const NetnsSetup *setup, int *ret_fd, NetnsCreated *ret)
{
    NetnsJob *j;
    int r = netns_create_begin(parent_fd, setup, NULL, NULL, &j);
    if (r < 0)
        return r;
    r = netns_job_wait(j, netns_helper_timeout_ms);
    *ret = j->created;
    if (r == 0) {
        *ret_fd = j->ns_fd;
        j->ns_fd = -1;
    }
    netns_job_free(j);
    return r;
}

/* The device of the kernel's one nsfs, once a fstatfs() has shown it: a
 * file on that device is on nsfs without asking again (1,000 pins to verify
 * at a start are 1,000 system calls fewer). */
static dev_t nsfs_dev;

static int check_nsfs(int fd, const NetnsId *got)
{
    if (nsfs_dev != 0 && got->dev == nsfs_dev)
        return 0;
    struct statfs sfs;
    if (fstatfs(fd, &sfs) < 0)
        return -errno;
    if (sfs.f_type != NSFS_MAGIC)
        return -ENOTCONN;
    nsfs_dev = got->dev;
    return 0;
}

int netns_open_verified(const char *path, const NetnsId *want, NetnsId *ret)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP ? -ENOTCONN : -errno;
    NetnsId got;
    int r = fd_id(fd, &got);
    if (r == 0)
        r = check_nsfs(fd, &got);
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

static int real_create_begin(void *userdata, int parent_fd, const NetnsSetup *setup, netns_record_fn record,
                             void *record_userdata, NetnsJob **ret)
{
    return netns_create_begin(parent_fd, setup, record, record_userdata, ret);
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

static int real_sysctl_read(void *userdata, int netns_fd, const char *key, char *buf, size_t size)
{
    return vsock_sysctl_read(netns_fd, key, buf, size);
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
