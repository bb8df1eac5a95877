/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "ns-worker.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/fault.h"
#include "shared/log.h"
#include "shared/macro.h"
#include "shared/process.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* How long a stop waits for a killed worker to be gone. */
#define STOP_WAIT_MS 5000

typedef struct Worker Worker;

struct Worker {
    NsWorkers *pool;
    pid_t pid;
    int pidfd, sock;       /* pidfd -1: the kernel (or valgrind) has no pidfd_open() */
    bool reaped;
    sd_event_source *sock_source, *exit_source;
    NsCall *call;          /* served now; NULL: idle */
    bool killed;           /* by a deadline: its call is answered -ETIMEDOUT */
    int error;             /* its socket failed us (killed): the call's answer */
    bool leaving;          /* let go or killed: takes no more calls */
    Worker *next;
};

struct NsCall {
    NsWorkers *pool;
    NsRequest req;         /* with the pool's own copies of the fds */
    ns_answer_fn done;
    void *userdata;
    sd_event_source *deadline;
    Worker *worker;        /* serving it; NULL while queued */
    int error;             /* failed before a worker had it: answered from the deadline source */
    NsCall *next;          /* in the queue */
};

struct NsWorkers {
    sd_event *event;
    Worker *workers;
    size_t n_workers;
    NsCall *queue;         /* waiting for a worker, oldest first */
    int timeout_ms;        /* a request's deadline unless it names one */
    bool stopped;
};

NsRequest ns_request(NsOp op, int fd0)
{
    return (NsRequest) { .op = op, .fds = { fd0, -1 }, .g2h_fallback = -1 };
}

static NsAnswer answer_empty(int result)
{
    return (NsAnswer) { .result = result, .fd = -1, .g2h_fallback = -1 };
}

/* ---- the wire: one message, up to two fds ---- */

static ssize_t send_msg(int sock, const void *buf, size_t len, const int *fds, size_t n_fds, int flags)
{
    struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(2 * sizeof(int))];
    } control = {};
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (n_fds > 0) {
        msg.msg_control = &control;
        msg.msg_controllen = CMSG_SPACE(n_fds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(n_fds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, n_fds * sizeof(int));
    }
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL | flags);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

/* Receives one message and up to two fds (*ret_n_fds of them, O_CLOEXEC);
 * 0 at end-of-file. */
static ssize_t recv_msg(int sock, void *buf, size_t len, int fds[2], size_t *ret_n_fds, int flags)
{
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(2 * sizeof(int))];
    } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                          .msg_controllen = sizeof(control) };
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
    while (n < 0 && errno == EINTR);
    *ret_n_fds = 0;
    if (n < 0)
        return -errno;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int got[2];
        memcpy(got, CMSG_DATA(c), (k < 2 ? k : 2) * sizeof(int));
        for (size_t i = 0; i < k && i < 2; i++) {
            if (*ret_n_fds < 2)
                fds[(*ret_n_fds)++] = got[i];
            else
                close(got[i]);
        }
    }
    if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t) n != len) {
        for (size_t i = 0; i < *ret_n_fds; i++)
            close(fds[i]);
        *ret_n_fds = 0;
        return n == 0 ? 0 : -EPROTO;
    }
    return n;
}

/* ---- the worker's side (a forked process, free to switch namespaces) ---- */

static int enter(int ns_fd)
{
    return ns_fd >= 0 && setns(ns_fd, CLONE_NEWNET) < 0 ? -errno : 0;
}

static void go_home(int home_fd)
{
    if (setns(home_fd, CLONE_NEWNET) < 0)
        _exit(EXIT_FAILURE); /* never serve another request in the wrong namespace */
}

