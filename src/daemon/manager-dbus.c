/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "manager-dbus.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <sys/epoll.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "bus-util.h"
#include "core/errors.h"
#include "core/netns.h"
#include "shared/log.h"
#include "shared/macro.h"

static sd_bus *signal_bus;
static Manager *signal_manager;

static int read_create_option(sd_bus_message *m, const char *key, void *userdata)
{
    CreateRequest *req = userdata;
    int b, r;
    if (streq(key, "Parent"))
        return sd_bus_message_read(m, "v", "s", &req->parent);
    r = sd_bus_message_read(m, "v", "b", &b);
    req->g2h_fallback = !!b;
    return r;
}

/* CreateNamespace options: G2HFallback (b), Parent (s). */
static int read_create_options(sd_bus_message *m, CreateRequest *req, sd_bus_error *error)
{
    static const BusOption known[] = { { "G2HFallback", "b" }, { "Parent", "s" } };
    return bus_read_options(m, known, ELEMENTSOF(known), "G2HFallback (b) and Parent (s)", read_create_option, req,
                            error);
}

static int method_create_namespace(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Manager *manager = userdata;
    CreateRequest req = { .g2h_fallback = -1 };
    ManagerError e = {};
    const char *parent_path;

    int r = sd_bus_message_read(m, "ss", &req.name, &req.mode);
    if (r < 0)
        return r;
    r = read_create_options(m, &req, error);
    if (r < 0 || sd_bus_error_is_set(error))
        return r;

    r = manager_check_create(manager, &req, &parent_path, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    r = bus_check_caller_is_root(m, "create namespaces", error);
    if (r < 0)
        return r;

    Namespace *ns;
    r = manager_create_namespace(manager, &req, &ns, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    _cleanup_free_ char *path = namespace_object_path(ns->name);
    if (!path)
        return -ENOMEM;
    return sd_bus_reply_method_return(m, "o", path);
}

static int method_delete_namespace(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Manager *manager = userdata;
    ManagerError e = {};
    const char *name;
    int force;

    int r = sd_bus_message_read(m, "sb", &name, &force);
    if (r < 0)
        return r;
    if (!manager_find(manager, name))
        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_NAMESPACE, "No namespace '%.64s' managed by vsockns.", name);
    r = bus_check_caller_is_root(m, "delete namespaces", error);
    if (r < 0)
        return r;
    r = manager_delete_namespace(manager, name, force, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    return sd_bus_reply_method_return(m, NULL);
}

static int method_get_namespace(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Manager *manager = userdata;
    const char *name;

    int r = sd_bus_message_read(m, "s", &name);
    if (r < 0)
        return r;
    if (!manager_find(manager, name))
        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_NAMESPACE, "No namespace '%.64s' managed by vsockns.", name);
    _cleanup_free_ char *path = namespace_object_path(name);
    if (!path)
        return -ENOMEM;
    return sd_bus_reply_method_return(m, "o", path);
}

static int method_list_namespaces(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Manager *manager = userdata;
    sd_bus_message *reply = NULL;

    int r = sd_bus_message_new_method_return(m, &reply);
    if (r >= 0)
        r = sd_bus_message_open_container(reply, 'a', "(ssso)");
    for (size_t i = 0; r >= 0 && i < manager->n_namespaces; i++) {
        const Namespace *ns = &manager->namespaces[i];
        char pin[PATH_MAX];
        _cleanup_free_ char *path = namespace_object_path(ns->name);
        snprintf(pin, sizeof(pin), "%s/%s", manager->config.netns_dir, ns->name);
        r = path ? sd_bus_message_append(reply, "(ssso)", ns->name, vsock_mode_to_string(ns->mode), pin, path)
                 : -ENOMEM;
    }
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    if (r >= 0)
        r = sd_bus_send(NULL, reply, NULL);
    sd_bus_message_unref(reply);
    return r;
}

/* BindPID 0 or above INT32_MAX is refused by the manager's check. */
static int read_lease_option(sd_bus_message *m, const char *key, void *userdata)
{
    LeaseRequest *req = userdata;
    int b, r;
    uint32_t pid;

    if (streq(key, "Strategy"))
        return sd_bus_message_read(m, "v", "s", &req->strategy);
    if (streq(key, "BindPIDFD"))
        return sd_bus_message_read(m, "v", "h", &req->bind_pidfd);
    if (streq(key, "Reserve")) {
        r = sd_bus_message_read(m, "v", "b", &b);
        req->reserve = b;
        return r;
    }
    r = sd_bus_message_read(m, "v", "u", &pid);
    req->bind_pid = pid == 0 || pid > INT32_MAX ? -1 : (pid_t) pid;
    return r;
}

/* AcquireLease options: Strategy (s), Reserve (b), BindPID (u), BindPIDFD (h). */
static int read_lease_options(sd_bus_message *m, LeaseRequest *req, sd_bus_error *error)
{
    static const BusOption known[] = {
        { "Strategy", "s" }, { "Reserve", "b" }, { "BindPID", "u" }, { "BindPIDFD", "h" },
    };
    return bus_read_options(m, known, ELEMENTSOF(known), "Strategy (s), Reserve (b), BindPID (u) and BindPIDFD (h)",
                            read_lease_option, req, error);
}

static int caller_identity(sd_bus_message *m, uid_t *ret_uid, pid_t *ret_pid)
{
    sd_bus_creds *creds = NULL;
    int r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID, &creds);
    if (r >= 0)
        r = sd_bus_creds_get_euid(creds, ret_uid);
    if (r >= 0 && sd_bus_creds_get_pid(creds, ret_pid) < 0)
        *ret_pid = 0;
    sd_bus_creds_unref(creds);
    return r;
}

