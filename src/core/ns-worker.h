/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one way vsocknsd acts inside another network namespace: "run
 * operation X in namespace Y within a deadline, and give me its result and
 * any fd it made": making, pinning and probing namespaces, their sysctls,
 * and the files and sockets that must be opened inside one to belong to it
 * (a vhost-vsock device, a sock_diag socket).
 *
 * setns() and unshare() change only the calling thread, and no thread of
 * vsocknsd ever leaves the host netns. The operations run in workers:
 * long-lived processes forked from vsocknsd, each fed one request at a time
 * over a SOCK_SEQPACKET socket pair, the namespaces it needs passed in with
 * SCM_RIGHTS and an fd it made (a new namespace) passed back the same way.
 * A worker returns to the host netns after every request, or exits.
 *
 * NsWorkers owns them: at most NS_WORKERS_MAX at once, forked when a
 * request finds none idle, the rest of the requests queued in order; idle
 * ones beyond NS_WORKERS_IDLE_MAX are let go. Each request has a deadline;
 * a worker that passes it (a kernel that stalls) is killed with SIGKILL
 * through its pidfd, and its request is answered -ETIMEDOUT once the pidfd
 * says the worker is gone (so whatever it was doing is over); the next
 * request gets a fresh worker. A worker that dies by itself answers
 * -EPROTO. Workers are reaped with waitid(WNOHANG) once their pidfd is
 * readable, never with a blocking wait, and all of them are killed when
 * the pool is stopped. A worker keeps no fd of vsocknsd's but its socket,
 * so it never holds a lease's device, and it dies with vsocknsd
 * (PR_SET_PDEATHSIG). Between fork() and its first close_range() a new
 * worker does hold copies of every fd for a few microseconds: a lease
 * released in that moment is free that much later than vsocknsd thinks,
 * and an AcquireLease of that CID right then may get CidInUse (and mark it
 * held outside until the next recheck). Workers are forked when a request
 * finds none idle (a burst, a replacement, growing back after idle ones
 * were let go), so this window is rare, not impossible; forking workers
 * from a first worker that holds nothing would close it, at the cost of
 * one more process. The first is forked when the loop is attached.
 *
 * A worker the kernel never lets go of, even after SIGKILL (stuck in an
 * uninterruptible sleep), leaves its request unanswered: "answered once
 * the worker is gone" is what makes "nothing is left" true. At shutdown,
 * after a few seconds, such a request is answered -EINPROGRESS: whatever
 * the worker was doing may still happen, so a caller keeps its records for
 * the next start to settle.
 *
 * With a loop (ns_workers_attach_event) requests are asynchronous;
 * ns_workers_run() waits for one answer in poll() (start-up, and quick
 * operations with short deadlines).
 *
 * A worker names itself "vsockns-idle" or, while it serves a request,
 * "vsockns-busy" (its comm, as ps(1) shows it).
 */
#pragma once

#include <limits.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "isolation.h"
#include "netns.h"

#define NS_WORKERS_MAX 16
#define NS_WORKERS_IDLE_MAX 2

typedef enum NsOp {
    NS_OP_SYSCTL_READ,     /* fds[0]: the namespace; key → text */
    NS_OP_SYSCTL_WRITE,    /* fds[0]; key = value */
    NS_OP_CHILD_MODE_LOCK, /* fds[0]; value: the mode → text "FOUND OWN", then the write's result */
    NS_OP_MAKE,            /* fds[0]: the parent (-1: the host); g2h_fallback, value: child_ns_mode or ""
                            * → fd: the new namespace, text: its ns_mode, id, g2h_fallback */
    NS_OP_PIN,             /* fds[0]: the namespace; path: where to bind-mount it */
    NS_OP_PROBE,           /* fds[0]: the namespace, fds[1]: its parent (-1: the host) → report */
    NS_OP_OPEN,            /* fds[0]; path, args[0]: open flags → fd: the file, opened in there */
    NS_OP_SOCKET,          /* fds[0]; args: domain, type, protocol → fd: a socket of that namespace */
    _NS_OP_MAX,
} NsOp;

