/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "isolation.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "shared/fault.h"
#include "shared/macro.h"
#include "shared/process.h"

#define TOKEN_LEN 16

const char *isolation_path_to_string(IsolationPath p)
{
    static const char *const names[_ISOLATION_PATH_MAX] = {
        [ISOLATION_INSIDE] = "inside",
        [ISOLATION_FROM_HOST] = "from-host",
        [ISOLATION_FROM_SIBLING] = "from-sibling",
        [ISOLATION_TO_HOST] = "to-host",
    };
    return (unsigned) p < _ISOLATION_PATH_MAX ? names[p] : NULL;
}

const char *isolation_path_description(IsolationPath p)
{
    static const char *const text[_ISOLATION_PATH_MAX] = {
        [ISOLATION_INSIDE] = "a client inside to a listener inside",
        [ISOLATION_FROM_HOST] = "a client in the host netns to a listener inside",
        [ISOLATION_FROM_SIBLING] = "a client in a new sibling namespace to a listener inside",
        [ISOLATION_TO_HOST] = "a client inside to a listener in the host netns",
    };
    return (unsigned) p < _ISOLATION_PATH_MAX ? text[p] : NULL;
}

bool isolation_expected(VsockMode m, IsolationPath p)
{
    /* Loopback inside one namespace always works; across namespaces only
     * between global ones (the host is global). A sibling has our mode. */
    return p == ISOLATION_INSIDE || m == VSOCK_MODE_GLOBAL;
}

void isolation_outcome_describe(const IsolationOutcome *o, char *buf, size_t size)
{
    if (o->reached)
        snprintf(buf, size, "reached");
    else if (o->other_listener)
        snprintf(buf, size, "connected, but not to the probe's listener");
    else
        snprintf(buf, size, "refused: %s (%s)", strerrorname_np(o->error) ?: "?", strerror(o->error));
}

/* ---- the probe (run by a namespace worker, free to switch namespaces) ---- */

typedef struct Prober {
    int home_fd;        /* the host netns we came from */
    IsolationReport *report;
} Prober;

static int step_failed(Prober *p, const char *step, int r)
{
    p->report->error = r;
    snprintf(p->report->failed_step, sizeof(p->report->failed_step), "%s", step);
    return r;
}

/* A vsock socket that belongs to ns_fd; the prober is back home after. */
static int socket_in(Prober *p, int ns_fd)
{
    if (setns(ns_fd, CLONE_NEWNET) < 0)
        return -errno;
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int r = fd < 0 ? -errno : fd;
    if (setns(p->home_fd, CLONE_NEWNET) < 0)
        _exit(EXIT_FAILURE); /* never carry on in the wrong namespace */
    return r;
}

/* A listener on a free port of ns_fd; *ret_port gets the port. */
static int listener_in(Prober *p, int ns_fd, unsigned *ret_port)
{
    int fd = socket_in(p, ns_fd);
    if (fd < 0)
        return fd;
    struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY, .svm_port = VMADDR_PORT_ANY };
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *) &a, sizeof(a)) < 0 || listen(fd, 4) < 0 ||
        getsockname(fd, (struct sockaddr *) &a, &len) < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    *ret_port = a.svm_port;
    return fd;
}

static bool wait_readable(int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    return poll(&pfd, 1, ISOLATION_CONNECT_TIMEOUT_MS) == 1;
}

/* One connection from from_fd to (loopback, port); our listener hands the
 * client the token, which tells our listener from anyone else's. */