static int method_acquire_lease(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Manager *manager = userdata;
    LeaseRequest req = { .reserve = true, .bind_pidfd = -1 };
    ManagerError e = {};

    int r = sd_bus_message_read(m, "sus", &req.ns, &req.cid, &req.owner);
    if (r < 0)
        return r;
    r = read_lease_options(m, &req, error);
    if (r < 0 || sd_bus_error_is_set(error))
        return r;
    r = caller_identity(m, &req.uid, &req.pid);
    if (r < 0)
        return r;
    r = manager_check_lease_request(manager, &req, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    r = bus_check_caller_is_root(m, "acquire CID leases", error);
    if (r < 0)
        return r;

    Lease *l;
    r = manager_acquire_lease(manager, &req, &l, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    /* Advisory leases hold nothing: the caller gets /dev/null. */
    _cleanup_close_ int null_fd = l->fd < 0 ? open("/dev/null", O_RDONLY | O_CLOEXEC) : -1;
    return sd_bus_reply_method_return(m, "uh", l->rec.cid, l->fd >= 0 ? l->fd : null_fd);
}

static int method_release_lease(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Manager *manager = userdata;
    ManagerError e = {};
    const char *ns;
    uint32_t cid;
    uid_t uid;
    pid_t pid;

    int r = sd_bus_message_read(m, "su", &ns, &cid);
    if (r < 0)
        return r;
    r = caller_identity(m, &uid, &pid);
    if (r < 0)
        return r;
    r = manager_release_lease(manager, ns, cid, uid, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    return sd_bus_reply_method_return(m, NULL);
}

static int append_lease(Lease *l, void *userdata)
{
    return sd_bus_message_append(userdata, "(susbt)", l->rec.ns, l->rec.cid, l->rec.owner, (int) l->rec.reserved,
                                 l->rec.acquired_usec);
}

static int method_list_leases(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Manager *manager = userdata;
    sd_bus_message *reply = NULL;
    const char *ns;

    int r = sd_bus_message_read(m, "s", &ns);
    if (r < 0)
        return r;
    if (ns[0] && !streq(ns, NS_NAME_HOST) && !manager_find(manager, ns))
        return sd_bus_error_setf(error, BUS_ERROR_NO_SUCH_NAMESPACE, "No namespace '%.64s' managed by vsockns.", ns);
    r = sd_bus_message_new_method_return(m, &reply);
    if (r >= 0)
        r = sd_bus_message_open_container(reply, 'a', "(susbt)");
    if (r >= 0)
        r = manager_foreach_lease(manager, ns, append_lease, reply);
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    if (r >= 0)
        r = sd_bus_send(NULL, reply, NULL);
    sd_bus_message_unref(reply);
    return r;
}

static int property_get_kernel_support(sd_bus *bus, const char *path, const char *interface, const char *property,
                                       sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    Manager *m = userdata;
    return sd_bus_message_append(reply, "s", kernel_support_to_string(m->kernel_support));
}

static int property_get_parent_status(sd_bus *bus, const char *path, const char *interface, const char *property,
                                      sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    Manager *m = userdata;
    if (m->kernel_support == KERNEL_SUPPORT_NONE)
        return sd_bus_message_append(reply, "s", "unsupported");
    const Parent *p = &m->parents[streq(property, "LocalParentStatus") ? VSOCK_MODE_LOCAL : VSOCK_MODE_GLOBAL];
    return sd_bus_message_append(reply, "s", p->status == 0 ? "ok" : p->problem);
}

static int property_get_namespace_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                                        sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    Manager *m = userdata;
    return sd_bus_message_append(reply, "u", (uint32_t) m->n_namespaces);
}

static int property_get_lease_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    Manager *m = userdata;
    return sd_bus_message_append(reply, "u", (uint32_t) m->n_leases);
}

static const sd_bus_vtable manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Version", "s", bus_property_get_inline_string, offsetof(Manager, version), SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("KernelSupport", "s", property_get_kernel_support, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("HostChildMode", "s", bus_property_get_inline_string, offsetof(Manager, host_child_mode), SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("G2HFallbackSupported", "b", bus_property_get_bool, offsetof(Manager, g2h_fallback_supported),
                    SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("GuestTransport", "b", bus_property_get_bool, offsetof(Manager, guest_transport),
                    SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("LocalParentStatus", "s", property_get_parent_status, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("GlobalParentStatus", "s", property_get_parent_status, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("NamespaceCount", "u", property_get_namespace_count, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("LeaseCount", "u", property_get_lease_count, 0, 0),
    SD_BUS_PROPERTY("FDStore", "b", bus_property_get_bool, offsetof(Manager, have_fd_store), SD_BUS_VTABLE_PROPERTY_CONST),

    SD_BUS_METHOD_WITH_ARGS("CreateNamespace",
                            SD_BUS_ARGS("s", name, "s", mode, "a{sv}", options),
                            SD_BUS_RESULT("o", object),
                            method_create_namespace, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("DeleteNamespace",
                            SD_BUS_ARGS("s", name, "b", force),
                            SD_BUS_NO_RESULT,
                            method_delete_namespace, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetNamespace",
                            SD_BUS_ARGS("s", name),
                            SD_BUS_RESULT("o", object),
                            method_get_namespace, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ListNamespaces",
                            SD_BUS_NO_ARGS,
                            SD_BUS_RESULT("a(ssso)", namespaces),
                            method_list_namespaces, SD_BUS_VTABLE_UNPRIVILEGED),

    SD_BUS_METHOD_WITH_ARGS("AcquireLease",
                            SD_BUS_ARGS("s", namespace, "u", cid, "s", owner, "a{sv}", options),
                            SD_BUS_RESULT("u", cid, "h", fd),
                            method_acquire_lease, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ReleaseLease",
                            SD_BUS_ARGS("s", namespace, "u", cid),
                            SD_BUS_NO_RESULT,
                            method_release_lease, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ListLeases",
                            SD_BUS_ARGS("s", namespace),
                            SD_BUS_RESULT("a(susbt)", leases),
                            method_list_leases, SD_BUS_VTABLE_UNPRIVILEGED),

    SD_BUS_SIGNAL_WITH_ARGS("NamespaceCreated", SD_BUS_ARGS("s", name, "o", object), 0),
    SD_BUS_SIGNAL_WITH_ARGS("NamespaceRemoved", SD_BUS_ARGS("s", name, "o", object), 0),
    SD_BUS_SIGNAL_WITH_ARGS("LeaseAcquired", SD_BUS_ARGS("s", namespace, "u", cid, "s", owner), 0),
    SD_BUS_SIGNAL_WITH_ARGS("LeaseReleased", SD_BUS_ARGS("s", namespace, "u", cid, "s", owner), 0),
    SD_BUS_VTABLE_END,
};

static void emit_namespace_signal(const char *member, const Namespace *ns)
{
    _cleanup_free_ char *path = namespace_object_path(ns->name);
    if (!signal_bus || !path)
        return;
    int r = sd_bus_emit_signal(signal_bus, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE, member, "so", ns->name, path);
    if (r < 0)
        log_warning_errno(r, "Cannot emit %s for '%s': %m", member, ns->name);
    if (streq(member, "NamespaceCreated"))
        r = sd_bus_emit_object_added(signal_bus, path);
    else
        /* The object can no longer be found (the manager has let go of
         * it), so name its interfaces ourselves: the same set that
         * GetManagedObjects listed for it. */
        r = sd_bus_emit_interfaces_removed(signal_bus, path, "org.freedesktop.DBus.Peer",
                                           "org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.Properties",
                                           VSOCKNS_NAMESPACE_IFACE, NULL);
    if (r < 0)
        log_warning_errno(r, "Cannot emit the ObjectManager signal for '%s': %m", ns->name);
    sd_bus_emit_properties_changed(signal_bus, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE, "NamespaceCount", NULL);
}

static void on_namespace_added(Manager *m, const Namespace *ns, void *userdata)
{
    emit_namespace_signal("NamespaceCreated", ns);
}

static void on_namespace_removed(Manager *m, const Namespace *ns, void *userdata)
{
    emit_namespace_signal("NamespaceRemoved", ns);
}

static int on_bound_process_exit(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
    manager_drop_lease(signal_manager, userdata, "the process it was bound to exited");
    return 0;
}

/* Returns once systemd has processed our earlier fd store messages. */
static void fd_store_barrier(void)
{
    int r = sd_notify_barrier(false, 5 * 1000000ULL);
    if (r < 0)
        log_warning_errno(r, "systemd did not confirm changes to the fd store: %m");
}

static void fd_store(const Lease *l, bool add, bool wait)
{
    char name[256], msg[512];
    lease_fd_name(l, name, sizeof(name));
    if (add) {
        snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
        int r = sd_pid_notify_with_fds(0, false, msg, &l->fd, 1);
        if (r < 0)
            log_warning_errno(r, "Cannot put the fd of CID %u in %s into the fd store: %m", l->rec.cid, l->rec.ns);
    } else {
        /*
         * The store's copy shares the open device with ours: the kernel
         * frees the CID only once systemd has closed it too. Wait until
         * systemd has processed the removal, so a released CID is free when
         * ReleaseLease returns (and is not mistaken for one held outside).
         */
        snprintf(msg, sizeof(msg), "FDSTOREREMOVE=1\nFDNAME=%s", name);
        sd_notify(false, msg);
        if (wait)
            fd_store_barrier();
    }
}

static void on_lease_added(Manager *m, Lease *l, const char *why, void *userdata)
{
    if (l->fd >= 0 && m->have_fd_store)
        fd_store(l, true, false);
    if (l->bind_pidfd >= 0) {
        sd_event_source *s = NULL;
        int r = sd_event_add_io(sd_bus_get_event(signal_bus), &s, l->bind_pidfd, EPOLLIN, on_bound_process_exit, l);
        if (r < 0)
            log_warning_errno(r, "Cannot watch the process of lease %u in %s: %m", l->rec.cid, l->rec.ns);
        l->watch = s;
    }
    if (why) /* re-adopted at startup: nothing new to announce */
        return;
    int r = sd_bus_emit_signal(signal_bus, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE, "LeaseAcquired", "sus", l->rec.ns,
                               l->rec.cid, l->rec.owner);
    if (r < 0)
        log_warning_errno(r, "Cannot emit LeaseAcquired: %m");
}

static void on_lease_removed(Manager *m, Lease *l, const char *why, void *userdata)
{
    if (l->fd >= 0 && m->have_fd_store)
        fd_store(l, false, !m->dropping_many);
    sd_event_source_disable_unref(l->watch);
    l->watch = NULL;
    int r = sd_bus_emit_signal(signal_bus, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE, "LeaseReleased", "sus", l->rec.ns,
                               l->rec.cid, l->rec.owner);
    if (r < 0)
        log_warning_errno(r, "Cannot emit LeaseReleased: %m");
}

static void on_leases_flushed(Manager *m, void *userdata)
{
    if (m->have_fd_store)
        fd_store_barrier();
}

void manager_dbus_connect_signals(sd_bus *bus, Manager *m)
{
    m->on_leases_flushed = on_leases_flushed;
    signal_bus = bus;
    signal_manager = m;
    m->on_added = on_namespace_added;
    m->on_removed = on_namespace_removed;
    m->on_lease_added = on_lease_added;
    m->on_lease_removed = on_lease_removed;
}

int manager_dbus_register(sd_bus *bus, Manager *m)
{
    int r = sd_bus_add_object_vtable(bus, NULL, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE, manager_vtable, m);
    if (r < 0)
        return r;
    return sd_bus_add_object_manager(bus, NULL, VSOCKNS_PATH);
}
