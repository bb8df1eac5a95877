/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The org.vsockns1.Manager handlers (daemon/manager-dbus.c) on a direct
 * connection, with the manager on a fake kernel: the peer is the caller
 * (root, or with a unique name a caller whose uid is unknown, as any
 * other user), polkit's authority for that caller (yes, except about the
 * namespace the test names) and systemd.
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
#include "core/attach.h"
#include "core/manager.h"
#include "daemon/bus-errors.h"
#include "daemon/bus-util.h"
#include "daemon/manager-dbus.h"
#include "shared/macro.h"

static char state_dir[] = "/tmp/vsockns-test-manager-dbus.XXXXXX";

static int fake_reserve(void *userdata, const char *ns, int netns_fd, uint32_t cid)
{
    return eventfd(0, EFD_CLOEXEC);
}

static const LeaseKernelOps fake_kernel = { .reserve_cid = fake_reserve };

/* polkit: the questions asked, as "VERB NAMESPACE" from their details. */
typedef struct FakeAuthority {
    unsigned asked;
    char about[8][128];
    const char *deny_ns;   /* a question about this namespace is answered no */
} FakeAuthority;

static int method_check_authorization(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    FakeAuthority *a = userdata;
    const char *action, *key, *value, *verb = "", *ns = "";
    assert_true(sd_bus_message_skip(m, "(sa{sv})") >= 0);
    assert_true(sd_bus_message_read(m, "s", &action) >= 0);
    assert_true(sd_bus_message_enter_container(m, 'a', "{ss}") >= 0);
    while (sd_bus_message_read(m, "{ss}", &key, &value) > 0) {
        if (strcmp(key, "verb") == 0)
            verb = value;
        else if (strcmp(key, "namespace") == 0)
            ns = value;
    }
    bool allow = !a->deny_ns || strcmp(ns, a->deny_ns) != 0;
    if (a->asked < ELEMENTSOF(a->about))
        snprintf(a->about[a->asked], sizeof(a->about[0]), "%s %s", verb, ns);
    a->asked++;
    return sd_bus_reply_method_return(m, "(bba{ss})", (int) allow, 0, 0);
}

static const sd_bus_vtable authority_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("CheckAuthorization", "(sa{sv})sa{ss}us", "(bba{ss})", method_check_authorization, 0),
    SD_BUS_VTABLE_END,
};

/* systemd, as the peer: Reload answers, fails when told to, or is held
 * until the test answers it; LoadUnit gives every unit one object, whose
 * Names are the unit's and, for the unit alias_of[0], alias_of[1]. */
typedef struct FakeSystemd {
    unsigned reloads;
    bool fail, hold, hold_load;
    sd_bus_message *held;  /* the Reload being held */
    sd_bus_message *held_load; /* the LoadUnit being held (hold_load) */
    char loaded[256];      /* the last unit loaded */
    const char *alias_of[2];
} FakeSystemd;

static int method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    FakeSystemd *s = userdata;
    s->reloads++;
    if (s->fail)
        return sd_bus_error_set(error, SD_BUS_ERROR_FAILED, "Reload refused by the test");
    if (s->hold) {
        assert_null(s->held);
        s->held = sd_bus_message_ref(m);
        return 1;
    }
    return sd_bus_reply_method_return(m, NULL);
}

static int method_load_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    FakeSystemd *s = userdata;
    const char *unit;
    assert_true(sd_bus_message_read(m, "s", &unit) >= 0);
    snprintf(s->loaded, sizeof(s->loaded), "%s", unit);
    if (s->hold_load) {
        assert_null(s->held_load);
        s->held_load = sd_bus_message_ref(m);
        return 1;
    }
    return sd_bus_reply_method_return(m, "o", "/org/freedesktop/systemd1/unit/loaded");
}

static int property_names(sd_bus *bus, const char *path, const char *interface, const char *property,
                          sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    FakeSystemd *s = userdata;
    if (s->alias_of[0] && strcmp(s->loaded, s->alias_of[0]) == 0)
        return sd_bus_message_append(reply, "as", 2, s->loaded, s->alias_of[1]);
    return sd_bus_message_append(reply, "as", 1, s->loaded);
}

static const sd_bus_vtable systemd_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Reload", "", "", method_reload, 0),
    SD_BUS_METHOD("LoadUnit", "s", "o", method_load_unit, 0),
    SD_BUS_VTABLE_END,
};

