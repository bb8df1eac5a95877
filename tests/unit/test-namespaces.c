/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Creating, deleting and re-adopting namespaces against a fake of the
 * namespace operations (fake-netns.c): what is recorded before each step,
 * identity by the fd we hold (a pin swapped behind our back is never acted
 * on), and crash recovery that only touches what it proves is its own.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/manager.h"
#include "core/ns-worker.h"
#include "children.h"
#include "core/state.h"
#include "fake-netns.h"

static char state_dir[] = "/tmp/vsockns-test-namespaces.XXXXXX";
static FakeNetns fake;
static unsigned reserve_calls;

static int count_reserve(void *userdata, const char *ns, int netns_fd, uint32_t cid)
{
    reserve_calls++;
    return eventfd(0, EFD_CLOEXEC);
}

static const LeaseKernelOps counting_kernel = { .reserve_cid = count_reserve };

static Manager *make_manager(void)
{
    ManagerConfig c;
    manager_config_default(&c);
    snprintf(c.state_dir, sizeof(c.state_dir), "%s", state_dir);
    snprintf(c.netns_dir, sizeof(c.netns_dir), "%s/netns", state_dir);
    Manager *m;
    assert_int_equal(manager_new(&c, &m), 0);
    m->kernel_support = KERNEL_SUPPORT_NAMESPACES;
    m->netns = &fake_netns_ops;
    m->netns_userdata = &fake;
    m->kernel = &counting_kernel;
    for (int i = 0; i < 2; i++)
        m->parents[i].status = 0;
    snprintf(m->parents[VSOCK_MODE_LOCAL].path, sizeof(m->parents[0].path), "%s/parents/local", state_dir);
    snprintf(m->parents[VSOCK_MODE_GLOBAL].path, sizeof(m->parents[0].path), "%s/parents/global", state_dir);
    fake_netns_plant(&fake, m->parents[VSOCK_MODE_LOCAL].path, true);
    fake_netns_plant(&fake, m->parents[VSOCK_MODE_GLOBAL].path, true);
    reserve_calls = 0;
    return m;
}

static void setup_test(void)
{
    fake_netns_init(&fake, state_dir);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s/namespaces.json %s/leases", state_dir, state_dir);
    assert_int_equal(system(cmd), 0);
}

static ErrorKind create(Manager *m, const char *name, const char *mode, const char *parent)
{
    static ManagerError e;
    memset(&e, 0, sizeof(e));
    CreateRequest req = { .name = name, .mode = mode, .parent = parent, .g2h_fallback = -1 };
    int r = manager_create_namespace(m, &req, NULL, &e);
    return r < 0 ? e.kind : ERROR_NONE;
}

static void pin_of(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/netns/%s", state_dir, name);
}

static void test_create_records_each_step(void **state)
{
    setup_test();
    Manager *m = make_manager();
    assert_int_equal(ERROR_NONE, create(m, "t1", "local", NULL));
    Namespace *ns = manager_find(m, "t1");
    assert_non_null(ns);
    assert_true(ns->fd >= 0);
    assert_false(ns->pending);
    char pin[512];
    pin_of("t1", pin, sizeof(pin));
    FakePin *p = fake_netns_find(&fake, pin);
    assert_true(p && p->is_ns && p->id.ino == ns->inode && p->id.dev == ns->dev);
    /* Had we died just before the pin: a pending record naming both the
     * placeholder and the namespace. */
    assert_non_null(strstr(fake.state_at_made, "\"pending\":true"));
    assert_non_null(strstr(fake.state_at_made, "\"placeholder_inode\""));
    char want[64];
    snprintf(want, sizeof(want), "\"inode\":%llu", (unsigned long long) ns->inode);
    assert_non_null(strstr(fake.state_at_made, want));

    /* Nested: created from the parent's fd; the name must be live. */
    assert_int_equal(ERROR_NONE, create(m, "t1.child", "local", "t1"));
    manager_free(m);
}

