/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "manager-dbus.h"

#include <errno.h>
#include <string.h>

#include "bus-util.h"
#include "core/errors.h"
#include "core/netns.h"
#include "shared/log.h"
#include "shared/macro.h"

static sd_bus *signal_bus;

/* Reads a{sv} CreateNamespace options: G2HFallback (b), Parent (s). */
static int read_create_options(sd_bus_message *m, CreateRequest *req, sd_bus_error *error)
{
    int r = sd_bus_message_enter_container(m, 'a', "{sv}");
    if (r < 0)
        return r;
    while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
        const char *key, *contents;
        char type;
        r = sd_bus_message_read(m, "s", &key);
        if (r < 0)
            return r;
        r = sd_bus_message_peek_type(m, &type, &contents);
        if (r < 0)
            return r;

        const char *want = streq(key, "G2HFallback") ? "b" : streq(key, "Parent") ? "s" : NULL;
        if (!want)
            return sd_bus_error_setf(error, BUS_ERROR_INVALID_OPTION,
                                     "Unknown option '%.64s'; known options are G2HFallback (b) and Parent (s).", key);
        if (!streq(contents, want))
            return sd_bus_error_setf(error, BUS_ERROR_INVALID_OPTION,
                                     "Option '%s' must be of type '%s', not '%.16s'.", key, want, contents);
        if (streq(key, "G2HFallback")) {
            int b;
            r = sd_bus_message_read(m, "v", "b", &b);
            req->g2h_fallback = !!b;
        } else
            r = sd_bus_message_read(m, "v", "s", &req->parent);
        if (r < 0)
            return r;
        r = sd_bus_message_exit_container(m);
        if (r < 0)
            return r;
    }
    if (r < 0)
        return r;
    return sd_bus_message_exit_container(m);
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
    SD_BUS_PROPERTY("NamespaceCount", "u", property_get_namespace_count, 0, 0),

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

    SD_BUS_SIGNAL_WITH_ARGS("NamespaceCreated", SD_BUS_ARGS("s", name, "o", object), 0),
    SD_BUS_SIGNAL_WITH_ARGS("NamespaceRemoved", SD_BUS_ARGS("s", name, "o", object), 0),
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
        sd_bus_emit_object_added(signal_bus, path);
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

void manager_dbus_connect_signals(sd_bus *bus, Manager *m)
{
    signal_bus = bus;
    m->on_added = on_namespace_added;
    m->on_removed = on_namespace_removed;
}

int manager_dbus_register(sd_bus *bus, Manager *m)
{
    int r = sd_bus_add_object_vtable(bus, NULL, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE, manager_vtable, m);
    if (r < 0)
        return r;
    return sd_bus_add_object_manager(bus, NULL, VSOCKNS_PATH);
}
