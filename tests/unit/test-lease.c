/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lease logic of the manager against a fake kernel: CID spaces, the
 * pick strategies, CIDs held outside vsockns, release rules, and the
 * reconciliation after a restart.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <signal.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/lease-fds.h"
#include "core/manager.h"
#include "core/state.h"
#include "fake-netns.h"

/* The fake kernel: CIDs "held outside" per pin path, and a switch that makes
 * every CID busy. Returned fds are eventfds, so closing them is real. */
typedef struct FakeKernel {
    const char *outside_ns; /* NULL: the host */
    uint32_t outside[8];
    size_t n_outside;
    bool all_busy;
    int fail;               /* else every reservation fails with this */
    unsigned calls;
} FakeKernel;

static int fake_reserve(void *userdata, const char *ns, int netns_fd, uint32_t cid)
{
    FakeKernel *k = userdata;
    k->calls++;
    if (k->all_busy)
        return -EADDRINUSE;
    if (k->fail)
        return k->fail;
    bool same_ns = (!ns && !k->outside_ns) || (ns && k->outside_ns && strcmp(ns, k->outside_ns) == 0);
    for (size_t i = 0; same_ns && i < k->n_outside; i++)
        if (k->outside[i] == cid)
            return -EADDRINUSE;
    return eventfd(0, EFD_CLOEXEC);
}

static const LeaseKernelOps fake_ops = { .reserve_cid = fake_reserve };
static char state_dir[] = "/tmp/vsockns-test-lease.XXXXXX";
static FakeKernel kernel;

static FakeNetns fake_netns;

/* A managed namespace, pinned (in the fake) where the manager looks. */
static void add_ns(Manager *m, const char *name, VsockMode mode)
{
    Namespace *ns = namespace_new(&(Namespace) { .mode = mode, .g2h_fallback = -1, .fd = -1 });
    assert_non_null(ns);
    snprintf(ns->name, sizeof(ns->name), "%s", name);
    assert_int_equal(ns_table_add(&m->namespaces, ns), 0); /* manager_free() frees it */
    char pin[512];
    snprintf(pin, sizeof(pin), "%s/%s", m->config.netns_dir, name);
    NetnsId id = fake_netns_plant(&fake_netns, pin, true);
    ns->dev = id.dev;
    ns->inode = id.ino;
}

static Manager *make_manager(void)
{
    ManagerConfig c;
    manager_config_default(&c);
    snprintf(c.state_dir, sizeof(c.state_dir), "%s", state_dir);
    snprintf(c.netns_dir, sizeof(c.netns_dir), "%s", state_dir);
    Manager *m;
    assert_int_equal(manager_new(&c, &m), 0);
    m->kernel_support = KERNEL_SUPPORT_NAMESPACES;
    m->kernel = &fake_ops;
    memset(&kernel, 0, sizeof(kernel));
    m->kernel_userdata = &kernel;
    fake_netns_init(&fake_netns, state_dir);
    m->netns = &fake_netns_ops;
    m->netns_userdata = &fake_netns;
    add_ns(m, "a", VSOCK_MODE_LOCAL);
    add_ns(m, "b", VSOCK_MODE_LOCAL);
    add_ns(m, "g1", VSOCK_MODE_GLOBAL);
    add_ns(m, "g2", VSOCK_MODE_GLOBAL);
    return m;
}

/* The manager on a loop of its own: bound processes watched, lease
 * devices kept by lease-fds in that mode (without NOTIFY_SOCKET, the fd
 * store's calls fail: nothing is stored, and a barrier settles at once). */
static sd_event *attach_loop(Manager *m, LeaseFdsMode mode)
{
    sd_event *event = NULL;
    assert_int_equal(sd_event_new(&event), 0);
    assert_int_equal(manager_attach_event(m, event, mode), 0);
    sd_event_unref(event); /* the manager keeps a reference */
    return event;
}

/* Runs the loop until every ticket is done. */
static void settle(Manager *m)
{
    for (int i = 0; i < 600 && lease_fds_pending(m->fds); i++)
        assert_true(sd_event_run(m->event, 100000) >= 0);
    assert_false(lease_fds_pending(m->fds));
}

static void teardown_manager(Manager *m)
{
    manager_free(m);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s/leases", state_dir);
    assert_int_equal(system(cmd), 0);
}

/* Acquires; returns the CID, or 0 with the error name in *err. */
static uint32_t acquire(Manager *m, const char *ns, uint32_t cid, const char *owner, const char *strategy,
                        bool reserve, ErrorKind *err)
{
    LeaseRequest req = { .ns = ns, .cid = cid, .owner = owner, .strategy = strategy, .reserve = reserve,
                         .uid = 1000, .bind_pidfd = -1 };
    static ManagerError e;
    Lease *l = NULL;
    memset(&e, 0, sizeof(e));
    int r = manager_acquire_lease(m, &req, &l, &e);
    if (err)
        *err = r < 0 ? e.kind : ERROR_NONE;
    if (r < 0) {
        assert_int_not_equal(e.kind, ERROR_NONE);
        return 0;
    }
    assert_true(reserve ? l->fd >= 0 : l->fd < 0);
    return l->rec.cid;
}