static int make_here(const NsRequest *q, NsAnswer *a)
{
    /* Tests only: a kernel that stalls in the middle of a creation. */
    FAULT_STALL("create-helper-stall");
    int r = netns_make_here(q->g2h_fallback, q->value[0] ? q->value : NULL, a->text, sizeof(a->text),
                            &a->g2h_fallback);
    if (r < 0)
        return r;
    struct stat st;
    a->fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (a->fd < 0 || fstat(a->fd, &st) < 0)
        return -errno;
    a->id = (NetnsId) { .dev = st.st_dev, .ino = st.st_ino };
    return 0;
}

static void serve(int home_fd, const NsRequest *q, NsAnswer *a)
{
    if (q->op == NS_OP_PROBE) {
        FAULT_STALL("isolation-probe-stall");
        isolation_probe_here(home_fd, q->fds[0], q->fds[1], &a->report);
        return;
    }
    if (q->fds[0] < 0 && q->op != NS_OP_MAKE)
        return (void) (a->result = -EBADF); /* never act on the host netns by mistake */
    a->result = enter(q->fds[0]);
    if (a->result < 0)
        return;
    switch (q->op) {
    case NS_OP_SYSCTL_READ:
        a->result = vsock_sysctl_here(q->key, NULL, a->text, sizeof(a->text));
        break;
    case NS_OP_SYSCTL_WRITE:
        a->result = vsock_sysctl_here(q->key, q->value, NULL, 0);
        break;
    case NS_OP_CHILD_MODE_LOCK:
        a->result = vsock_child_mode_lock_here(q->value, a->text, sizeof(a->text));
        break;
    case NS_OP_MAKE:
        a->result = make_here(q, a);
        break;
    case NS_OP_OPEN:
        a->fd = open(q->path, q->args[0] | O_CLOEXEC);
        a->result = a->fd < 0 ? -errno : 0;
        break;
    case NS_OP_SOCKET:
        /* Tests only: a kernel that stalls making a vsock socket. */
        if (q->args[0] == AF_VSOCK)
            FAULT_STALL("vsock-socket-stall");
        a->fd = socket(q->args[0], q->args[1] | SOCK_CLOEXEC, q->args[2]);
        a->result = a->fd < 0 ? -errno : 0;
        break;
    case NS_OP_PIN:
        /* /proc/self/ns/net is this thread's namespace: the one joined. */
        a->result = mount("/proc/self/ns/net", q->path, "none", MS_BIND, NULL) < 0 ? -errno : 0;
        /* Tests only: a kernel that stalls once the namespace is pinned. */
        if (a->result == 0)
            FAULT_STALL("pin-stall");
        break;
    default:
        a->result = -EOPNOTSUPP;
    }
    go_home(home_fd);
}

static _Noreturn void worker_main(int sock, pid_t daemon)
{
    /* A copy of a lease's vhost device kept here would hold its CID (and
     * a VM's memory) after release: keep nothing but the socket. */
    close_all_fds_but(&sock, 1);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != daemon)
        _exit(EXIT_FAILURE);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_IGN);
    int home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (home_fd < 0)
        _exit(EXIT_FAILURE);
    for (;;) {
        (void) prctl(PR_SET_NAME, "vsockns-idle");
        NsRequest q;
        int fds[2];
        size_t n_fds;
        ssize_t n = recv_msg(sock, &q, sizeof(q), fds, &n_fds, 0);
        if (n == 0)
            _exit(EXIT_SUCCESS); /* let go, or vsocknsd is gone */
        if (n < 0)
            _exit(EXIT_FAILURE);
        (void) prctl(PR_SET_NAME, "vsockns-busy");
        /* The fds came in the order of the request's slots that had one. */
        for (size_t i = 0, k = 0; i < 2; i++)
            q.fds[i] = q.fds[i] >= 0 && k < n_fds ? fds[k++] : -1;
        q.path[sizeof(q.path) - 1] = q.key[sizeof(q.key) - 1] = q.value[sizeof(q.value) - 1] = '\0';
        NsAnswer a = answer_empty(0);
        serve(home_fd, &q, &a);
        for (size_t i = 0; i < n_fds; i++)
            close(fds[i]);
        n = send_msg(sock, &a, sizeof(a), &a.fd, a.fd >= 0, 0);
        if (a.fd >= 0)
            close(a.fd);
        if (n < 0)
            _exit(EXIT_FAILURE);
    }
}

