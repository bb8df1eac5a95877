/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The namespace workers (core/ns-worker.c) with real processes: requests
 * answered in order, a new namespace's fd passed back, a stalled worker
 * (SIGSTOP, as a kernel that never returns) killed at the deadline and
 * replaced, a worker that dies answered -EPROTO, the pool's bound and its
 * idle trim, a stop that answers everything, and no fd of ours in a worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sockios.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/ns-worker.h"
#include "core/vhost.h"
#include "children.h"

/* Linked with --wrap=sendmsg: fail_sends (an errno) makes our sends fail. */
static int fail_sends;
ssize_t __real_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags);
ssize_t __wrap_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    if (fail_sends) {
        errno = fail_sends;
        return -1;
    }
    return __real_sendmsg(fd, msg, flags);
}

/* Waits until pid (a child) has exited: a zombie or gone. */
static void wait_exited(pid_t pid)
{
    int fd = (int) syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return; /* reaped already */
    assert_int_equal(poll(&(struct pollfd) { .fd = fd, .events = POLLIN }, 1, 10000), 1);
    close(fd);
}

typedef struct Answers {
    size_t n;
    int result[64];
    int fd[64];
    NetnsId id[64];
} Answers;

static void on_answer(NsAnswer *a, void *userdata)
{
    Answers *got = userdata;
    assert_true(got->n < 64);
    got->result[got->n] = a->result;
    got->id[got->n] = a->id;
    got->fd[got->n++] = a->fd;
    a->fd = -1; /* taken */
}

typedef struct Pool {
    sd_event *event;
    NsWorkers *w;
    int self;                /* our own netns */
} Pool;

static Pool pool_new(void)
{
    Pool p = {};
    assert_int_equal(sd_event_new(&p.event), 0);
    assert_int_equal(ns_workers_new(&p.w), 0);
    assert_int_equal(ns_workers_attach_event(p.w, p.event), 0);
    p.self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    assert_true(p.self >= 0);
    return p;
}

static void pool_free(Pool *p)
{
    p->w = ns_workers_free(p->w);
    sd_event_unref(p->event);
    close(p->self);
}

static void run_until(Pool *p, Answers *got, size_t n)
{
    while (got->n < n)
        assert_true(sd_event_run(p->event, UINT64_MAX) >= 0);
}

static NsCall *submit_read(Pool *p, Answers *got, int timeout_ms)
{
    NsRequest q = ns_request(NS_OP_SYSCTL_READ, p->self);
    snprintf(q.key, sizeof(q.key), "ns_mode");
    NsCall *c = NULL;
    assert_int_equal(ns_workers_submit(p->w, &q, timeout_ms, on_answer, got, &c), 0);
    return c;
}


/* What our own netns says of a vsock sysctl, read here. */
static int read_here(const char *key)
{
    char buf[32];
    return vsock_sysctl_here(key, NULL, buf, sizeof(buf));
}

/* Answered from the loop, never from within submit; the worker stays. */
static void test_answers(void **state)
{
    Pool p = pool_new();
    Answers got = {};
    submit_read(&p, &got, 0);
    submit_read(&p, &got, 0);
    assert_int_equal(got.n, 0);
    run_until(&p, &got, 2);
    assert_int_equal(got.result[0], read_here("ns_mode"));
    assert_int_equal(got.result[1], read_here("ns_mode"));
    size_t busy;
    assert_true(ns_workers_count(p.w, &busy) >= 1);
    assert_int_equal(busy, 0);
    pool_free(&p);
}

/* One request served, so the pool has its one worker; that worker is then
 * stopped (SIGSTOP: a kernel that never returns). Its pid. */
static pid_t stop_the_worker(Pool *p, Answers *got)
{
    submit_read(p, got, 0);
    run_until(p, got, got->n + 1);
    pid_t pids[NS_WORKERS_MAX];
    assert_int_equal(test_children(pids, NS_WORKERS_MAX), 1);
    assert_int_equal(kill(pids[0], SIGSTOP), 0);
    return pids[0];
}

/* A stalled worker is killed at its deadline and answered -ETIMEDOUT; the
 * calls behind it and the next ones get a fresh worker. */
static void test_stalled_worker(void **state)
{
    Pool p = pool_new();
    Answers got = {};
    pid_t stalled = stop_the_worker(&p, &got);
    NsCall *c = submit_read(&p, &got, 300);
    assert_int_equal(ns_call_worker(c), stalled);
    run_until(&p, &got, 2);
    assert_int_equal(got.result[1], -ETIMEDOUT);
    assert_int_equal(kill(stalled, 0), -1); /* killed and reaped */
    submit_read(&p, &got, 0);
    run_until(&p, &got, 3);
    assert_int_equal(got.result[2], read_here("ns_mode"));
    pid_t pids[NS_WORKERS_MAX];
    assert_int_equal(test_children(pids, NS_WORKERS_MAX), 1);
    assert_int_not_equal(pids[0], stalled);
    pool_free(&p);
}