static void test_spaces(void **state)
{
    Manager *m = make_manager();
    ErrorKind err;
    assert_int_equal(acquire(m, "a", 42, "vm-a", NULL, true, &err), 42);
    assert_int_equal(acquire(m, "b", 42, "vm-b", NULL, true, &err), 42);       /* own space */
    assert_int_equal(acquire(m, "a", 42, "again", NULL, true, &err), 0);
    assert_int_equal(err, ERROR_CID_IN_USE);
    assert_int_equal(acquire(m, "g1", 42, "vm-g", NULL, true, &err), 42);      /* global space */
    assert_int_equal(acquire(m, "g2", 42, "x", NULL, true, &err), 0);          /* shared with g1 */
    assert_int_equal(err, ERROR_CID_IN_USE);
    assert_int_equal(acquire(m, ".host", 42, "x", NULL, true, &err), 0);
    assert_int_equal(m->n_leases, 3);
    assert_non_null(manager_find_lease(m, "g1", 42));
    assert_null(manager_find_lease(m, "g2", 42)); /* held in the space, but g1's */
    teardown_manager(m);
}

static int note_cid(Lease *l, void *userdata)
{
    char *buf = userdata;
    snprintf(buf + strlen(buf), 256 - strlen(buf), "%s:%u ", l->rec.ns, l->rec.cid);
    return 0;
}

static int release_it(Lease *l, void *userdata)
{
    manager_drop_lease(userdata, l, "test");
    return 0;
}

/* Each namespace's leases are listed and counted from its own set: another
 * namespace of the same (global) space never shows up, order is by CID. */
static void test_per_namespace_sets(void **state)
{
    Manager *m = make_manager();
    ErrorKind err;
    uint32_t cids[] = { 900, 7, 55, 3000 };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(acquire(m, "g1", cids[i], "x", NULL, true, &err), cids[i]);
        assert_int_equal(acquire(m, "g2", cids[i] + 1, "x", NULL, true, &err), cids[i] + 1);
    }
    assert_int_equal(acquire(m, ".host", 5, "x", NULL, true, &err), 5);
    assert_int_equal(acquire(m, "a", 7, "x", NULL, true, &err), 7);
    char seen[256] = "";
    assert_int_equal(manager_foreach_lease(m, "g1", note_cid, seen), 0);
    assert_string_equal(seen, "g1:7 g1:55 g1:900 g1:3000 ");
    assert_int_equal(manager_namespace_lease_count(m, manager_find(m, "g2")), 4);
    assert_int_equal(manager_find(m, "g1")->leases.n, 4);
    seen[0] = '\0';
    assert_int_equal(manager_foreach_lease(m, ".host", note_cid, seen), 0);
    assert_string_equal(seen, ".host:5 ");
    seen[0] = '\0';
    assert_int_equal(manager_foreach_lease(m, "", note_cid, seen), 0);
    assert_string_equal(seen, ".host:5 a:7 g1:7 g1:55 g1:900 g1:3000 g2:8 g2:56 g2:901 g2:3001 ");
    /* Dropping the leases a walk is given is fine. */
    assert_int_equal(manager_foreach_lease(m, "g2", release_it, m), 0);
    assert_int_equal(manager_namespace_lease_count(m, manager_find(m, "g2")), 0);
    assert_int_equal(manager_namespace_lease_count(m, manager_find(m, "g1")), 4);
    assert_int_equal(m->n_leases, 6);
    assert_int_equal(acquire(m, "g1", 8, "x", NULL, true, &err), 8); /* g2's 8 is free again */
    teardown_manager(m);
}

/* A namespace worker that did not answer in time (a stalled kernel, an
 * overloaded machine) is named as such, not as the kernel's refusal;
 * nothing is leased, and the next try works. */
static void test_worker_timeout_named(void **state)
{
    Manager *m = make_manager();
    kernel.fail = -ETIMEDOUT;
    LeaseRequest req = { .ns = "a", .cid = 42, .owner = "z", .reserve = true, .bind_pidfd = -1 };
    ManagerError e = {};
    assert_int_equal(manager_acquire_lease(m, &req, NULL, &e), -ETIMEDOUT);
    assert_int_equal(e.kind, ERROR_KERNEL);
    assert_non_null(strstr(e.message, "Cannot reserve CID 42 in a: the namespace worker opening /dev/vhost-vsock there did not answer within 2 s"));
    assert_int_equal(m->n_leases, 0);
    kernel.fail = 0;
    e = (ManagerError) {};
    assert_int_equal(manager_acquire_lease(m, &req, NULL, &e), 0);
    assert_int_equal(m->n_leases, 1);
    teardown_manager(m);
}

/* CID_MIN of "a" was just released and its fd is still open somewhere:
 * an explicit AcquireLease is refused with a sentence naming who holds it,
 * and the CID stays marked releasing (not "held outside"). */
static void expect_released_a_moment_ago(Manager *m, CidMap *map, const char *holder)
{
    kernel.outside_ns = "a";
    kernel.outside[kernel.n_outside++] = CID_MIN;
    LeaseRequest req = { .ns = "a", .cid = CID_MIN, .owner = "z", .reserve = true, .bind_pidfd = -1 };
    ManagerError e = {};
    assert_int_equal(manager_acquire_lease(m, &req, NULL, &e), -EADDRINUSE);
    assert_int_equal(e.kind, ERROR_CID_IN_USE);
    assert_non_null(strstr(e.message, "released a moment ago"));
    assert_non_null(strstr(e.message, holder));
    assert_true(cid_map_get(map, CID_MIN) == CID_RELEASING);
    kernel.n_outside = 0;
}