static void test_create_refusals(void **state)
{
    setup_test();
    Manager *m = make_manager();
    char pin[512];
    pin_of("foreign", pin, sizeof(pin));
    NetnsId foreign = fake_netns_plant(&fake, pin, true);
    /* The check sees the real directory only; the fake pin is met at create. */
    assert_int_equal(create(m, "foreign", "local", NULL), ERROR_NAMESPACE_EXISTS);
    assert_true(fake_netns_find(&fake, pin)->id.ino == foreign.ino); /* untouched */
    assert_null(manager_find(m, "foreign"));

    /* The kernel makes it global although local was asked: never pinned. */
    fake.made_mode = "global";
    assert_int_equal(create(m, "wrong", "local", NULL), ERROR_MODE_MISMATCH);
    pin_of("wrong", pin, sizeof(pin));
    assert_null(fake_netns_find(&fake, pin));
    assert_null(manager_find(m, "wrong"));
    fake.made_mode = NULL;
    manager_free(m);
}

/* The quota is checked where the record is made, not only when the call
 * came: a creation that waited for its turn behind others of the same uid
 * finds them made by then. */
static void test_create_quota(void **state)
{
    setup_test();
    Manager *m = make_manager();
    m->namespaces_per_user = 2;
    ManagerError e = {};
    CreateRequest req = { .mode = "local", .g2h_fallback = -1, .uid = 1000 };
    const char *names[] = { "q1", "q2", "q3" };
    CreateJob *jobs[3] = {};
    Namespace *made[3] = {};
    /* All three were let through on arrival (nothing of uid 1000 yet). */
    for (int i = 0; i < 3; i++)
        assert_int_equal(manager_check_quota(m, 1000, false, 0, &e), 0);
    for (int i = 0; i < 2; i++) {
        req.name = names[i];
        /* The fake kernel's jobs are done at once. */
        assert_int_equal(manager_create_namespace_begin(m, &req, NULL, NULL, &jobs[i], &made[i], &e), 1);
        assert_null(jobs[i]);
        assert_non_null(made[i]);
    }
    req.name = "q3";
    memset(&e, 0, sizeof(e));
    assert_int_equal(manager_create_namespace_begin(m, &req, NULL, NULL, &jobs[2], &made[2], &e), -EDQUOT);
    assert_int_equal(e.kind, ERROR_QUOTA_EXCEEDED);
    char pin[512];
    pin_of("q3", pin, sizeof(pin));
    assert_null(fake_netns_find(&fake, pin)); /* nothing made */
    assert_non_null(manager_find(m, "q1"));
    assert_non_null(manager_find(m, "q2"));
    assert_null(manager_find(m, "q3"));
    /* Calls of the uid still waiting count on arrival; root has no quota. */
    assert_int_equal(manager_check_quota(m, 1000, false, 0, &e), -EDQUOT);
    assert_int_equal(manager_check_quota(m, 1001, false, 1, &e), 0);
    assert_int_equal(manager_check_quota(m, 1001, false, 2, &e), -EDQUOT);
    assert_non_null(strstr(e.message, "uid 1001 already has 0 namespaces and 2 more waiting to be created"));
    req = (CreateRequest) { .name = "q4", .mode = "local", .g2h_fallback = -1, .uid = 0 };
    CreateJob *j = NULL;
    Namespace *ns = NULL;
    assert_int_equal(manager_create_namespace_begin(m, &req, NULL, NULL, &j, &ns, &e), 1);
    assert_non_null(ns);
    manager_free(m);
}