/* A worker that dies by itself in the middle of a request: -EPROTO. */
static void test_worker_dies(void **state)
{
    Pool p = pool_new();
    Answers got = {};
    pid_t stopped = stop_the_worker(&p, &got);
    NsCall *c = submit_read(&p, &got, 0);
    assert_int_equal(ns_call_worker(c), stopped);
    assert_int_equal(kill(stopped, SIGKILL), 0);
    run_until(&p, &got, 2);
    assert_int_equal(got.result[1], -EPROTO);
    /* An idle one killed behind our back is replaced too. */
    submit_read(&p, &got, 0);
    run_until(&p, &got, 3);
    pid_t pids[NS_WORKERS_MAX];
    assert_int_equal(test_children(pids, NS_WORKERS_MAX), 1);
    assert_int_equal(kill(pids[0], SIGKILL), 0);
    wait_exited(pids[0]);
    submit_read(&p, &got, 0);
    run_until(&p, &got, 4);
    assert_int_equal(got.result[3], read_here("ns_mode"));
    pool_free(&p);
}

/* At most NS_WORKERS_MAX at once, the rest queued in order; idle ones
 * beyond NS_WORKERS_IDLE_MAX are let go. */
static void test_bounded(void **state)
{
    Pool p = pool_new();
    Answers got = {};
    size_t n = NS_WORKERS_MAX + 8;
    for (size_t i = 0; i < n; i++)
        submit_read(&p, &got, 0);
    size_t busy;
    assert_int_equal(ns_workers_count(p.w, &busy), NS_WORKERS_MAX);
    assert_int_equal(busy, NS_WORKERS_MAX);
    run_until(&p, &got, n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(got.result[i], read_here("ns_mode"));
    /* The ones let go exit once they read the end of their socket. */
    pid_t pids[NS_WORKERS_MAX + 1];
    for (int i = 0; i < 200 && test_children(pids, NS_WORKERS_MAX + 1) > NS_WORKERS_IDLE_MAX; i++)
        assert_true(sd_event_run(p.event, 10000) >= 0);
    assert_true(test_children(pids, NS_WORKERS_MAX + 1) <= NS_WORKERS_IDLE_MAX);
    assert_true(ns_workers_count(p.w, NULL) <= NS_WORKERS_IDLE_MAX);
    pool_free(&p);
}

/* A new namespace's fd comes back; the worker itself is back home. */
static void test_make(void **state)
{
    if (geteuid() != 0)
        skip(); /* a new namespace needs root */
    Pool p = pool_new();
    Answers got = {};
    NsRequest q = ns_request(NS_OP_MAKE, -1);
    assert_int_equal(ns_workers_submit(p.w, &q, 0, on_answer, &got, NULL), 0);
    run_until(&p, &got, 1);
    assert_int_equal(got.result[0], 0);
    int fd = got.fd[0];
    assert_true(fd >= 0);
    assert_int_equal(ioctl(fd, NS_GET_NSTYPE), CLONE_NEWNET);
    struct stat made, ours;
    assert_int_equal(fstat(fd, &made), 0);
    assert_int_equal(fstat(p.self, &ours), 0);
    assert_true(made.st_ino == got.id[0].ino && made.st_ino != ours.st_ino);
    /* The worker is back in our namespace. */
    pid_t pids[1] = { 0 };
    assert_int_equal(test_children(pids, 1), 1);
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int) pids[0]);
    struct stat its;
    assert_int_equal(stat(path, &its), 0);
    assert_true(its.st_ino == ours.st_ino);
    close(fd);
    pool_free(&p);
}

/* A worker keeps no fd of ours (a lease's device there would hold its
 * CID), nor any a request passed it: after serving, exactly stdin, stdout,
 * stderr, its socket and its way home. */