/* With an fd store, an ended lease's CID stays marked until systemd is known
 * to have closed its copy: picks skip it, an explicit request says why; the
 * store settles by itself, on the loop, with no call from anyone. */
static void test_releasing_marks(void **state)
{
    Manager *m = make_manager();
    attach_loop(m, LEASE_FDS_FD_STORE);
    ErrorKind err;
    assert_int_equal(acquire(m, "a", 0, "x", NULL, true, &err), CID_MIN);
    CidMap *map = &manager_find(m, "a")->space->map; /* made by the first lease */
    assert_int_equal(manager_release_lease(m, "a", CID_MIN, 0, NULL), 0);
    assert_true(lease_fds_pending(m->fds));
    assert_true(cid_map_get(map, CID_MIN) == CID_RELEASING);
    assert_null(manager_find_lease(m, "a", CID_MIN));
    assert_int_equal(acquire(m, "a", 0, "y", NULL, true, &err), CID_MIN + 1); /* skipped */

    /* The store still holds it: the kernel says busy, the error says why. */
    expect_released_a_moment_ago(m, map, "systemd's fd store still holds it");

    /* Advisory leases hold no fd: nothing to wait for. */
    assert_int_equal(acquire(m, "a", 50, "adv", NULL, false, &err), 50);
    assert_int_equal(manager_release_lease(m, "a", 50, 0, NULL), 0);
    assert_null(cid_map_get(map, 50));

    settle(m);
    assert_null(cid_map_get(map, CID_MIN));
    assert_int_equal(acquire(m, "a", 0, "z", NULL, true, &err), CID_MIN);

    /* Settling after the namespace (and its space) went is harmless. */
    assert_int_equal(acquire(m, "g1", 0, "g", NULL, true, &err), CID_MIN);
    manager_drop_namespace_leases(m, "b", "test"); /* nothing there */
    assert_int_equal(manager_release_lease(m, "g1", CID_MIN, 0, NULL), 0);
    assert_true(cid_map_get(&m->global_space->map, CID_MIN) == CID_RELEASING);
    manager_forget_namespace(m, manager_find(m, "a"), "test");
    settle(m);
    assert_null(cid_map_get(&m->global_space->map, CID_MIN));
    teardown_manager(m);
}

/* A global namespace forgotten with a lease in release: its CID is in the
 * global space, which stays; the ticket still clears the marker there (it
 * once looked the space up by the namespace, gone by then, and the CID
 * stayed skipped until a restart). */
static void test_releasing_global_forgotten(void **state)
{
    Manager *m = make_manager();
    attach_loop(m, LEASE_FDS_FD_STORE);
    ErrorKind err;
    assert_int_equal(acquire(m, "g1", 0, "x", NULL, true, &err), CID_MIN);
    manager_forget_namespace(m, manager_find(m, "g1"), "test: deleted");
    assert_true(cid_map_get(&m->global_space->map, CID_MIN) == CID_RELEASING);
    settle(m);
    assert_null(cid_map_get(&m->global_space->map, CID_MIN));
    assert_int_equal(acquire(m, ".host", 0, "y", NULL, true, &err), CID_MIN);
    teardown_manager(m);
}

/* A persistent lease whose process exited waits for its old device to go;
 * released meanwhile, its CID is marked as being released (not free, not
 * "held outside") until that ticket is done, and is not taken again. */
static void test_release_while_retake_waits(void **state)
{
    Manager *m = make_manager();
    attach_loop(m, LEASE_FDS_FD_STORE);
    LeaseRequest req = { .ns = "a", .cid = 77, .owner = "vm", .reserve = true, .hand_out = true, .pid = getpid(),
                         .bind_pidfd = -1, .persist = true };
    Lease *l;
    assert_int_equal(manager_acquire_lease(m, &req, &l, NULL), 0);
    CidMap *map = &manager_find(m, "a")->space->map;
    manager_bound_process_exited(m, l);
    assert_true(lease_fds_pending(m->fds));
    assert_int_equal(manager_release_lease(m, "a", 77, 0, NULL), 0);
    assert_true(cid_map_get(map, 77) == CID_RELEASING);
    settle(m);
    assert_null(cid_map_get(map, 77));
    assert_null(manager_find_lease(m, "a", 77));
    teardown_manager(m);
}

/* manager_find() by the table's index with many namespaces, objects that
 * keep their address whatever is added or removed around them, and an index
 * that stays right through removals (no tombstones: entries move back). */
static void test_find_many(void **state)
{
    Manager *m = make_manager();
    Namespace *kept[300];
    char name[32];
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "many-%d", i);
        kept[i] = namespace_new(&(Namespace) { .mode = VSOCK_MODE_LOCAL, .g2h_fallback = -1, .fd = -1 });
        snprintf(kept[i]->name, sizeof(kept[i]->name), "%s", name);
        assert_int_equal(ns_table_add(&m->namespaces, kept[i]), 0);
        assert_ptr_equal(manager_find(m, "many-0"), kept[0]); /* the table grows, many-0 stays put */
    }
    assert_int_equal(ns_table_add(&m->namespaces, kept[7]), -EEXIST);
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "many-%d", i);
        assert_ptr_equal(manager_find(m, name), kept[i]);
    }
    assert_null(manager_find(m, "many-300"));
    assert_null(manager_find(m, ""));
    /* Every other one removed: the rest are found where they were. */
    for (int i = 0; i < 300; i += 2) {
        ns_table_remove(&m->namespaces, kept[i]);
        namespace_free(kept[i]);
    }
    for (int i = 0; i < 300; i++) {
        snprintf(name, sizeof(name), "many-%d", i);
        assert_ptr_equal(manager_find(m, name), i % 2 ? kept[i] : NULL);
    }
    teardown_manager(m);
}