/* ---- vsocknsd's side ---- */

static void dispatch(NsWorkers *w);
static int on_worker_answer(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static int on_worker_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static void worker_reap_later(Worker *wk);
static void worker_gone(Worker *wk);
static bool worker_wait_gone(Worker *wk, uint64_t deadline);

static void worker_kill(Worker *wk, bool by_deadline)
{
    if ((!wk->leaving || by_deadline) && !wk->reaped) {
        if (wk->pidfd >= 0)
            (void) syscall(SYS_pidfd_send_signal, wk->pidfd, SIGKILL, NULL, 0);
        else
            (void) kill(wk->pid, SIGKILL); /* not reaped yet: still ours */
    }
    wk->killed |= by_deadline;
    wk->leaving = true;
}

/* Reaps the worker if it has exited, never waiting: whether it is reaped. */
static bool worker_reap(Worker *wk)
{
    if (!wk->reaped) {
        siginfo_t si = {};
        int r = wk->pidfd >= 0 ? waitid((idtype_t) P_PIDFD, (id_t) wk->pidfd, &si, WEXITED | WNOHANG)
                               : waitid(P_PID, (id_t) wk->pid, &si, WEXITED | WNOHANG);
        wk->reaped = r == 0 ? si.si_pid != 0 : errno == ECHILD;
    }
    return wk->reaped;
}

/* The worker is gone (its pidfd readable) or must be forgotten: reaped
 * without waiting, then unlinked and freed. */
static void worker_free(Worker *wk)
{
    NsWorkers *w = wk->pool;
    for (Worker **p = &w->workers; *p; p = &(*p)->next)
        if (*p == wk) {
            *p = wk->next;
            break;
        }
    w->n_workers--;
    worker_reap(wk);
    sd_event_source_disable_unref(wk->sock_source);
    sd_event_source_disable_unref(wk->exit_source);
    close(wk->sock);
    if (wk->pidfd >= 0)
        close(wk->pidfd);
    free(wk);
}

static int worker_watch(NsWorkers *w, Worker *wk)
{
    if (!w->event)
        return 0;
    int r = sd_event_add_io(w->event, &wk->sock_source, wk->sock, EPOLLIN, on_worker_answer, wk);
    if (r >= 0 && wk->pidfd >= 0)
        r = sd_event_add_io(w->event, &wk->exit_source, wk->pidfd, EPOLLIN, on_worker_exit, wk);
    return r;
}

static int worker_spawn(NsWorkers *w, Worker **ret)
{
    Worker *wk = calloc(1, sizeof(*wk));
    if (!wk)
        return -ENOMEM;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        free(wk);
        return -errno;
    }
    pid_t daemon = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        worker_main(sv[1], daemon);
    }
    int r = pid < 0 ? -errno : 0;
    close(sv[1]);
    /* Without a pidfd (valgrind has no pidfd_open()), the end of its
     * socket says when it exits, and a timer reaps it. */
    int pidfd = r < 0 ? -1 : (int) syscall(SYS_pidfd_open, pid, 0);
    if (r < 0) {
        close(sv[0]);
        free(wk);
        return r;
    }
    *wk = (Worker) { .pool = w, .pid = pid, .pidfd = pidfd, .sock = sv[0], .next = w->workers };
    w->workers = wk;
    w->n_workers++;
    r = worker_watch(w, wk);
    if (r < 0) {
        /* Killed, and reaped later if worker_free() is too soon (a zombie
         * until vsocknsd exits: only when the loop is out of memory). */
        worker_kill(wk, false);
        worker_free(wk);
        return r;
    }
    *ret = wk;
    return 0;
}

