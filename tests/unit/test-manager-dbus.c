/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The org.vsockns1.Manager handlers (daemon/manager-dbus.c) on a direct
 * connection, with the manager on a fake kernel: the peer is the caller,
 * and polkit's authority (always yes) for a caller that is not root.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "bus-pair.h"
#include "fake-netns.h"
#include "core/manager.h"
#include "daemon/bus-errors.h"
#include "daemon/bus-util.h"
#include "daemon/manager-dbus.h"

static char state_dir[] = "/tmp/vsockns-test-manager-dbus.XXXXXX";

static int fake_reserve(void *userdata, const char *ns, int netns_fd, uint32_t cid)
{
    return eventfd(0, EFD_CLOEXEC);
}

static const LeaseKernelOps fake_kernel = { .reserve_cid = fake_reserve };

static int method_check_authorization(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    return sd_bus_reply_method_return(m, "(bba{ss})", 1, 0, 0);
}

static const sd_bus_vtable authority_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("CheckAuthorization", "(sa{sv})sa{ss}us", "(bba{ss})", method_check_authorization, 0),
    SD_BUS_VTABLE_END,
};

/* systemd, as the peer: Reload answers, or fails when told to. */
typedef struct FakeSystemd {
    unsigned reloads;
    bool fail;
} FakeSystemd;

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    FakeSystemd *s = userdata;
    s->reloads++;
    if (s->fail)
        return sd_bus_error_set(error, SD_BUS_ERROR_FAILED, "Reload refused by the test");
    return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable systemd_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Reload", "", "", method_reload, 0),
    SD_BUS_VTABLE_END,
};

/* Linked with -Wl,--wrap=sd_bus_call_method_async: a call the daemon
 * makes can fail before it is sent, as when out of memory. */
static const char *failing_call;
static int failing_call_error;

static void fail_call_of(const char *member, int r)
{
    failing_call = member;
    failing_call_error = r;
}

int __wrap_sd_bus_call_method_async(sd_bus *bus, sd_bus_slot **slot, const char *destination, const char *path,
                                    const char *interface, const char *member, sd_bus_message_handler_t callback,
                                    void *userdata, const char *types, ...);

int __wrap_sd_bus_call_method_async(sd_bus *bus, sd_bus_slot **slot, const char *destination, const char *path,
                                    const char *interface, const char *member, sd_bus_message_handler_t callback,
                                    void *userdata, const char *types, ...)
{
    if (failing_call && strcmp(member, failing_call) == 0)
        return failing_call_error;
    va_list ap;
    va_start(ap, types);
    int r = sd_bus_call_method_asyncv(bus, slot, destination, path, interface, member, callback, userdata, types,
                                      ap);
    va_end(ap);
    return r;
}

typedef struct Fixture {
    BusPair bus;
    FakeNetns netns;
    FakeSystemd systemd;
    Manager *m;
} Fixture;

static int fixture_open(void **state)
{
    Fixture *f = calloc(1, sizeof(Fixture));
    assert_non_null(f);
    *state = f;
    fail_call_of(NULL, 0);
    ManagerConfig c;
    manager_config_default(&c);
    snprintf(c.state_dir, sizeof(c.state_dir), "%s/state", state_dir);
    assert_int_equal(mkdir(c.state_dir, 0700), 0);
    snprintf(c.unit_dir, sizeof(c.unit_dir), "%s/units", state_dir);
    snprintf(c.runtime_unit_dir, sizeof(c.runtime_unit_dir), "%s/runtime-units", state_dir);
    snprintf(c.netns_dir, sizeof(c.netns_dir), "%s", state_dir);
    assert_int_equal(manager_new(&c, &f->m), 0);
    Manager *m = f->m;
    m->kernel_support = KERNEL_SUPPORT_NAMESPACES;
    m->kernel = &fake_kernel;
    fake_netns_init(&f->netns, state_dir);
    m->netns = &fake_netns_ops;
    m->netns_userdata = &f->netns;

    /* A managed namespace "a", pinned in the fake where the manager looks. */
    Namespace *ns = namespace_new(&(Namespace) { .mode = VSOCK_MODE_LOCAL, .g2h_fallback = -1, .fd = -1 });
    assert_non_null(ns);
    snprintf(ns->name, sizeof(ns->name), "a");
    assert_int_equal(ns_table_add(&m->namespaces, ns), 0); /* manager_free() frees it */
    char pin[512];
    snprintf(pin, sizeof(pin), "%s/a", m->config.netns_dir);
    NetnsId id = fake_netns_plant(&f->netns, pin, true);
    ns->dev = id.dev;
    ns->inode = id.ino;

    bus_pair_open(&f->bus, NULL);
    /* On the pair's loop, as vsocknsd runs it by hand (no fd store). */
    assert_int_equal(manager_attach_event(m, f->bus.event, LEASE_FDS_BY_HAND), 0);
    assert_int_equal(manager_dbus_connect_signals(f->bus.daemon, m), 0);
    assert_true(manager_dbus_register(f->bus.daemon, m) >= 0);
    assert_true(sd_bus_add_object_vtable(f->bus.peer, NULL, "/org/freedesktop/PolicyKit1/Authority",
                                         "org.freedesktop.PolicyKit1.Authority", authority_vtable, NULL) >= 0);
    assert_true(sd_bus_add_object_vtable(f->bus.peer, NULL, "/org/freedesktop/systemd1",
                                         "org.freedesktop.systemd1.Manager", systemd_vtable, &f->systemd) >= 0);
    return 0;
}