/* Without the fd store the closing thread takes an ended lease's fd; the
 * CID stays marked until the loop hears that it is closed. Without a loop
 * (tools, tests) fds are closed in place and nothing is marked. */
static void test_closing_thread(void **state)
{
    Manager *m = make_manager();
    ErrorKind err;
    assert_int_equal(acquire(m, "a", 0, "x", NULL, true, &err), CID_MIN);
    CidMap *map = &manager_find(m, "a")->space->map;
    assert_int_equal(manager_release_lease(m, "a", CID_MIN, 0, NULL), 0);
    assert_null(cid_map_get(map, CID_MIN));
    assert_false(lease_fds_pending(m->fds));

    attach_loop(m, LEASE_FDS_BY_HAND);
    assert_int_equal(acquire(m, "a", 0, "x", NULL, true, &err), CID_MIN);
    assert_int_equal(manager_release_lease(m, "a", CID_MIN, 0, NULL), 0);
    assert_true(lease_fds_pending(m->fds));
    assert_true(cid_map_get(map, CID_MIN) == CID_RELEASING);
    /* Closed or not by now, the marker stays until the loop hears of it. */
    expect_released_a_moment_ago(m, map, "vsocknsd is closing it");
    settle(m);
    assert_null(cid_map_get(map, CID_MIN));
    assert_int_equal(acquire(m, "a", CID_MIN, "z", NULL, true, &err), CID_MIN);

    uint32_t cids[40];
    for (int i = 0; i < 40; i++)
        assert_int_not_equal(cids[i] = acquire(m, "g1", 0, "x", NULL, true, &err), 0);
    manager_drop_namespace_leases(m, "g1", "test");
    for (int i = 0; i < 40; i++)
        assert_true(cid_map_get(&m->global_space->map, cids[i]) == CID_RELEASING);
    settle(m);
    for (int i = 0; i < 40; i++)
        assert_null(cid_map_get(&m->global_space->map, cids[i]));

    /* Queued and not yet closed when the daemon stops: closed all the same. */
    int fds[10];
    for (int i = 0; i < 10; i++) {
        uint32_t cid = acquire(m, "b", 0, "y", NULL, true, &err);
        fds[i] = manager_find_lease(m, "b", cid)->fd;
    }
    manager_drop_namespace_leases(m, "b", "test");
    teardown_manager(m);
    for (int i = 0; i < 10; i++)
        assert_true(fcntl(fds[i], F_GETFD) < 0 && errno == EBADF);
}

/* Someone waiting for the CIDs to be free (ReleaseLease's answer) is told
 * once every ticket given out before it is done, and at once when none is
 * pending. */
static int free_calls;
static void count_free(void *userdata, bool timed_out)
{
    assert_false(timed_out);
    free_calls++;
}

static void test_when_free(void **state)
{
    Manager *m = make_manager();
    attach_loop(m, LEASE_FDS_FD_STORE);
    free_calls = 0;
    assert_int_equal(lease_fds_when_free(m->fds, count_free, NULL), 0);
    assert_int_equal(free_calls, 1);
    ErrorKind err;
    assert_int_equal(acquire(m, "a", 0, "x", NULL, true, &err), CID_MIN);
    assert_int_equal(manager_release_lease(m, "a", CID_MIN, 0, NULL), 0);
    assert_int_equal(lease_fds_when_free(m->fds, count_free, NULL), 0);
    assert_int_equal(free_calls, 1);
    settle(m);
    assert_int_equal(free_calls, 2);
    teardown_manager(m);
}

static int fd_events[3];

static void count_fd_event(Manager *m, Lease *l, LeaseFdEvent event, const char *why, void *userdata)
{
    fd_events[event]++;
}

/* A bound process exits: the lease ends, or, persistent, lets go of every
 * copy and takes the CID again once the fd store has let go. */