static Worker *idle_worker(NsWorkers *w, size_t *ret_idle)
{
    Worker *found = NULL;
    size_t idle = 0;
    for (Worker *wk = w->workers; wk; wk = wk->next)
        if (!wk->call && !wk->leaving) {
            found = found ?: wk;
            idle++;
        }
    if (ret_idle)
        *ret_idle = idle;
    return found;
}

static int worker_send(Worker *wk, const NsRequest *req)
{
    int fds[2];
    size_t n = 0;
    for (size_t i = 0; i < 2; i++)
        if (req->fds[i] >= 0)
            fds[n++] = req->fds[i];
    /* The worker reads one request at a time: its socket has room. */
    ssize_t r = send_msg(wk->sock, req, sizeof(*req), fds, n, MSG_DONTWAIT);
    return r < 0 ? (int) r : 0;
}

static void call_free(NsCall *c)
{
    for (size_t i = 0; i < 2; i++)
        if (c->req.fds[i] >= 0)
            close(c->req.fds[i]);
    sd_event_source_disable_unref(c->deadline);
    free(c);
}

static void queue_remove(NsCall *c)
{
    for (NsCall **p = &c->pool->queue; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    c->next = NULL;
}

/* Answers c (detached from queue and worker) and frees it. */
static void call_answer(NsCall *c, NsAnswer *a)
{
    c->deadline = sd_event_source_disable_unref(c->deadline);
    c->done(a, c->userdata);
    if (a->fd >= 0)
        close(a->fd);
    call_free(c);
}

static void call_answer_error(NsCall *c, int r)
{
    NsAnswer a = answer_empty(r);
    call_answer(c, &a);
}

/* A call that failed before any worker had it: it stays in the queue
 * (skipped by dispatch, answered by a stop) and is answered from its
 * deadline source, made due now, so never from within submit. */
static void call_fail_later(NsCall *c, int r)
{
    c->error = r;
    if (sd_event_source_set_time(c->deadline, 1) < 0 ||
        sd_event_source_set_enabled(c->deadline, SD_EVENT_ONESHOT) < 0)
        log_warning("Cannot answer a failed namespace request");
}

/* Reads the answer a worker sent, if there is one: 1 if there was. */
static int worker_read(Worker *wk, NsAnswer *a, int flags)
{
    int fds[2];
    size_t n_fds;
    ssize_t n = recv_msg(wk->sock, a, sizeof(*a), fds, &n_fds, flags);
    if (n <= 0)
        return n == -EAGAIN ? 0 : (n == 0 ? -EPIPE : (int) n);
    for (size_t i = 1; i < n_fds; i++)
        close(fds[i]);
    a->fd = n_fds > 0 ? fds[0] : -1;
    return 1;
}

/* One worker fewer than wanted idle: let it go (end-of-file makes it exit). */
static void worker_let_go(Worker *wk)
{
    wk->leaving = true;
    (void) shutdown(wk->sock, SHUT_RDWR);
}

static int on_worker_answer(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    Worker *wk = userdata;
    NsAnswer a;
    int r = worker_read(wk, &a, MSG_DONTWAIT);
    if (r == 0)
        return 0;
    if (r < 0) {
        /* Its end is closed (it exits), or its answer could not be read
         * (no fd slot for the one it passed: MSG_CTRUNC): a worker that
         * failed us is not trusted with more; its call gets the reason. */
        sd_event_source_set_enabled(wk->sock_source, SD_EVENT_OFF);
        if (r != -EPIPE && r != -ECONNRESET) {
            wk->error = r == -EPROTO ? -EMFILE : r;
            worker_kill(wk, false);
        }
        if (wk->pidfd < 0)
            worker_reap_later(wk);
        return 0;
    }
    NsCall *c = wk->call;
    wk->call = NULL;
    if (c) {
        c->worker = NULL;
        call_answer(c, &a);
    } else if (a.fd >= 0)
        close(a.fd); /* the call was cancelled */
    size_t idle;
    NsWorkers *w = wk->pool;
    if (!wk->call && idle_worker(w, &idle) && idle > NS_WORKERS_IDLE_MAX && !w->queue)
        worker_let_go(wk);
    dispatch(w);
    return 0;
}

static int on_worker_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    Worker *wk = userdata;
    worker_gone(wk);
    return 0;
}