static const sd_bus_vtable unit_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Names", "as", property_names, 0, 0),
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

int __real_sd_bus_call_async(sd_bus *bus, sd_bus_slot **slot, sd_bus_message *m, sd_bus_message_handler_t callback,
                             void *userdata, uint64_t usec);
int __wrap_sd_bus_call_async(sd_bus *bus, sd_bus_slot **slot, sd_bus_message *m, sd_bus_message_handler_t callback,
                             void *userdata, uint64_t usec);

/* The same for calls made from a message (systemd's Reload, with its own
 * timeout). */
int __wrap_sd_bus_call_async(sd_bus *bus, sd_bus_slot **slot, sd_bus_message *m, sd_bus_message_handler_t callback,
                             void *userdata, uint64_t usec)
{
    const char *member = sd_bus_message_get_member(m);
    if (failing_call && member && strcmp(member, failing_call) == 0)
        return failing_call_error;
    return __real_sd_bus_call_async(bus, slot, m, callback, userdata, usec);
}

typedef struct Fixture {
    BusPair bus;
    FakeNetns netns;
    FakeSystemd systemd;
    FakeAuthority authority;
    Manager *m;
} Fixture;

/* A managed local namespace, pinned in the fake where the manager looks. */
static void add_namespace(Fixture *f, const char *name)
{
    Manager *m = f->m;
    Namespace *ns = namespace_new(&(Namespace) { .mode = VSOCK_MODE_LOCAL, .g2h_fallback = -1, .fd = -1 });
    assert_non_null(ns);
    snprintf(ns->name, sizeof(ns->name), "%s", name);
    assert_int_equal(ns_table_add(&m->namespaces, ns), 0); /* manager_free() frees it */
    char pin[512];
    snprintf(pin, sizeof(pin), "%s/%s", m->config.netns_dir, name);
    NetnsId id = fake_netns_plant(&f->netns, pin, true);
    ns->dev = id.dev;
    ns->inode = id.ino;
}

/* sender: NULL for a root caller, or a unique name (any other user). */
static int fixture_open_as(void **state, const char *sender)
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
    snprintf(c.generator_dir, sizeof(c.generator_dir), "%s/generator", state_dir);
    snprintf(c.netns_dir, sizeof(c.netns_dir), "%s", state_dir);
    assert_int_equal(manager_new(&c, &f->m), 0);
    Manager *m = f->m;
    m->kernel_support = KERNEL_SUPPORT_NAMESPACES;
    m->kernel = &fake_kernel;
    fake_netns_init(&f->netns, state_dir);
    m->netns = &fake_netns_ops;
    m->netns_userdata = &f->netns;

    add_namespace(f, "a");

    bus_pair_open(&f->bus, sender);
    /* On the pair's loop, as vsocknsd runs it by hand (no fd store). */
    assert_int_equal(manager_attach_event(m, f->bus.event, LEASE_FDS_BY_HAND), 0);
    assert_int_equal(manager_dbus_connect_signals(f->bus.daemon, m), 0);
    assert_true(manager_dbus_register(f->bus.daemon, m) >= 0);
    assert_true(sd_bus_add_object_vtable(f->bus.peer, NULL, "/org/freedesktop/PolicyKit1/Authority",
                                         "org.freedesktop.PolicyKit1.Authority", authority_vtable, &f->authority) >= 0);
    assert_true(sd_bus_add_object_vtable(f->bus.peer, NULL, "/org/freedesktop/systemd1",
                                         "org.freedesktop.systemd1.Manager", systemd_vtable, &f->systemd) >= 0);
    assert_true(sd_bus_add_object_vtable(f->bus.peer, NULL, "/org/freedesktop/systemd1/unit/loaded",
                                         "org.freedesktop.systemd1.Unit", unit_vtable, &f->systemd) >= 0);
    return 0;
}

static int fixture_open(void **state)
{
    return fixture_open_as(state, NULL);
}

/* A caller that is not root; namespaces a and b, and AttachableUnits=
 * listing x.service for both. */