static void test_bound_exit(void **state)
{
    Manager *m = make_manager();
    attach_loop(m, LEASE_FDS_FD_STORE);
    m->on_lease_fd = count_fd_event;
    memset(fd_events, 0, sizeof(fd_events));
    pid_t child = fork();
    if (child == 0) {
        pause();
        _exit(0);
    }
    LeaseRequest req = { .ns = "a", .cid = 90, .owner = "vm", .reserve = true, .hand_out = true, .pid = child,
                         .bind_pidfd = -1, .persist = true };
    Lease *l;
    assert_int_equal(manager_acquire_lease(m, &req, &l, NULL), 0);
    assert_int_equal(l->rec.bind_pid, child); /* the caller, by default */
    assert_true(l->rec.persist);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    manager_bound_process_exited(m, l);
    assert_int_equal(l->fd, -1);              /* every copy of ours let go */
    assert_int_equal(l->rec.bind_pid, 0);
    assert_true(lease_fds_pending(m->fds));   /* waiting for the fd store */
    settle(m);
    assert_true(l->fd >= 0);                  /* taken again, fresh device */
    assert_int_equal(fd_events[LEASE_FD_RETAKEN], 1);
    assert_non_null(manager_find_lease(m, "a", 90));

    /* Someone else took the CID in between: the lease is lost and ends. */
    manager_bound_process_exited(m, l);
    kernel.outside_ns = "a";
    kernel.outside[kernel.n_outside++] = 90;
    settle(m);
    assert_int_equal(fd_events[LEASE_FD_LOST], 1);
    assert_null(manager_find_lease(m, "a", 90));
    kernel.n_outside = 0;

    /* Not persistent: it just ends. Advisory or not handed out: not bound. */
    req = (LeaseRequest) { .ns = "a", .cid = 91, .owner = "vm", .reserve = true, .hand_out = true, .pid = getpid(),
                           .bind_pidfd = -1 };
    assert_int_equal(manager_acquire_lease(m, &req, &l, NULL), 0);
    manager_bound_process_exited(m, l);
    assert_null(manager_find_lease(m, "a", 91));

    /* A persistent lease waiting for its CID is released, and an advisory
     * lease takes that CID before the fd store has let go: the wait was for
     * that lease, not for whoever holds the CID by then. */
    req = (LeaseRequest) { .ns = "a", .cid = 95, .owner = "vm", .reserve = true, .hand_out = true, .pid = getpid(),
                           .bind_pidfd = -1, .persist = true };
    assert_int_equal(manager_acquire_lease(m, &req, &l, NULL), 0);
    manager_bound_process_exited(m, l);
    assert_int_equal(manager_release_lease(m, "a", 95, 0, NULL), 0);
    assert_int_equal(acquire(m, "a", 95, "other", NULL, false, NULL), 95);
    unsigned retaken = fd_events[LEASE_FD_RETAKEN];
    settle(m);
    assert_int_equal(fd_events[LEASE_FD_RETAKEN], retaken);
    assert_int_equal(manager_find_lease(m, "a", 95)->fd, -1); /* still advisory: no device */
    req.hand_out = false;
    req.cid = 92;
    assert_int_equal(manager_acquire_lease(m, &req, &l, NULL), 0);
    assert_int_equal(l->rec.bind_pid, 0);
    req.reserve = false;
    req.hand_out = true;
    req.cid = 93;
    assert_int_equal(manager_acquire_lease(m, &req, &l, NULL), 0);
    assert_int_equal(l->rec.bind_pid, 0);
    teardown_manager(m);
}

/* CheckLeases: a CID the kernel reports free was moved away by a holder of
 * the fd; the probe's fresh device becomes the lease's. */
static void test_check_leases(void **state)
{
    Manager *m = make_manager();
    m->on_lease_fd = count_fd_event;
    memset(fd_events, 0, sizeof(fd_events));
    for (uint32_t cid = 100; cid < 105; cid++)
        assert_int_equal(acquire(m, "a", cid, "x", NULL, true, NULL), cid);
    acquire(m, "a", 110, "adv", NULL, false, NULL); /* advisory: not checked */
    size_t checked, retaken;
    kernel.all_busy = true; /* all still held */
    manager_check_leases(m, "a", 0, &checked, &retaken);
    assert_int_equal(checked, 5);
    assert_int_equal(retaken, 0);
    kernel.all_busy = false; /* every one found free: moved */
    /* The old device marked (O_NONBLOCK is its open file's, not the fd
     * number's, which the fresh device may reuse). */
    int old_fd = manager_find_lease(m, "a", 102)->fd;
    assert_int_equal(fcntl(old_fd, F_SETFL, O_NONBLOCK), 0);
    manager_check_leases(m, "a", 2, &checked, &retaken); /* bounded: 2 per call */
    assert_int_equal(checked, 2);
    assert_int_equal(retaken, 2);
    manager_check_leases(m, "a", 2, &checked, &retaken);
    assert_int_equal(checked, 2);
    manager_check_leases(m, "a", 2, &checked, &retaken); /* the last one of the round */
    assert_int_equal(checked, 1);
    assert_int_equal(fd_events[LEASE_FD_RETAKEN], 5);
    int new_fd = manager_find_lease(m, "a", 102)->fd;
    assert_true(new_fd >= 0);
    assert_int_equal(fcntl(new_fd, F_GETFL) & O_NONBLOCK, 0); /* the probe's device, not the old one */
    teardown_manager(m);
}

/* The set of CIDs held outside vsockns is bounded per space. */
static void test_held_outside_bound(void **state)
{
    Manager *m = make_manager();
    ErrorKind err;
    kernel.all_busy = true;
    assert_int_equal(acquire(m, "a", 0, "x", NULL, true, &err), 0); /* gives up after LEASE_BUSY_SKIP_MAX */
    assert_int_equal(err, ERROR_NO_FREE_CID);
    CidSpace *space = manager_find(m, "a")->space;
    assert_int_equal(space->n_held_outside, LEASE_HELD_OUTSIDE_MAX);
    assert_int_equal(acquire(m, "a", 0, "x", "random", true, &err), 0);
    assert_int_equal(space->n_held_outside, LEASE_HELD_OUTSIDE_MAX); /* no more */
    /* A recheck asks about at most LEASE_RECHECK_BATCH per call. */
    kernel.all_busy = false;
    kernel.calls = 0;
    assert_int_equal(manager_recheck_held_outside(m), LEASE_RECHECK_BATCH);
    assert_int_equal(kernel.calls, LEASE_RECHECK_BATCH);
    assert_int_equal(space->n_held_outside, LEASE_HELD_OUTSIDE_MAX - LEASE_RECHECK_BATCH);
    teardown_manager(m);
}

/* CIDs held outside, fewer than a batch and still busy, are asked about at
 * every recheck (every minute), not every other one. */