/* Run after each test, failed or not. */
static int fixture_close(void **state)
{
    Fixture *f = *state;
    manager_dbus_disconnect(f->m);
    bus_pair_close(&f->bus);
    manager_free(f->m);
    free(f);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s/state %s/units %s/runtime-units %s/a-file", state_dir, state_dir,
             state_dir, state_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Whether UNIT.d/50-vsockns.conf is below the runtime unit directory. */
static bool runtime_dropin_exists(Fixture *f, const char *unit)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.d/50-vsockns.conf", f->m->config.runtime_unit_dir, unit);
    return access(path, F_OK) == 0;
}

/* A Manager method called by the peer; the reply, which must come. */
static sd_bus_message *call_manager(Fixture *f, const char *member, const char *types, ...)
{
    sd_bus_message *call = NULL;
    assert_true(sd_bus_message_new_method_call(f->bus.peer, &call, NULL, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE,
                                               member) >= 0);
    va_list ap;
    va_start(ap, types);
    assert_true(sd_bus_message_appendv(call, types, ap) >= 0);
    va_end(ap);
    sd_bus_message *reply = bus_pair_call(&f->bus, call);
    sd_bus_message_unref(call);
    assert_non_null(reply);
    return reply;
}

/* The error name of a reply, "" for a method return. */
static char *error_name_of(sd_bus_message *reply)
{
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    char *name = strdup(e ? e->name : "");
    if (e)
        print_message("%s: %s\n", e->name, e->message);
    sd_bus_message_unref(reply);
    return name;
}

#define assert_reply_error(reply, want)                                                                      \
    do {                                                                                                      \
        char *_name = error_name_of(reply);                                                                   \
        assert_string_equal(_name, want);                                                                     \
        free(_name);                                                                                          \
    } while (0)

static pid_t start_sleeper(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a failed test */
        pause();
        _exit(0);
    }
    return pid;
}