typedef struct NsRequest {
    NsOp op;
    int fds[2];            /* -1 where unused; the caller keeps its own */
    int g2h_fallback;      /* NS_OP_MAKE: -1 leave alone, else write 0/1 */
    int args[3];           /* NS_OP_OPEN, NS_OP_SOCKET */
    char key[32];
    char value[16];
    char path[PATH_MAX];
} NsRequest;

typedef struct NsAnswer {
    int result;            /* 0 or a negative errno: the operation's own, or -ETIMEDOUT (past the
                            * deadline), -EPROTO (the worker died), -ESHUTDOWN (stopped),
                            * -EINPROGRESS (stopped, and the worker was not gone), -EMFILE (its
                            * answer's fd could not be taken), -ENXIO/-ENOBUFS/... (not sent) */
    char text[64];
    NetnsId id;            /* NS_OP_MAKE */
    int g2h_fallback;      /* NS_OP_MAKE: -1 if the kernel has none */
    int fd;                /* NS_OP_MAKE, NS_OP_OPEN, NS_OP_SOCKET: what was made; take it (set to -1),
                            * else it is closed */
    IsolationReport report; /* NS_OP_PROBE */
} NsAnswer;

/* A request with its fds unset (-1). */
NsRequest ns_request(NsOp op, int fd0);

typedef struct NsWorkers NsWorkers;
typedef struct NsCall NsCall;

/* Called exactly once per submitted call, from the loop (never from within
 * ns_workers_submit), unless the call is cancelled first. */
typedef void (*ns_answer_fn)(NsAnswer *a, void *userdata);

int ns_workers_new(NsWorkers **ret);
/* The deadline of requests that name none (timeout_ms <= 0): 10 s unless
 * set (vsocknsd-faults --worker-timeout, for tests that stall on purpose). */
void ns_workers_set_timeout(NsWorkers *w, int timeout_ms);
int ns_workers_timeout(const NsWorkers *w);
int ns_workers_attach_event(NsWorkers *w, sd_event *event);

/* Queues req (its fds are copied) with a deadline timeout_ms from now. A
 * pool that cannot fork a single worker fails here. */
int ns_workers_submit(NsWorkers *w, const NsRequest *req, int timeout_ms, ns_answer_fn done, void *userdata,
                      NsCall **ret);
/* Forgets a call: done is not called. A worker serving it is killed (it
 * may be stalled in the kernel) and reaped once gone. */
void ns_call_cancel(NsCall *c);
/* For shutdown: kills the call's worker, waits (at most a few seconds) for
 * it to be gone, then answers the call -ESHUTDOWN (-EINPROGRESS if it is
 * not gone), before returning. */
void ns_call_stop(NsCall *c);
/* The pid of the worker serving c (0 while it waits for one). */
pid_t ns_call_worker(const NsCall *c);

/* One request, waiting for its answer in poll(): start-up, and the quick
 * operations that callers cannot wait for on the loop (a sysctl, opening a
 * device or socket inside a namespace: vhost.h), each with a short
 * deadline. It takes an idle worker, or forks one (so at most one beyond
 * NS_WORKERS_MAX). The caller owns ret->fd. -EINPROGRESS: past the
 * deadline, and the killed worker was not gone a few seconds later. */
int ns_workers_run(NsWorkers *w, const NsRequest *req, int timeout_ms, NsAnswer *ret);

/* How many workers there are, and how many serve a request now. */
size_t ns_workers_count(const NsWorkers *w, size_t *ret_busy);

/* Kills every worker (all at once), then answers every call -ESHUTDOWN
 * (-EINPROGRESS for one whose worker was not gone a few seconds later). */
void ns_workers_stop(NsWorkers *w);
NsWorkers *ns_workers_free(NsWorkers *w);