static void test_recheck_every_call(void **state)
{
    Manager *m = make_manager();
    ErrorKind err;
    kernel.outside_ns = NULL;
    for (uint32_t cid = 3; cid < 8; cid++)
        kernel.outside[kernel.n_outside++] = cid;
    assert_int_equal(acquire(m, ".host", 0, "p", NULL, true, &err), 8); /* 3..7 marked held outside */
    for (int round = 0; round < 3; round++) {
        kernel.calls = 0;
        assert_int_equal(manager_recheck_held_outside(m), 0);
        assert_int_equal(kernel.calls, 5);
    }
    kernel.n_outside = 0; /* all let go: the next recheck frees all five */
    assert_int_equal(manager_recheck_held_outside(m), 5);
    teardown_manager(m);
}

/* A namespace's own quotas count every user but root together. */
static void test_namespace_quota(void **state)
{
    Manager *m = make_manager();
    ManagerError e = {};
    assert_int_equal(manager_check_namespace_quota(m, 1000, true, "a", &e), 0); /* none by default */
    m->leases_per_namespace = 2;
    acquire(m, "a", 0, "x", NULL, false, NULL); /* as uid 1000 */
    assert_int_equal(manager_check_namespace_quota(m, 1001, true, "a", &e), 0);
    acquire(m, "a", 0, "y", NULL, false, NULL);
    assert_int_equal(manager_check_namespace_quota(m, 1001, true, "a", &e), -EDQUOT); /* another user: the same */
    assert_int_equal(e.kind, ERROR_QUOTA_EXCEEDED);
    assert_non_null(strstr(e.message, "LeasesPerNamespace="));
    assert_int_equal(manager_check_namespace_quota(m, 0, true, "a", &e), 0); /* root: none */
    assert_int_equal(manager_check_namespace_quota(m, 1001, true, "b", &e), 0);
    assert_int_equal(manager_check_namespace_quota(m, 1001, true, ".host", &e), 0);

    m->namespaces_per_parent = 1;
    assert_int_equal(manager_check_namespace_quota(m, 1000, false, "a", &e), 0);
    Namespace *child = namespace_new(&(Namespace) { .mode = VSOCK_MODE_LOCAL, .g2h_fallback = -1, .fd = -1,
                                                    .uid = 1000 });
    assert_non_null(child);
    snprintf(child->name, sizeof(child->name), "a-child");
    snprintf(child->parent, sizeof(child->parent), "a");
    assert_int_equal(ns_table_add(&m->namespaces, child), 0);
    assert_int_equal(manager_check_namespace_quota(m, 1002, false, "a", &e), -EDQUOT);
    assert_non_null(strstr(e.message, "NamespacesPerParent="));
    assert_int_equal(manager_check_namespace_quota(m, 1002, false, "", &e), 0); /* the host's: none */
    teardown_manager(m);
}

static void ignore_released(void *userdata, const char *space, uint32_t cid, uint64_t retake)
{
}

/* A device that holds no lease (a probe, one whose CID could not be set)
 * is closed, in both modes, with or without a loop; with one, by the
 * closing thread. A pipe's write end stands in for it: its close is seen
 * as POLLHUP on the read end. */
static void test_discard(void **state)
{
    for (int mode = LEASE_FDS_BY_HAND; mode <= LEASE_FDS_FD_STORE; mode++) {
        sd_event *event = NULL;
        LeaseFds *f = NULL;
        assert_int_equal(sd_event_new(&event), 0);
        assert_int_equal(lease_fds_new(event, (LeaseFdsMode) mode, ignore_released, NULL, &f), 0);
        for (int with_fds = 0; with_fds < 2; with_fds++) {
            int p[2];
            assert_int_equal(pipe2(p, O_CLOEXEC), 0);
            lease_fds_discard(with_fds ? f : NULL, p[1]);
            struct pollfd pf = { .fd = p[0], .events = POLLIN };
            assert_int_equal(poll(&pf, 1, 10000), 1);
            assert_true(pf.revents & POLLHUP);
            close(p[0]);
        }
        lease_fds_discard(f, -1); /* nothing */
        lease_fds_free(f);
        sd_event_unref(event);
    }
}

static void test_auto_and_outside(void **state)
{
    Manager *m = make_manager();
    ErrorKind err;
    kernel.outside_ns = NULL; /* the host: the global space */
    kernel.outside[kernel.n_outside++] = 4;
    kernel.outside[kernel.n_outside++] = 5;
    assert_int_equal(acquire(m, ".host", 0, "p", NULL, true, &err), 3);
    assert_int_equal(acquire(m, ".host", 0, "p", NULL, true, &err), 6);  /* 4, 5 busy: skipped */
    unsigned calls = kernel.calls;
    assert_int_equal(acquire(m, ".host", 0, "p", NULL, true, &err), 7);  /* remembered: not asked again */
    assert_int_equal(kernel.calls, calls + 1);
    assert_int_equal(acquire(m, ".host", 4, "p", NULL, true, &err), 0);
    assert_int_equal(err, ERROR_CID_IN_USE);
    /* Advisory: records a CID someone else holds, without the kernel. */
    assert_int_equal(acquire(m, ".host", 4, "recorded-vm", NULL, false, &err), 4);
    assert_int_equal(acquire(m, "a", 0, "p", NULL, true, &err), 3); /* other space: all free */

    /* The outside holder of 5 goes away: a recheck frees it, 4 stays ours. */
    kernel.n_outside = 0;
    kernel.outside[kernel.n_outside++] = 4;
    assert_int_equal(manager_recheck_held_outside(m), 1);
    assert_int_equal(acquire(m, ".host", 0, "p", NULL, true, &err), 5);
    assert_int_equal(manager_recheck_held_outside(m), 0);

    kernel.all_busy = true;
    assert_int_equal(acquire(m, "b", 0, "p", NULL, true, &err), 0);
    assert_int_equal(err, ERROR_NO_FREE_CID);
    assert_int_equal(acquire(m, "b", 9, "p", NULL, true, &err), 0);
    assert_int_equal(err, ERROR_CID_IN_USE);
    teardown_manager(m);
}