/* ip netns del X; ip netns add X behind our back: nothing is done to ip's X. */
static void test_swapped_pin(void **state)
{
    setup_test();
    Manager *m = make_manager();
    assert_int_equal(ERROR_NONE, create(m, "x", "local", NULL));
    assert_int_equal(ERROR_NONE, create(m, "y", "local", NULL));
    char pin[512];
    pin_of("x", pin, sizeof(pin));
    NetnsId ips = fake_netns_plant(&fake, pin, true); /* replaces ours */

    LeaseRequest req = { .ns = "x", .owner = "vm", .reserve = true, .bind_pidfd = -1 };
    ManagerError e = {};
    assert_int_equal(manager_acquire_lease(m, &req, NULL, &e), -ENOENT);
    assert_int_equal(e.kind, ERROR_NO_SUCH_NAMESPACE);
    assert_int_equal(reserve_calls, 0); /* nothing reserved anywhere */
    /* The lookup and the refusal changed nothing; the handler decides. */
    Namespace *x = manager_find(m, "x");
    assert_non_null(x);
    assert_int_equal(manager_forget_if_unpinned(m, x, &e), -ENOENT);
    assert_int_equal(e.kind, ERROR_NO_SUCH_NAMESPACE);
    assert_null(manager_find(m, "x"));   /* forgotten, as the inotify event would */
    assert_true(fake_netns_find(&fake, pin)->id.ino == ips.ino);

    /* Delete and nesting under a swapped name: named errors, ip's X stays. */
    pin_of("y", pin, sizeof(pin));
    NetnsId ips_y = fake_netns_plant(&fake, pin, true);
    memset(&e, 0, sizeof(e));
    assert_int_equal(manager_delete_namespace(m, "y", true, &e), -ENOENT);
    assert_int_equal(e.kind, ERROR_NO_SUCH_NAMESPACE);
    assert_int_equal(fake.unpins, 0);
    assert_true(fake_netns_find(&fake, pin)->id.ino == ips_y.ino);
    assert_int_equal(create(m, "z", "local", "y"), ERROR_NO_SUCH_NAMESPACE);
    manager_free(m);
}

/* CheckIsolation of a nested namespace whose parent's pin was swapped: the
 * handler decides the parent is gone (and forgets it), and still speaks of
 * the namespace it was asked about. Namespaces are objects of their own:
 * forgetting one moves no other (an array of values did, and the message
 * named the parent '' of 'd'). */
static void test_isolation_parent_swapped(void **state)
{
    setup_test();
    Manager *m = make_manager();
    assert_int_equal(ERROR_NONE, create(m, "p", "local", NULL));
    assert_int_equal(ERROR_NONE, create(m, "c", "local", "p"));
    assert_int_equal(ERROR_NONE, create(m, "d", "local", NULL));
    Namespace *c = manager_find(m, "c"), *d = manager_find(m, "d");
    char pin[512];
    pin_of("p", pin, sizeof(pin));
    fake_netns_plant(&fake, pin, true); /* ip netns del p; ip netns add p */

    ManagerError e = {};
    VsockMode mode;
    NsCall *call = NULL;
    assert_int_equal(manager_check_isolation_start(m, "c", NULL, NULL, &mode, &call, &e), -ENOENT);
    assert_null(call);
    assert_int_equal(e.kind, ERROR_NO_SUCH_NAMESPACE);
    assert_string_equal(e.message, "The parent 'p' of 'c' is gone: no sibling can be made.");
    assert_null(manager_find(m, "p"));
    assert_ptr_equal(manager_find(m, "c"), c);
    assert_ptr_equal(manager_find(m, "d"), d);
    assert_string_equal(c->name, "c");
    manager_free(m);
}

static void test_delete(void **state)
{
    setup_test();
    Manager *m = make_manager();
    fake.made_mode = "global";
    assert_int_equal(ERROR_NONE, create(m, "d", "global", NULL));
    ManagerError e = {};
    assert_int_equal(manager_delete_namespace(m, "d", false, &e), 0);
    char pin[512];
    pin_of("d", pin, sizeof(pin));
    assert_null(fake_netns_find(&fake, pin));
    assert_int_equal(fake.unpins, 1);
    assert_null(manager_find(m, "d"));
    manager_free(m);
}