static int fixture_open_user(void **state)
{
    fixture_open_as(state, ":1.42");
    Fixture *f = *state;
    add_namespace(f, "b");
    f->m->attachable = calloc(2, sizeof(AttachableUnit));
    assert_non_null(f->m->attachable);
    f->m->attachable[0] = (AttachableUnit) { .ns = "a", .glob = "x.service" };
    f->m->attachable[1] = (AttachableUnit) { .ns = "b", .glob = "x.service" };
    f->m->n_attachable = 2;
    return 0;
}

/* Run after each test, failed or not. */
static int fixture_close(void **state)
{
    Fixture *f = *state;
    manager_dbus_disconnect(f->m);
    sd_bus_message_unref(f->systemd.held);
    sd_bus_message_unref(f->systemd.held_load);
    bus_pair_close(&f->bus);
    manager_free(f->m);
    free(f);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s/state %s/units %s/runtime-units %s/generator %s/a-file", state_dir,
             state_dir, state_dir, state_dir, state_dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The namespace UNIT's runtime drop-in joins, "" for none. */
static const char *runtime_dropin_joins(Fixture *f, const char *unit)
{
    static char ns[NS_NAME_MAX + 1];
    ns[0] = '\0';
    assert_true(attach_read(f->m->config.runtime_unit_dir, unit, ns, sizeof(ns)) >= 0);
    return ns;
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

/* Units the system needs in the host's namespace are never attached, by
 * their own name or by an alias systemd knows them under; nothing is
 * written, systemd is not reloaded. */
static void test_attach_forbidden(void **state)
{
    Fixture *f = *state;
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "dbus.service", "a", 1), BUS_ERROR_ACCESS_DENIED);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "vsocknsd.service", "a", 1), BUS_ERROR_ACCESS_DENIED);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "getty@tty1.service", "a", 1), BUS_ERROR_ACCESS_DENIED);
    assert_false(runtime_dropin_exists(f, "dbus.service"));
    f->systemd.alias_of[0] = "messagebus.service";
    f->systemd.alias_of[1] = "dbus.service";
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "messagebus.service", "a", 1), BUS_ERROR_ACCESS_DENIED);
    assert_false(runtime_dropin_exists(f, "messagebus.service"));
    /* Not one unit, but every unit whose name begins so (systemd's
     * prefix drop-ins): refused before anything is asked. */
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "dbus-.service", "a", 1), BUS_ERROR_INVALID_OPTION);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "systemd-.service", "a", 1), BUS_ERROR_INVALID_OPTION);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "vsockns-namespace@a.service", "a", 1),
                       BUS_ERROR_ACCESS_DENIED);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "dbus.socket", "a", 1), BUS_ERROR_ACCESS_DENIED);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "systemd-journald@tenant.socket", "a", 1),
                       BUS_ERROR_ACCESS_DENIED);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "systemd-journald-varlink@tenant.socket", "a", 1),
                       BUS_ERROR_ACCESS_DENIED);
    assert_false(runtime_dropin_exists(f, "dbus-.service"));
    assert_int_equal(f->systemd.reloads, 0);
    /* Anything else stays attachable by root. */
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "systemd-nspawn@vm1.service", "a", 1), "");
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "ssh.service", "a", 1), "");
    assert_int_equal(f->systemd.reloads, 2);
}

/* A 50-vsockns.conf that vsockns did not write is never replaced. */
static void test_attach_unmarked_left_alone(void **state)
{
    Fixture *f = *state;
    char dir[1024], path[1100];
    snprintf(dir, sizeof(dir), "%s/x.service.d", f->m->config.runtime_unit_dir);
    assert_int_equal(mkdir(f->m->config.runtime_unit_dir, 0755), 0);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof(path), "%s/50-vsockns.conf", dir);
    FILE *fp = fopen(path, "we");
    assert_non_null(fp);
    fputs("[Service]\nEnvironment=MINE=1\n", fp);
    fclose(fp);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "x.service", "a", 1), BUS_ERROR_UNIT_FILE);
    char text[256] = "";
    fp = fopen(path, "re");
    assert_non_null(fp);
    assert_true(fread(text, 1, sizeof(text) - 1, fp) > 0);
    fclose(fp);
    assert_string_equal(text, "[Service]\nEnvironment=MINE=1\n");
    assert_reply_error(call_manager(f, "DetachUnit", "sb", "x.service", 1), BUS_ERROR_ACCESS_DENIED);
    /* A link of that name (to somebody's file) is not ours either. */
    char ydir[1024], ypath[1100];
    snprintf(ydir, sizeof(ydir), "%s/y.service.d", f->m->config.runtime_unit_dir);
    assert_int_equal(mkdir(ydir, 0755), 0);
    snprintf(ypath, sizeof(ypath), "%s/50-vsockns.conf", ydir);
    assert_int_equal(symlink(path, ypath), 0);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "y.service", "a", 1), BUS_ERROR_UNIT_FILE);
    char target[1100] = "";
    assert_true(readlink(ypath, target, sizeof(target) - 1) > 0);
    assert_string_equal(target, path);
    assert_int_equal(f->systemd.reloads, 0);
}