/* Without a pidfd: the end of its socket says it is exiting; it is reaped
 * from a timer (every 10 ms) once it has. */
static int on_reap_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
    Worker *wk = userdata;
    if (worker_reap(wk)) {
        worker_gone(wk);
        return 0;
    }
    sd_event_source_set_time_relative(s, 10 * 1000);
    return sd_event_source_set_enabled(s, SD_EVENT_ONESHOT);
}

static void worker_reap_later(Worker *wk)
{
    if (wk->exit_source)
        return;
    int r = sd_event_add_time_relative(wk->pool->event, &wk->exit_source, CLOCK_MONOTONIC, 0, 0, on_reap_timer, wk);
    if (r < 0)
        log_warning_errno(r, "Cannot watch namespace worker %d: %m", (int) wk->pid);
}

static void worker_gone(Worker *wk)
{
    NsWorkers *w = wk->pool;
    NsCall *c = wk->call;
    NsAnswer a;
    /* An answer sent just before the end counts. */
    int r = c ? worker_read(wk, &a, MSG_DONTWAIT) : 0;
    wk->call = NULL;
    bool killed = wk->killed;
    int error = wk->error;
    pid_t pid = wk->pid;
    worker_free(wk);
    if (c) {
        c->worker = NULL;
        if (r > 0)
            call_answer(c, &a);
        else {
            if (!killed && !error)
                log_warning("Namespace worker %d died in the middle of a request", (int) pid);
            call_answer_error(c, killed ? -ETIMEDOUT : error ? error : -EPROTO);
        }
    }
    dispatch(w);
}

/* Hands queued calls to idle workers, forking new ones while allowed. */
static NsCall *first_waiting(NsWorkers *w)
{
    NsCall *c = w->queue;
    while (c && c->error)
        c = c->next;
    return c;
}

static void dispatch(NsWorkers *w)
{
    NsCall *c;
    while ((c = first_waiting(w)) && !w->stopped) {
        Worker *wk = idle_worker(w, NULL);
        if (!wk && w->n_workers >= NS_WORKERS_MAX)
            return;
        int r = wk ? 0 : worker_spawn(w, &wk);
        if (r < 0) {
            log_warning_errno(r, "Cannot start a namespace worker: %m");
            if (w->n_workers > 0)
                return; /* the next one to finish takes the queue on */
            call_fail_later(c, r);
            continue;
        }
        r = worker_send(wk, &c->req);
        if (r == -EPIPE || r == -ECONNRESET) {
            worker_kill(wk, false); /* gone: its exit source frees it */
            continue;
        }
        if (r < 0) {
            call_fail_later(c, r);
            continue;
        }
        queue_remove(c);
        wk->call = c;
        c->worker = wk;
    }
}

static int on_deadline(sd_event_source *s, uint64_t usec, void *userdata)
{
    NsCall *c = userdata;
    if (c->error) {
        queue_remove(c);
        call_answer_error(c, c->error);
        return 0;
    }
    if (c->worker) {
        log_warning("Namespace worker %d did not answer in time; killing it", (int) c->worker->pid);
        worker_kill(c->worker, true); /* answered once it is gone */
        return 0;
    }
    queue_remove(c);
    call_answer_error(c, -ETIMEDOUT);
    return 0;
}

int ns_workers_new(NsWorkers **ret)
{
    NsWorkers *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->timeout_ms = NS_WORKER_TIMEOUT_MS_DEFAULT;
    *ret = w;
    return 0;
}

void ns_workers_set_timeout(NsWorkers *w, int timeout_ms)
{
    w->timeout_ms = timeout_ms;
}