/* write_state TEXT: namespaces.json as an earlier run (or a crash) left it. */
static void write_state(const char *text)
{
    assert_int_equal(write_file_atomic(state_dir, STATE_FILE, text), 0);
}

static void test_reconcile(void **state)
{
    setup_test();
    char pin[6][512], text[4096];
    const char *names[6] = { "kept", "replaced", "pend-pinned", "pend-placeholder", "pend-foreign", "pend-old" };
    for (int i = 0; i < 6; i++)
        pin_of(names[i], pin[i], sizeof(pin[i]));
    NetnsId kept = fake_netns_plant(&fake, pin[0], true);
    fake_netns_plant(&fake, pin[1], true); /* recorded below with another inode */
    NetnsId pend = fake_netns_plant(&fake, pin[2], true);
    NetnsId placeholder = fake_netns_plant(&fake, pin[3], false);
    NetnsId foreign = fake_netns_plant(&fake, pin[4], true); /* ip netns add after our crash */
    NetnsId old_foreign = fake_netns_plant(&fake, pin[5], true);
    snprintf(text, sizeof(text),
             "{\"version\":1,\"namespaces\":["
             "{\"name\":\"kept\",\"mode\":\"local\",\"inode\":%llu,\"dev\":42},"
             "{\"name\":\"replaced\",\"mode\":\"local\",\"inode\":7},"
             "{\"name\":\"pend-pinned\",\"mode\":\"local\",\"pending\":true,\"inode\":%llu,"
             "\"placeholder_dev\":42,\"placeholder_inode\":1},"
             "{\"name\":\"pend-placeholder\",\"mode\":\"local\",\"pending\":true,\"inode\":0,"
             "\"placeholder_dev\":42,\"placeholder_inode\":%llu},"
             "{\"name\":\"pend-foreign\",\"mode\":\"local\",\"pending\":true,\"inode\":0,"
             "\"placeholder_dev\":42,\"placeholder_inode\":5},"
             "{\"name\":\"pend-old\",\"mode\":\"local\",\"pending\":true}]}",
             (unsigned long long) kept.ino, (unsigned long long) pend.ino, (unsigned long long) placeholder.ino);
    write_state(text);

    Manager *m = make_manager();
    assert_int_equal(manager_reconcile(m), 0);
    assert_int_equal(m->namespaces.n, 2);
    assert_true(manager_find(m, "kept") && manager_find(m, "kept")->fd >= 0);
    assert_true(manager_find(m, "pend-pinned") && !manager_find(m, "pend-pinned")->pending);
    assert_true(manager_find(m, "pend-pinned")->fd >= 0);
    assert_true(manager_find(m, "pend-pinned")->dev == pend.dev); /* its record had none */
    assert_null(manager_find(m, "replaced"));
    assert_non_null(fake_netns_find(&fake, pin[1]));           /* the new one left alone */
    assert_null(fake_netns_find(&fake, pin[3]));               /* our placeholder removed */
    assert_true(fake_netns_find(&fake, pin[4])->id.ino == foreign.ino);     /* not ours */
    assert_true(fake_netns_find(&fake, pin[5])->id.ino == old_foreign.ino); /* unprovable */
    assert_int_equal(fake.unpins, 0);
    manager_free(m);

    /* The next start finds the file as it left it: it is not rewritten
     * (same inode: every write is a new file renamed over the old). */
    char file[600];
    snprintf(file, sizeof(file), "%s/%s", state_dir, STATE_FILE);
    struct stat before, after;
    assert_int_equal(stat(file, &before), 0);
    m = make_manager();
    assert_int_equal(manager_reconcile(m), 0);
    assert_int_equal(m->namespaces.n, 2);
    manager_free(m);
    assert_int_equal(stat(file, &after), 0);
    assert_true(after.st_ino == before.st_ino);
    /* One of them gone meanwhile: the file is written without it. */
    fake_netns_remove(&fake, pin[0]);
    m = make_manager();
    assert_int_equal(manager_reconcile(m), 0);
    assert_int_equal(m->namespaces.n, 1);
    manager_free(m);
    assert_int_equal(stat(file, &after), 0);
    assert_true(after.st_ino != before.st_ino);
    State st = {};
    size_t dropped = 0;
    assert_int_equal(state_load(state_dir, &st, &dropped), 0);
    assert_int_equal(st.n_namespaces, 1);
    assert_string_equal(st.namespaces[0]->name, "pend-pinned");
    state_free(&st);
}