static int on_attach_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    unsigned *ok = userdata;
    if (!sd_bus_message_is_method_error(reply, NULL))
        (*ok)++;
    return 0;
}

/* Five attaches at once while a Reload is under way: one more Reload for
 * the four that came meanwhile, each caller answered after the Reload
 * that covers its drop-in. */
static void test_reloads_coalesced(void **state)
{
    Fixture *f = *state;
    f->systemd.hold = true;
    unsigned ok = 0;
    for (unsigned i = 0; i < 5; i++) {
        char unit[32];
        snprintf(unit, sizeof(unit), "u%u.service", i);
        assert_true(sd_bus_call_method_async(f->bus.peer, NULL, NULL, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE,
                                             "AttachUnit", on_attach_reply, &ok, "ssb", unit, "a", 1) >= 0);
    }
    for (unsigned i = 0; i < 500 && !(f->systemd.held && runtime_dropin_exists(f, "u4.service")); i++)
        bus_pair_run_for(&f->bus, 10000);
    assert_non_null(f->systemd.held);
    assert_true(runtime_dropin_exists(f, "u4.service"));
    assert_int_equal(f->systemd.reloads, 1);
    assert_int_equal(ok, 0); /* nobody answered before a Reload is done */
    bus_pair_run_for(&f->bus, 50000);
    assert_int_equal(f->systemd.reloads, 1);
    for (unsigned round = 0; round < 2; round++) {
        sd_bus_message *held = f->systemd.held;
        f->systemd.held = NULL;
        assert_non_null(held);
        assert_true(sd_bus_reply_method_return(held, NULL) >= 0);
        sd_bus_message_unref(held);
        for (unsigned i = 0; i < 500 && !f->systemd.held && ok < 5; i++)
            bus_pair_run_for(&f->bus, 10000);
    }
    assert_int_equal(ok, 5);
    assert_int_equal(f->systemd.reloads, 2);
}

/* A user moving x.service out of b into a: polkit is asked about joining
 * a and about leaving b (as a detach from b), so a rule that grants only
 * a cannot take units out of b. */
static void test_attach_move_asks_both(void **state)
{
    Fixture *f = *state;
    assert_int_equal(attach_write(f->m->config.runtime_unit_dir, "x.service", "b", f->m->config.netns_dir), 0);
    f->authority.deny_ns = "b";
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "x.service", "a", 1), BUS_ERROR_ACCESS_DENIED);
    assert_int_equal(f->authority.asked, 2);
    assert_string_equal(f->authority.about[0], "attach a");
    assert_string_equal(f->authority.about[1], "detach b");
    assert_string_equal(runtime_dropin_joins(f, "x.service"), "b");
    assert_int_equal(f->systemd.reloads, 0);

    f->authority.deny_ns = NULL;
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "x.service", "a", 1), "");
    assert_int_equal(f->authority.asked, 4);
    assert_string_equal(runtime_dropin_joins(f, "x.service"), "a");
    /* Attached there already: it leaves nothing, one question. */
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "x.service", "a", 1), "");
    assert_int_equal(f->authority.asked, 5);
    /* A user whom a rule allows for a only cannot take it into b. */
    f->authority.deny_ns = "a";
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "x.service", "b", 1), BUS_ERROR_ACCESS_DENIED);
    assert_string_equal(runtime_dropin_joins(f, "x.service"), "a");
}

/* Another layer that attaches the unit: the other of /etc and /run (for
 * anyone), or namespaces.d through the generator (for anyone but root).
 * Refused before polkit is asked; nothing is written. */