static void connect_from(Prober *p, int from_fd, int listen_fd, unsigned port, const char *token, IsolationOutcome *o)
{
    int c = socket_in(p, from_fd);
    if (c < 0) {
        o->error = -c;
        return;
    }
    struct timeval tv = { .tv_sec = ISOLATION_CONNECT_TIMEOUT_MS / 1000 };
    (void) setsockopt(c, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
    struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_LOCAL, .svm_port = port };
    if (connect(c, (struct sockaddr *) &a, sizeof(a)) < 0) {
        o->error = errno;
        close(c);
        return;
    }
    int s = wait_readable(listen_fd) ? accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC) : -1;
    char got[TOKEN_LEN] = "";
    if (s >= 0 && write(s, token, TOKEN_LEN) == TOKEN_LEN && wait_readable(c) && read(c, got, TOKEN_LEN) == TOKEN_LEN &&
        memcmp(got, token, TOKEN_LEN) == 0)
        o->reached = true;
    else
        o->other_listener = true;
    if (s >= 0)
        close(s);
    close(c);
}

static void make_token(char token[TOKEN_LEN])
{
    unsigned char raw[TOKEN_LEN / 2];
    if (getrandom(raw, sizeof(raw), 0) != sizeof(raw))
        memset(raw, 0x5a, sizeof(raw));
    for (size_t i = 0; i < sizeof(raw); i++) {
        token[2 * i] = "0123456789abcdef"[raw[i] >> 4];
        token[2 * i + 1] = "0123456789abcdef"[raw[i] & 15];
    }
}

static int read_ns_mode(Prober *p, int ns_fd)
{
    if (setns(ns_fd, CLONE_NEWNET) < 0)
        return step_failed(p, "join the namespace", -errno);
    FILE *f = fopen("/proc/sys/net/vsock/ns_mode", "re");
    if (f) {
        if (fscanf(f, "%15s", p->report->ns_mode) != 1)
            p->report->ns_mode[0] = '\0';
        fclose(f);
    } else
        snprintf(p->report->ns_mode, sizeof(p->report->ns_mode), "global"); /* before 7.0: all global */
    if (setns(p->home_fd, CLONE_NEWNET) < 0)
        _exit(EXIT_FAILURE);
    return 0;
}

/* A namespace made inside parent_fd, as vsockns makes children there. */
static int sibling_of(Prober *p, int parent_fd)
{
    if (parent_fd >= 0 && setns(parent_fd, CLONE_NEWNET) < 0)
        return -errno;
    int fd = unshare(CLONE_NEWNET) < 0 ? -errno : open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (fd == -1)
        fd = -errno;
    if (setns(p->home_fd, CLONE_NEWNET) < 0)
        _exit(EXIT_FAILURE);
    return fd;
}

static int probe(Prober *p, int ns_fd, int parent_fd)
{
    IsolationReport *rep = p->report;
    int r = read_ns_mode(p, ns_fd);
    if (r < 0)
        return r;
    unsigned port, host_port;
    char token[TOKEN_LEN], host_token[TOKEN_LEN];
    make_token(token);
    make_token(host_token);
    /* The worker lives on: nothing of the probe may stay open in it. */
    _cleanup_close_ int listen_fd = listener_in(p, ns_fd, &port);
    if (listen_fd < 0)
        return step_failed(p, "listen inside", listen_fd);
    _cleanup_close_ int host_listen_fd = listener_in(p, p->home_fd, &host_port);
    if (host_listen_fd < 0)
        return step_failed(p, "listen in the host netns", host_listen_fd);
    _cleanup_close_ int sibling_fd = sibling_of(p, parent_fd);
    if (sibling_fd < 0)
        return step_failed(p, "make a sibling namespace", sibling_fd);

    connect_from(p, ns_fd, listen_fd, port, token, &rep->path[ISOLATION_INSIDE]);
    connect_from(p, p->home_fd, listen_fd, port, token, &rep->path[ISOLATION_FROM_HOST]);
    connect_from(p, sibling_fd, listen_fd, port, token, &rep->path[ISOLATION_FROM_SIBLING]);
    connect_from(p, ns_fd, host_listen_fd, host_port, host_token, &rep->path[ISOLATION_TO_HOST]);
    return 0;
}

void isolation_probe_here(int home_fd, int ns_fd, int parent_fd, IsolationReport *ret)
{
    *ret = (IsolationReport) { .error = 0 };
    Prober p = { .home_fd = home_fd, .report = ret };
    probe(&p, ns_fd, parent_fd);
}