typedef struct JobDone {
    bool over;
    NetnsJob *job;
} JobDone;

static void job_done(NetnsJob *j, void *userdata)
{
    JobDone *d = userdata;
    d->over = true;
    d->job = j;
}

/* Runs the loop until the job is over: its result. */
static int run_job(sd_event *event, NsWorkers *w, int parent_fd, NetnsSetup *setup, JobDone *d, NetnsJob **ret)
{
    *d = (JobDone) {};
    setup->done = job_done;
    setup->userdata = d;
    int r = netns_create_begin(w, parent_fd, setup, ret);
    if (r < 0)
        return r;
    while (!d->over)
        assert_true(sd_event_run(event, UINT64_MAX) >= 0);
    assert_ptr_equal(d->job, *ret);
    return (*ret)->result;
}

/* The real creation, asynchronous, through the workers: made, recorded at
 * each stage, pinned and held; a worker that stops answering (as a kernel
 * that stalls would) is killed at the deadline and nothing is left. */
static int count_stages(void *userdata, NetnsStage stage, const NetnsCreated *so_far)
{
    int *stages = userdata;
    stages[stage]++;
    return 0;
}

static void test_job_real(void **state)
{
    if (geteuid() != 0)
        skip(); /* making and pinning namespaces needs root */
    char pin[512], dir[512];
    pin_of("real", pin, sizeof(pin));
    snprintf(dir, sizeof(dir), "%s/netns", state_dir);
    mkdir(dir, 0755);
    sd_event *event;
    NsWorkers *w;
    assert_int_equal(sd_event_new(&event), 0);
    assert_int_equal(ns_workers_new(&w), 0);
    assert_int_equal(ns_workers_attach_event(w, event), 0);
    int stages[2] = {};
    NetnsSetup setup = { .pin_path = pin, .g2h_fallback = -1, .record = count_stages, .record_userdata = stages };
    JobDone d;

    /* One that goes through: pinned, and held by the fd it gives. */
    NetnsJob *j;
    assert_int_equal(run_job(event, w, -1, &setup, &d, &j), 0);
    assert_true(j->finished && j->ns_fd >= 0);
    assert_int_equal(stages[NETNS_STAGE_PLACEHOLDER], 1);
    assert_int_equal(stages[NETNS_STAGE_MADE], 1);
    NetnsId id;
    bool is_ns = false;
    assert_int_equal(netns_path_id(pin, &id, &is_ns), 0);
    assert_true(is_ns);
    assert_true(id.ino == j->created.id.ino);
    assert_int_equal(netns_unpin_verified(pin, &j->created.id), 0);
    j = netns_job_free(j);

    /* Its worker stopped (SIGSTOP: a kernel that never returns): the loop
     * goes on, the deadline kills it, the job ends -ETIMEDOUT once it is
     * gone, and the placeholder with it. */
    pid_t pids[NS_WORKERS_MAX];
    size_t n = test_children(pids, NS_WORKERS_MAX);
    assert_int_equal(n, 1);
    assert_int_equal(kill(pids[0], SIGSTOP), 0);
    ns_workers_set_timeout(w, 300);
    assert_int_equal(run_job(event, w, -1, &setup, &d, &j), -ETIMEDOUT);
    assert_int_equal(j->ns_fd, -1);
    assert_int_equal(access(pin, F_OK), -1);
    j = netns_job_free(j);
    assert_int_equal(kill(pids[0], 0), -1); /* killed and reaped */
    ns_workers_set_timeout(w, NS_WORKER_TIMEOUT_MS_DEFAULT);

    /* A fresh worker serves the next; a step that fails on its own (here:
     * the "parent" is no namespace) leaves nothing. */
    int not_ns = eventfd(0, EFD_CLOEXEC);
    assert_int_equal(run_job(event, w, not_ns, &setup, &d, &j), -EINVAL);
    assert_int_equal(access(pin, F_OK), -1);
    j = netns_job_free(j);
    close(not_ns);
    n = test_children(pids, NS_WORKERS_MAX);
    assert_int_equal(n, 1);

    /* The placeholder's O_EXCL: a second creator of a name gets -EEXIST. */
    int fd = open(pin, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    close(fd);
    assert_int_equal(netns_create_begin(w, -1, &setup, &j), -EEXIST);
    unlink(pin);

    /* Freed while under way: its worker is stopped, nothing is left. */
    assert_int_equal(kill(pids[0], SIGSTOP), 0);
    assert_int_equal(netns_create_begin(w, -1, &setup, &j), 0);
    j = netns_job_free(j);
    assert_int_equal(access(pin, F_OK), -1);
    ns_workers_free(w);
    assert_int_equal(test_children(pids, NS_WORKERS_MAX), 0);
    sd_event_unref(event);
}

/* netns_open_verified() on the real kernel: a pinned network namespace
 * passes, and once nsfs is known (after the first pass), a namespace of
 * another kind on nsfs, a file elsewhere and another inode are still
 * refused, each with its own error. */
static void test_open_verified_real(void **state)
{
    if (geteuid() != 0)
        skip(); /* making and pinning namespaces needs root */
    char dir[256], pin[512], uts[512], plain[512];
    snprintf(dir, sizeof(dir), "%s/netns", state_dir);
    mkdir(dir, 0755);
    pin_of("verified", pin, sizeof(pin));
    snprintf(uts, sizeof(uts), "%s/uts", dir);
    snprintf(plain, sizeof(plain), "%s/plain", dir);
    NetnsSetup setup = { .pin_path = pin, .g2h_fallback = -1 };
    NsWorkers *w;
    assert_int_equal(ns_workers_new(&w), 0);
    NetnsCreated created;
    int made;
    assert_int_equal(netns_create_pinned(w, -1, &setup, &made, &created), 0);
    close(made);
    ns_workers_free(w);
    NetnsId id = created.id, got = {};
    for (int pass = 0; pass < 2; pass++) {
        int fd = netns_open_verified(pin, &id, &got);
        assert_true(fd >= 0);
        assert_true(got.ino == id.ino && got.dev == id.dev);
        close(fd);
    }
    /* Our own UTS namespace pinned the same way: on nsfs, not a netns. */
    int fd = open(uts, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    close(fd);
    assert_int_equal(mount("/proc/self/ns/uts", uts, NULL, MS_BIND, NULL), 0);
    assert_int_equal(netns_open_verified(uts, NULL, NULL), -ENOTCONN);
    assert_int_equal(umount2(uts, MNT_DETACH), 0);
    unlink(uts);
    fd = open(plain, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    close(fd);
    assert_int_equal(netns_open_verified(plain, NULL, NULL), -ENOTCONN);
    unlink(plain);
    NetnsId other = { .dev = id.dev, .ino = id.ino + 1 };
    assert_int_equal(netns_open_verified(pin, &other, NULL), -ESTALE);
    assert_int_equal(netns_unpin_verified(pin, &id), 0);
    assert_int_equal(netns_open_verified(pin, &id, NULL), -ENOENT);
}

/* What /proc/sys/net/vsock/KEY of this process's netns says, read here. */
static int read_own_sysctl(const char *key, char *buf, size_t size)
{
    char path[256];
    snprintf(path, sizeof(path), "/proc/sys/net/vsock/%s", key);
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    if (!fgets(buf, (int) size, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    return 0;
}

/* Our own netns's sysctls are read without a helper and say what the file
 * says. */
static void test_sysctl_real(void **state)
{
    char want[32] = "", got[32] = "x";
    int rw = read_own_sysctl("ns_mode", want, sizeof(want));
    assert_int_equal(vsock_sysctl_read(NULL, -1, "ns_mode", got, sizeof(got)), rw);
    if (rw == 0)
        assert_string_equal(got, want);
    assert_int_equal(vsock_sysctl_read(NULL, -1, "no-such-key", got, sizeof(got)), -ENOENT);
    /* The same through a worker that joined our own namespace. */
    NsWorkers *w;
    assert_int_equal(ns_workers_new(&w), 0);
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    snprintf(got, sizeof(got), "x");
    assert_int_equal(vsock_sysctl_read(w, self, "ns_mode", got, sizeof(got)), rw);
    if (rw == 0)
        assert_string_equal(got, want);
    assert_int_equal(vsock_sysctl_read(w, self, "no-such-key", got, sizeof(got)), -ENOENT);
    close(self);
    ns_workers_free(w);
}

/* The parent lock reads and writes in one helper inside a new netns. */
static void test_parent_lock_real(void **state)
{
    if (geteuid() != 0)
        skip(); /* a new namespace needs root */
    char want[32] = "";
    int rw = read_own_sysctl("ns_mode", want, sizeof(want));
    char dir[256], pin[512];
    snprintf(dir, sizeof(dir), "%s/netns", state_dir);
    mkdir(dir, 0755);
    pin_of("lock", pin, sizeof(pin));
    NetnsSetup setup = { .pin_path = pin, .g2h_fallback = -1 };
    NsWorkers *w;
    assert_int_equal(ns_workers_new(&w), 0);
    NetnsCreated created;
    int fd;
    assert_int_equal(netns_create_pinned(w, -1, &setup, &fd, &created), 0);
    NetnsId id = created.id;
    char made_mode[16];
    snprintf(made_mode, sizeof(made_mode), "%s", created.ns_mode);
    assert_true(fd >= 0);

    char found[VSOCK_MODE_TEXT_MAX], own[VSOCK_MODE_TEXT_MAX];
    int r = vsock_child_mode_lock(w, fd, "local", found, own);
    if (rw == -ENOENT) {
        /* This kernel has no vsock namespaces: nothing to read or lock. */
        assert_int_equal(r, -ENOENT);
        assert_string_equal(found, "?");
        assert_string_equal(own, "?");
    } else {
        /* Unlocked before: the write locks it; a second value is refused
         * and the first one is what is found. */
        assert_int_equal(r, 0);
        assert_string_equal(own, made_mode);
        assert_int_equal(vsock_child_mode_lock(w, fd, "global", found, own), -EBUSY);
        assert_string_equal(found, "local");
        assert_int_equal(vsock_child_mode_lock(w, fd, "local", found, own), 0);
    }
    close(fd);
    ns_workers_free(w);
    assert_int_equal(netns_unpin_verified(pin, &id), 0);
}

int main(void)
{
    if (!mkdtemp(state_dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_records_each_step),
        cmocka_unit_test(test_create_refusals),
        cmocka_unit_test(test_create_quota),
        cmocka_unit_test(test_swapped_pin),
        cmocka_unit_test(test_isolation_parent_swapped),
        cmocka_unit_test(test_delete),
        cmocka_unit_test(test_reconcile),
        cmocka_unit_test(test_job_real),
        cmocka_unit_test(test_open_verified_real),
        cmocka_unit_test(test_sysctl_real),
        cmocka_unit_test(test_parent_lock_real),
    };
    int failed = cmocka_run_group_tests_name("namespaces", tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
    if (system(cmd) != 0)
        return 1;
    return failed;
}