static void test_strategies(void **state)
{
    Manager *m = make_manager();
    ErrorKind err;
    uint32_t s1 = acquire(m, "a", 0, "vm-stable", "stable", true, &err);
    assert_true(s1 >= CID_MIN && s1 <= CID_MAX);
    assert_int_equal(acquire(m, "b", 0, "vm-stable", "stable", true, &err), s1); /* same label, same CID */
    uint32_t s2 = acquire(m, "a", 0, "vm-stable", "stable", true, &err);       /* taken: the next one */
    assert_int_equal(s2, s1 == CID_MAX ? CID_MIN : s1 + 1);
    /* Random: each pick is released before the next, so "lowest" would give
     * CID_MIN every time; random picks spread over the 32-bit space (the
     * chance that 8 of them all fall below CID_MIN + 2^20 is about 2^-96). */
    uint32_t first = 0, highest = 0;
    bool differ = false;
    for (int i = 0; i < 8; i++) {
        uint32_t r = acquire(m, "b", 0, "x", "random", true, &err);
        assert_true(r >= CID_MIN && r <= CID_MAX);
        first = i == 0 ? r : first;
        differ = differ || r != first;
        highest = r > highest ? r : highest;
        assert_int_equal(manager_release_lease(m, "b", r, 0, NULL), 0);
    }
    assert_true(differ);
    assert_true(highest >= CID_MIN + (1U << 20));
    assert_int_equal(acquire(m, "a", 0, "x", "fastest", true, &err), 0);
    assert_int_equal(err, ERROR_INVALID_OPTION);
    teardown_manager(m);
}

static void test_validation(void **state)
{
    Manager *m = make_manager();
    ErrorKind err;
    uint32_t bad_cids[] = { 1, 2, 0xffffffffU };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(acquire(m, "a", bad_cids[i], "x", NULL, true, &err), 0);
        assert_int_equal(err, ERROR_INVALID_CID);
    }
    assert_int_equal(acquire(m, "nope", 0, "x", NULL, true, &err), 0);
    assert_int_equal(err, ERROR_NO_SUCH_NAMESPACE);
    static const char *bad_owners[] = {
        "a\tb",                  /* C0 */
        "a\x7f",                 /* DEL */
        "a\xc2\x85" "b",          /* U+0085, a C1 control (NEL) */
        "evil\xe2\x80\xae" "gpj.exe", /* U+202E RIGHT-TO-LEFT OVERRIDE */
        "\xe2\x81\xa6" "x",        /* U+2066 LEFT-TO-RIGHT ISOLATE */
        "a\xe2\x80\x8f",           /* U+200F RIGHT-TO-LEFT MARK */
        "\xff" "abc",              /* not UTF-8 */
        "\xc0\xaf",               /* overlong '/' */
        "\xed\xa0\x80",           /* a UTF-16 surrogate */
        "\xf4\x90\x80\x80",       /* beyond U+10FFFF */
        "\xe2\x82",               /* truncated */
    };
    for (size_t i = 0; i < sizeof(bad_owners) / sizeof(bad_owners[0]); i++) {
        assert_int_equal(acquire(m, "a", 0, bad_owners[i], NULL, true, &err), 0);
        assert_int_equal(err, ERROR_INVALID_OWNER);
    }
    assert_string_equal(lease_owner_problem("evil\xe2\x80\xae"), "the owner label contains bidirectional text controls");
    assert_string_equal(lease_owner_problem("a\xc2\x9b"), "the owner label contains control characters");
    /* Text in any script is fine: only what changes how it is shown is not. */
    assert_null(lease_owner_problem("libvirt:1b4e28ba-2fa1-11d2-883f-0016d3cca427:caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x9a\x80"));
    char long_owner[300];
    memset(long_owner, 'o', sizeof(long_owner) - 1);
    long_owner[sizeof(long_owner) - 1] = '\0';
    assert_int_equal(acquire(m, "a", 0, long_owner, NULL, true, &err), 0);
    assert_int_equal(err, ERROR_INVALID_OWNER);
    /* The libvirt hook's labels are root's (acquire() asks as uid 1000). */
    assert_int_equal(acquire(m, "a", 0, "libvirt:1b4e28ba-2fa1-11d2-883f-0016d3cca427:vm", NULL, false, &err), 0);
    assert_int_equal(err, ERROR_INVALID_OWNER);
    assert_int_equal(m->n_leases, 0);
    LeaseRequest root = { .ns = "a", .owner = "libvirt:1b4e28ba-2fa1-11d2-883f-0016d3cca427:vm", .uid = 0,
                          .bind_pidfd = -1 };
    assert_int_equal(manager_check_lease_request(m, &root, NULL), 0);
    m->leases_max = 1;
    assert_int_equal(acquire(m, "a", 0, "x", NULL, true, &err), 3);
    assert_int_equal(acquire(m, "a", 0, "x", NULL, true, &err), 0);
    assert_int_equal(err, ERROR_LIMIT_REACHED);
    teardown_manager(m);
}