static void test_attach_other_layers(void **state)
{
    Fixture *f = *state;
    assert_int_equal(attach_write(f->m->config.unit_dir, "x.service", "b", f->m->config.netns_dir), 0);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "x.service", "a", 1), BUS_ERROR_UNIT_FILE);
    assert_false(runtime_dropin_exists(f, "x.service"));
    assert_int_equal(f->authority.asked, 0);
    assert_int_equal(attach_remove(f->m->config.unit_dir, "x.service"), 0);

    /* namespaces.d's, as vsockns-generator writes it: into b. Into a is
     * refused; into b (where it is already) is not. */
    assert_int_equal(attach_write(f->m->config.generator_dir, "x.service", "b", f->m->config.netns_dir), 0);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "x.service", "a", 1), BUS_ERROR_UNIT_FILE);
    assert_false(runtime_dropin_exists(f, "x.service"));
    assert_int_equal(f->authority.asked, 0);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "x.service", "b", 1), "");
    assert_int_equal(attach_remove(f->m->config.generator_dir, "x.service"), 0);
    assert_reply_error(call_manager(f, "AttachUnit", "ssb", "x.service", "a", 1), "");
    assert_string_equal(runtime_dropin_joins(f, "x.service"), "a");
}

typedef struct AsyncReply {
    sd_bus_message *reply;
    bool answered;
} AsyncReply;

static int on_async_reply(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    AsyncReply *r = userdata;
    r->reply = sd_bus_message_ref(reply);
    r->answered = true;
    return 0;
}

/* AttachUnit(unit, a) with systemd's LoadUnit held; then change() runs
 * while it is, then LoadUnit is answered: the reply. */
static sd_bus_message *attach_while_loading(Fixture *f, const char *unit, void (*change)(Fixture *f))
{
    f->systemd.hold_load = true;
    AsyncReply r = { 0 };
    assert_true(sd_bus_call_method_async(f->bus.peer, NULL, NULL, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE, "AttachUnit",
                                         on_async_reply, &r, "ssb", unit, "a", 1) >= 0);
    for (unsigned i = 0; i < 500 && !f->systemd.held_load; i++)
        bus_pair_run_for(&f->bus, 10000);
    assert_non_null(f->systemd.held_load);
    change(f);
    assert_true(sd_bus_reply_method_return(f->systemd.held_load, "o", "/org/freedesktop/systemd1/unit/loaded") >= 0);
    f->systemd.held_load = sd_bus_message_unref(f->systemd.held_load);
    f->systemd.hold_load = false;
    assert_true(bus_pair_run_until(&f->bus, &r.answered, 5000000));
    return r.reply;
}

static void move_x_to_b(Fixture *f)
{
    assert_int_equal(attach_write(f->m->config.runtime_unit_dir, "x.service", "b", f->m->config.netns_dir), 0);
}

static void remake_a(Fixture *f)
{
    manager_find(f->m, "a")->inode++; /* another namespace under the same name */
}

/* What was authorized is checked again just before the write: a unit
 * another change moved meanwhile, or a namespace made again under the
 * same name, and nothing is written. */
static void test_attach_rechecked_before_write(void **state)
{
    Fixture *f = *state;
    assert_reply_error(attach_while_loading(f, "x.service", move_x_to_b), BUS_ERROR_UNIT_FILE);
    assert_string_equal(runtime_dropin_joins(f, "x.service"), "b");
    assert_reply_error(attach_while_loading(f, "y.service", remake_a), BUS_ERROR_NO_SUCH_NAMESPACE);
    assert_false(runtime_dropin_exists(f, "y.service"));
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
        cmocka_unit_test_setup_teardown(test_attach_forbidden, fixture_open, fixture_close),
        cmocka_unit_test_setup_teardown(test_attach_unmarked_left_alone, fixture_open, fixture_close),
        cmocka_unit_test_setup_teardown(test_reloads_coalesced, fixture_open, fixture_close),
        cmocka_unit_test_setup_teardown(test_attach_move_asks_both, fixture_open_user, fixture_close),
        cmocka_unit_test_setup_teardown(test_attach_other_layers, fixture_open_user, fixture_close),
        cmocka_unit_test_setup_teardown(test_attach_rechecked_before_write, fixture_open, fixture_close),
    };
    int r = cmocka_run_group_tests_name("manager bus layer", tests, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", state_dir);
    if (system(cmd) != 0)
        r = 1;
    return r;
}