int ns_workers_timeout(const NsWorkers *w)
{
    return w->timeout_ms;
}

int ns_workers_attach_event(NsWorkers *w, sd_event *event)
{
    if (w->event)
        return -EBUSY;
    w->event = sd_event_ref(event);
    for (Worker *wk = w->workers; wk; wk = wk->next) {
        int r = worker_watch(w, wk);
        if (r < 0)
            return r;
    }
    /* One worker now, before any lease can be released: see the header
     * on fork(). */
    Worker *wk;
    return w->workers ? 0 : worker_spawn(w, &wk);
}

static int copy_fds(NsRequest *q)
{
    for (size_t i = 0; i < 2; i++) {
        if (q->fds[i] < 0)
            continue;
        q->fds[i] = fcntl(q->fds[i], F_DUPFD_CLOEXEC, 3);
        if (q->fds[i] < 0) {
            int r = -errno;
            if (i == 1 && q->fds[0] >= 0)
                close(q->fds[0]);
            q->fds[0] = q->fds[1] = -1;
            return r;
        }
    }
    return 0;
}

int ns_workers_submit(NsWorkers *w, const NsRequest *req, int timeout_ms, ns_answer_fn done, void *userdata,
                      NsCall **ret)
{
    if (w->stopped)
        return -ESHUTDOWN;
    if (!w->event)
        return -ENXIO;
    NsCall *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    *c = (NsCall) { .pool = w, .req = *req, .done = done, .userdata = userdata };
    if (timeout_ms <= 0)
        timeout_ms = w->timeout_ms;
    int r = copy_fds(&c->req);
    if (r >= 0)
        r = sd_event_add_time_relative(w->event, &c->deadline, CLOCK_MONOTONIC, (uint64_t) timeout_ms * 1000, 0,
                                       on_deadline, c);
    if (r < 0) {
        call_free(c);
        return r;
    }
    NsCall **tail = &w->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    /* No worker to be had at all: say so now rather than never. */
    if (!idle_worker(w, NULL) && w->n_workers == 0) {
        Worker *wk;
        r = worker_spawn(w, &wk);
        if (r < 0) {
            queue_remove(c);
            call_free(c);
            return r;
        }
    }
    dispatch(w);
    if (ret)
        *ret = c;
    return 0;
}

void ns_call_cancel(NsCall *c)
{
    if (!c)
        return;
    if (c->worker) {
        c->worker->call = NULL;
        worker_kill(c->worker, false);
    } else
        queue_remove(c);
    call_free(c);
}

/* Waits for a killed worker to be gone, at most STOP_WAIT_MS. */
/* Waits until deadline (CLOCK_MONOTONIC, usec) at most. */
static bool worker_wait_gone(Worker *wk, uint64_t deadline)
{
    while (!worker_reap(wk)) {
        uint64_t now = clock_usec(CLOCK_MONOTONIC);
        if (now >= deadline) {
            log_warning("Namespace worker %d is still there %d s after SIGKILL", (int) wk->pid, STOP_WAIT_MS / 1000);
            return false;
        }
        /* Without a pidfd, look again every 10 ms. */
        int left = (int) ((deadline - now) / 1000) + 1;
        (void) poll(&(struct pollfd) { .fd = wk->pidfd, .events = POLLIN }, wk->pidfd >= 0, wk->pidfd >= 0 ? left : 10);
    }
    return true;
}

void ns_call_stop(NsCall *c)
{
    Worker *wk = c->worker;
    int r = -ESHUTDOWN;
    if (wk) {
        wk->call = NULL;
        c->worker = NULL;
        worker_kill(wk, false);
        if (!worker_wait_gone(wk, clock_usec(CLOCK_MONOTONIC) + STOP_WAIT_MS * 1000ULL))
            r = -EINPROGRESS; /* still at it: its exit source reaps it */
        else
            worker_free(wk);
    } else
        queue_remove(c);
    call_answer_error(c, r);
}