static void test_release(void **state)
{
    Manager *m = make_manager();
    ManagerError e = {};
    acquire(m, "a", 42, "x", NULL, true, NULL);
    assert_int_equal(manager_release_lease(m, "a", 42, 1001, &e), -EPERM); /* another user */
    assert_int_equal(e.kind, ERROR_ACCESS_DENIED);
    assert_int_equal(manager_release_lease(m, "a", 42, 1000, &e), 0);      /* the owner */
    assert_int_equal(manager_release_lease(m, "a", 42, 0, &e), -ENOENT);
    assert_int_equal(e.kind, ERROR_NO_SUCH_LEASE);
    acquire(m, "a", 43, "x", NULL, true, NULL);
    assert_int_equal(manager_release_lease(m, "a", 43, 0, &e), 0);         /* root */

    acquire(m, "g1", 50, "x", NULL, true, NULL);
    acquire(m, "g2", 51, "x", NULL, true, NULL);
    assert_int_equal(manager_namespace_lease_count(m, manager_find(m, "g1")), 1);
    manager_drop_namespace_leases(m, "g1", "test");
    assert_null(manager_find_lease(m, "g1", 50));
    assert_non_null(manager_find_lease(m, "g2", 51));
    assert_int_equal(m->n_leases, 1);
    teardown_manager(m);
}

static void test_reconcile(void **state)
{
    Manager *m = make_manager();
    acquire(m, "a", 60, "kept-by-store", NULL, true, NULL);
    acquire(m, "a", 61, "advisory", NULL, false, NULL);
    acquire(m, "a", 62, "held-by-client", NULL, true, NULL);
    acquire(m, "a", 63, "gone", NULL, true, NULL);
    acquire(m, "b", 64, "ns-gone", NULL, true, NULL);
    LeaseRecord *records;
    size_t n, dropped;
    assert_int_equal(lease_records_load(state_dir, &records, &n, &dropped), 0);
    assert_int_equal(n, 5);
    manager_free(m); /* the files stay, as after a crash */

    m = make_manager();
    manager_forget_namespace(m, manager_find(m, "b"), "test: it is gone"); /* before its leases are read */
    attach_loop(m, LEASE_FDS_FD_STORE);
    assert_int_equal(lease_fds_add_stored(m->fds, "lease-60-a", eventfd(0, EFD_CLOEXEC), NULL, NULL), 0);
    assert_int_equal(lease_fds_add_stored(m->fds, "lease-99-a", eventfd(0, EFD_CLOEXEC), NULL, NULL), 0);
    /* 63 was bound to a process that has exited since; the store kept its fd. */
    assert_int_equal(lease_fds_add_stored(m->fds, "lease-63-a", eventfd(0, EFD_CLOEXEC), NULL, NULL), 0);
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    for (size_t i = 0; i < n; i++)
        if (records[i].cid == 63) {
            records[i].bind_pid = child;
            records[i].bind_start_time = 1;
        }
    kernel.outside_ns = "a";
    kernel.outside[kernel.n_outside++] = 62; /* the client still holds it */

    assert_int_equal(manager_reconcile_leases(m, records, n), 0);
    assert_int_equal(m->n_leases, 3);
    Lease *l = manager_find_lease(m, "a", 60);
    assert_non_null(l);
    assert_true(l->fd >= 0);                         /* from the store */
    assert_non_null(manager_find_lease(m, "a", 61)); /* advisory */
    l = manager_find_lease(m, "a", 62);
    assert_non_null(l);
    assert_int_equal(l->fd, -1);                     /* only the client's copy */
    assert_null(manager_find_lease(m, "a", 63));     /* nobody holds it: dropped */
    /* Unclaimed: left to lease_fds_adopted(), which closes it and removes
     * it from the store (else systemd's copy keeps the CID). */
    assert_int_equal(lease_fds_unclaimed(m->fds), 1);
    free(records);
    assert_int_equal(lease_records_load(state_dir, &records, &n, &dropped), 0);
    assert_int_equal(n, 3);
    free(records);
    teardown_manager(m);
}

int main(void)
{
    if (!mkdtemp(state_dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spaces),     cmocka_unit_test(test_auto_and_outside),
        cmocka_unit_test(test_per_namespace_sets),
        cmocka_unit_test(test_releasing_marks),
        cmocka_unit_test(test_releasing_global_forgotten),
        cmocka_unit_test(test_release_while_retake_waits),
        cmocka_unit_test(test_when_free),
        cmocka_unit_test(test_closing_thread),
        cmocka_unit_test(test_find_many),
        cmocka_unit_test(test_bound_exit),
        cmocka_unit_test(test_check_leases),
        cmocka_unit_test(test_held_outside_bound),
        cmocka_unit_test(test_recheck_every_call),
        cmocka_unit_test(test_discard),
        cmocka_unit_test(test_namespace_quota),
        cmocka_unit_test(test_strategies), cmocka_unit_test(test_validation),
        cmocka_unit_test(test_worker_timeout_named),
        cmocka_unit_test(test_release),    cmocka_unit_test(test_reconcile),
    };
    int r = cmocka_run_group_tests_name("leases", tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
    if (system(cmd) != 0)
        r = 1;
    return r;
}