static void end_sleeper(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

/* BindLease from one process to another: the first one's exit is nothing
 * to the lease any more, the second one's ends it. The first is bound by a
 * pidfd the caller keeps: the daemon's copy of it shares its open file, so
 * closing the copy does not take it out of epoll; the watch on it must be
 * taken out before. */
static void test_bind_lease_again(void **state)
{
    Fixture *f = *state;
    LeaseRequest req = { .ns = "a", .cid = 42, .owner = "vm", .reserve = true, .uid = geteuid(), .bind_pidfd = -1 };
    Lease *l;
    ManagerError e = {};
    if (manager_acquire_lease(f->m, &req, &l, &e) < 0)
        fail_msg("%s", e.message);
    pid_t first = start_sleeper(), second = start_sleeper();
    int first_pidfd = (int) syscall(SYS_pidfd_open, first, 0);
    assert_true(first_pidfd >= 0);

    assert_reply_error(call_manager(f, "BindLease", "sua{sv}", "a", 42, 1, "BindPIDFD", "h", first_pidfd), "");
    assert_int_equal(l->rec.bind_pid, first);
    assert_reply_error(call_manager(f, "BindLease", "sua{sv}", "a", 42, 1, "BindPID", "u", (uint32_t) second), "");
    assert_int_equal(l->rec.bind_pid, second);

    end_sleeper(first);
    bus_pair_run_for(&f->bus, 200 * 1000);
    l = manager_find_lease(f->m, "a", 42);
    assert_non_null(l);
    assert_int_equal(l->rec.bind_pid, second);

    end_sleeper(second);
    for (int i = 0; i < 100 && manager_find_lease(f->m, "a", 42); i++)
        bus_pair_run_for(&f->bus, 20 * 1000);
    assert_null(manager_find_lease(f->m, "a", 42));
    close(first_pidfd);
}

/* A BindLease refused leaves the lease bound, and watched, as it was. */
static void test_bind_lease_refused(void **state)
{
    Fixture *f = *state;
    LeaseRequest req = { .ns = "a", .cid = 43, .owner = "vm", .reserve = true, .uid = geteuid(), .bind_pidfd = -1 };
    Lease *l;
    assert_int_equal(manager_acquire_lease(f->m, &req, &l, NULL), 0);
    pid_t first = start_sleeper(), gone = start_sleeper();
    end_sleeper(gone);
    assert_reply_error(call_manager(f, "BindLease", "sua{sv}", "a", 43, 1, "BindPID", "u", (uint32_t) first), "");
    assert_reply_error(call_manager(f, "BindLease", "sua{sv}", "a", 43, 1, "BindPID", "u", (uint32_t) gone),
                       BUS_ERROR_INVALID_OPTION);
    assert_int_equal(l->rec.bind_pid, first);

    end_sleeper(first);
    for (int i = 0; i < 100 && manager_find_lease(f->m, "a", 43); i++)
        bus_pair_run_for(&f->bus, 20 * 1000);
    assert_null(manager_find_lease(f->m, "a", 43));
}

/* Attached, detached, and detached again: a unit with no drop-in of ours
 * is NotAttached (not NoSuchNamespace: no namespace was named). */
static void test_attach_detach(void **state)
{
    Fixture *f = *state;
    assert_reply_error(call_manager(f, "DetachUnit", "sb", "x.service", 1), BUS_ERROR_NOT_ATTACHED);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "x.service", "a", 1), "");
    assert_true(runtime_dropin_exists(f, "x.service"));
    assert_reply_error(call_manager(f, "DetachUnit", "sb", "x.service", 1), "");
    assert_false(runtime_dropin_exists(f, "x.service"));
    assert_int_equal(f->systemd.reloads, 2);
    assert_reply_error(call_manager(f, "DetachUnit", "sb", "x.service", 1), BUS_ERROR_NOT_ATTACHED);
    assert_int_equal(f->systemd.reloads, 2);
}

/* A drop-in that cannot be written, and a reload that systemd refuses
 * after one was written or removed: UnitFileError, not a kernel's. */
static void test_unit_file_errors(void **state)
{
    Fixture *f = *state;
    char file[128];
    snprintf(file, sizeof(file), "%s/a-file", state_dir);
    FILE *fp = fopen(file, "we");
    assert_non_null(fp);
    fclose(fp);
    snprintf(f->m->config.unit_dir, sizeof(f->m->config.unit_dir), "%s/units", file); /* ENOTDIR */
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "x.service", "a", 0), BUS_ERROR_UNIT_FILE);
    assert_int_equal(f->systemd.reloads, 0);
    unlink(file);

    f->systemd.fail = true;
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "x.service", "a", 1), BUS_ERROR_UNIT_FILE);
    assert_true(runtime_dropin_exists(f, "x.service"));
    assert_reply_error(call_manager(f, "DetachUnit", "sb", "x.service", 1), BUS_ERROR_UNIT_FILE);
    assert_false(runtime_dropin_exists(f, "x.service"));
    assert_int_equal(f->systemd.reloads, 2);
}

/* systemd cannot even be asked to reload: the caller still hears why. */
static void test_attach_reload_not_asked(void **state)
{
    Fixture *f = *state;
    fail_call_of("Reload", -ENOMEM);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "x.service", "a", 1), BUS_ERROR_UNIT_FILE);
    assert_true(runtime_dropin_exists(f, "x.service"));
    assert_int_equal(f->systemd.reloads, 0);
}

int main(void)
{
    if (!mkdtemp(state_dir))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bind_lease_again, fixture_open, fixture_close),
        cmocka_unit_test_setup_teardown(test_bind_lease_refused, fixture_open, fixture_close),
        cmocka_unit_test_setup_teardown(test_attach_detach, fixture_open, fixture_close),
        cmocka_unit_test_setup_teardown(test_unit_file_errors, fixture_open, fixture_close),
        cmocka_unit_test_setup_teardown(test_attach_reload_not_asked, fixture_open, fixture_close),
    };
    int r = cmocka_run_group_tests_name("manager bus layer", tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
    if (system(cmd) != 0)
        r = 1;
    return r;
}