static void test_no_fd_of_ours(void **state)
{
    int ours = eventfd(0, EFD_CLOEXEC); /* before the first worker is forked */
    Pool p = pool_new();
    Answers got = {};
    submit_read(&p, &got, 0);
    submit_read(&p, &got, 0);
    run_until(&p, &got, 2);
    pid_t pids[1] = { 0 };
    assert_int_equal(test_children(pids, 1), 1);
    char link[300], target[256];
    int n_fds = 0;
    for (int fd = 0; fd < 1024; fd++) {
        snprintf(link, sizeof(link), "/proc/%d/fd/%d", (int) pids[0], fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
            continue;
        target[n] = '\0';
        assert_null(strstr(target, "eventfd"));
        n_fds++;
    }
    assert_int_equal(n_fds, 5);
    close(ours);
    pool_free(&p);
}

/* A send that fails (not because the worker is gone) is answered with
 * its error from the loop, never from within submit; the next goes on. */
static void test_send_fails(void **state)
{
    Pool p = pool_new();
    Answers got = {};
    fail_sends = ENOBUFS;
    NsCall *c = submit_read(&p, &got, 0);
    assert_non_null(c);
    assert_int_equal(got.n, 0);
    fail_sends = 0;
    run_until(&p, &got, 1);
    assert_int_equal(got.result[0], -ENOBUFS);
    submit_read(&p, &got, 0);
    run_until(&p, &got, 2);
    assert_int_equal(got.result[1], read_here("ns_mode"));
    pool_free(&p);
}

/* Cancelled, a call is never answered; a stop answers every call
 * -ESHUTDOWN, queued or under way, and leaves no worker. */
static void test_cancel_and_stop(void **state)
{
    Pool p = pool_new();
    Answers got = {};
    pid_t stopped = stop_the_worker(&p, &got);
    NsCall *c = submit_read(&p, &got, 0);
    ns_call_cancel(c);
    for (int i = 0; i < 20; i++)
        assert_true(sd_event_run(p.event, 10000) >= 0);
    assert_int_equal(got.n, 1);
    assert_int_equal(kill(stopped, 0), -1); /* its stalled worker was killed */

    size_t n = NS_WORKERS_MAX + 2;
    pid_t pids[NS_WORKERS_MAX];
    for (size_t i = 0; i < n; i++)
        submit_read(&p, &got, 0);
    assert_int_equal(test_children(pids, NS_WORKERS_MAX), NS_WORKERS_MAX);
    for (size_t i = 0; i < NS_WORKERS_MAX; i++)
        kill(pids[i], SIGSTOP);
    ns_workers_stop(p.w);
    assert_int_equal(got.n, 1 + n);
    for (size_t i = 1; i < got.n; i++)
        assert_int_equal(got.result[i], -ESHUTDOWN);
    assert_int_equal(test_children(pids, NS_WORKERS_MAX), 0);
    NsRequest q = ns_request(NS_OP_SYSCTL_READ, p.self);
    assert_int_equal(ns_workers_submit(p.w, &q, 0, on_answer, &got, NULL), -ESHUTDOWN);
    pool_free(&p);
}

/* Without a loop: one request, waited for in poll(), with its deadline. */
static void test_run_sync(void **state)
{
    NsWorkers *w;
    assert_int_equal(ns_workers_new(&w), 0);
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    NsRequest q = ns_request(NS_OP_SYSCTL_READ, self);
    snprintf(q.key, sizeof(q.key), "ns_mode");
    NsAnswer a;
    assert_int_equal(ns_workers_run(w, &q, 0, &a), read_here("ns_mode"));
    pid_t pids[2];
    assert_int_equal(test_children(pids, 2), 1);
    assert_int_equal(kill(pids[0], SIGSTOP), 0);
    assert_int_equal(ns_workers_run(w, &q, 300, &a), -ETIMEDOUT);
    assert_int_equal(kill(pids[0], 0), -1);
    assert_int_equal(ns_workers_run(w, &q, 0, &a), read_here("ns_mode"));
    close(self);
    ns_workers_free(w);
    assert_int_equal(test_children(pids, 2), 0);
}

/* The inode of the network namespace fd is in (a namespace fd itself, or
 * a socket's: SIOCGSKNS). */
static uint64_t netns_ino_of(int fd, bool socket)
{
    int ns = socket ? ioctl(fd, SIOCGSKNS) : dup(fd);
    assert_true(ns >= 0);
    struct stat st;
    assert_int_equal(fstat(ns, &st), 0);
    close(ns);
    return st.st_ino;
}

/* A file opened and a socket made inside a namespace belong to it, not to
 * ours: the worker joined it (vhost.h's netns_open_file, netns_socket). */
static void test_open_and_socket_inside(void **state)
{
    if (geteuid() != 0)
        skip(); /* a new namespace needs root */
    NsWorkers *w;
    assert_int_equal(ns_workers_new(&w), 0);
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    NsRequest q = ns_request(NS_OP_MAKE, -1);
    NsAnswer a;
    assert_int_equal(ns_workers_run(w, &q, 0, &a), 0);
    int made = a.fd;
    assert_true(made >= 0);
    assert_true(netns_ino_of(made, false) != netns_ino_of(self, false));

    int fd = netns_open_file(w, made, "/proc/self/ns/net", O_RDONLY);
    assert_true(fd >= 0);
    assert_true(netns_ino_of(fd, false) == netns_ino_of(made, false));
    close(fd);
    int sock = netns_socket(w, made, AF_UNIX, SOCK_DGRAM, 0);
    assert_true(sock >= 0);
    assert_true(netns_ino_of(sock, true) == netns_ino_of(made, false));
    close(sock);
    /* Our own namespace (-1) needs no worker, and is ours. */
    sock = netns_socket(w, -1, AF_UNIX, SOCK_DGRAM, 0);
    assert_true(sock >= 0);
    assert_true(netns_ino_of(sock, true) == netns_ino_of(self, false));
    close(sock);
    assert_int_equal(netns_open_file(w, made, "/nonexistent", O_RDONLY), -ENOENT);
    close(made);
    close(self);
    ns_workers_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers),
        cmocka_unit_test(test_stalled_worker),
        cmocka_unit_test(test_worker_dies),
        cmocka_unit_test(test_bounded),
        cmocka_unit_test(test_make),
        cmocka_unit_test(test_no_fd_of_ours),
        cmocka_unit_test(test_send_fails),
        cmocka_unit_test(test_cancel_and_stop),
        cmocka_unit_test(test_run_sync),
        cmocka_unit_test(test_open_and_socket_inside),
    };
    return cmocka_run_group_tests_name("namespace workers", tests, NULL, NULL);
}