pid_t ns_call_worker(const NsCall *c)
{
    return c->worker ? c->worker->pid : 0;
}

int ns_workers_run(NsWorkers *w, const NsRequest *req, int timeout_ms, NsAnswer *ret)
{
    *ret = answer_empty(0);
    if (w->stopped)
        return ret->result = -ESHUTDOWN;
    Worker *wk = NULL;
    int r = -EPIPE;
    /* An idle worker may have died since: one more try, on a fresh one. */
    for (int attempt = 0; attempt < 2 && (r == -EPIPE || r == -ECONNRESET); attempt++) {
        if (wk)
            worker_kill(wk, false); /* its exit source (or the next stop) frees it */
        wk = attempt == 0 ? idle_worker(w, NULL) : NULL;
        r = wk ? 0 : worker_spawn(w, &wk);
        if (r >= 0)
            r = worker_send(wk, req);
        else
            wk = NULL;
    }
    if (r < 0) {
        if (wk)
            worker_kill(wk, false);
        return ret->result = r;
    }
    if (timeout_ms <= 0)
        timeout_ms = w->timeout_ms;
    struct pollfd p[2] = { { .fd = wk->sock, .events = POLLIN }, { .fd = wk->pidfd, .events = POLLIN } };
    uint64_t deadline = clock_usec(CLOCK_MONOTONIC) + (uint64_t) timeout_ms * 1000;
    for (;;) {
        uint64_t now = clock_usec(CLOCK_MONOTONIC);
        int n = now >= deadline ? 0 : poll(p, 2, (int) ((deadline - now + 999) / 1000));
        if (n < 0 && errno == EINTR)
            continue;
        if (n > 0 && (r = worker_read(wk, ret, MSG_DONTWAIT)) == 0)
            continue;
        if (n > 0 && r > 0) {
            /* A worker forked for this one may serve calls queued meanwhile. One
             * more than NS_WORKERS_MAX at most: these calls come one at a time. */
            if (w->event)
                dispatch(w);
            return ret->result;
        }
        /* Nothing in time, or it died without an answer. */
        bool died = n > 0;
        worker_kill(wk, false);
        if (!worker_wait_gone(wk, clock_usec(CLOCK_MONOTONIC) + STOP_WAIT_MS * 1000ULL))
            return ret->result = -EINPROGRESS; /* still at it: left to its exit source */
        worker_free(wk);
        return ret->result = died ? -EPROTO : -ETIMEDOUT;
    }
}

size_t ns_workers_count(const NsWorkers *w, size_t *ret_busy)
{
    size_t busy = 0;
    for (Worker *wk = w->workers; wk; wk = wk->next)
        busy += wk->call != NULL;
    if (ret_busy)
        *ret_busy = busy;
    return w->n_workers;
}

void ns_workers_stop(NsWorkers *w)
{
    if (!w)
        return;
    w->stopped = true;
    /* Kill them all first, then wait for them within one deadline: a
     * stop takes STOP_WAIT_MS at most, however many are stuck. */
    for (Worker *wk = w->workers; wk; wk = wk->next)
        worker_kill(wk, false);
    uint64_t deadline = clock_usec(CLOCK_MONOTONIC) + STOP_WAIT_MS * 1000ULL;
    while (w->workers) {
        Worker *wk = w->workers;
        NsCall *c = wk->call;
        wk->call = NULL;
        bool gone = worker_wait_gone(wk, deadline);
        worker_free(wk);
        if (c) {
            c->worker = NULL;
            call_answer_error(c, gone ? -ESHUTDOWN : -EINPROGRESS);
        }
    }
    while (w->queue) {
        NsCall *c = w->queue;
        queue_remove(c);
        call_answer_error(c, -ESHUTDOWN);
    }
}

NsWorkers *ns_workers_free(NsWorkers *w)
{
    if (!w)
        return NULL;
    ns_workers_stop(w);
    sd_event_unref(w->event);
    free(w);
    return NULL;
}
