/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "inspect-dbus.h"

#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "bus-errors.h"
#include "bus-util.h"
#include "core/isolation.h"
#include "core/ns-worker.h"
#include "manager-dbus.h"
#include "shared/log.h"
#include "shared/macro.h"

static int reply_sockets(Manager *manager, sd_bus_message *m, const char *name, sd_bus_error *error)
{
    VsockSocket *socks = NULL;
    size_t n = 0;
    ManagerError e = { .kind = ERROR_NONE };
    int r = manager_list_sockets(manager, name, &socks, &n, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    r = sd_bus_message_new_method_return(m, &reply);
    if (r >= 0)
        r = sd_bus_message_open_container(reply, 'a', "(ssuuuut)");
    for (size_t i = 0; r >= 0 && i < n; i++)
        r = sd_bus_message_append(reply, "(ssuuuut)", vsock_socket_type_to_string(socks[i].type),
                                  vsock_socket_state_to_string(socks[i].state), socks[i].local_cid,
                                  socks[i].local_port, socks[i].remote_cid, socks[i].remote_port, socks[i].inode);
    free(socks);
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    if (r >= 0)
        r = sd_bus_send(NULL, reply, NULL);
    return r;
}

/* Need to know (need-to-know.h): a namespace's sockets are shown to
 * those who may see all of it. The host's are anyone's, as ss(8) shows
 * them to anyone in the host's netns. */
static int list_sockets(Manager *manager, sd_bus_message *m, const char *name, sd_bus_error *error)
{
    if (!streq(name, NS_NAME_HOST)) {
        Namespace *ns;
        int r = bus_get_namespace(manager, name, false, &ns, error);
        if (r < 0)
            return r;
        uid_t uid;
        if (bus_caller_euid(m, &uid) < 0)
            uid = (uid_t) -1;
        bool allowed;
        r = need_to_know_check(bus_need_to_know_of(manager), bus_polkit_of(manager), m, uid, ns, &allowed, error);
        if (r <= 0)
            return r < 0 ? r : 1;
        if (!allowed)
            return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED,
                                     "Not authorized to see the sockets of namespace '%s': that needs %s there "
                                     "(polkit did not allow it).",
                                     name, POLKIT_ACTION_MANAGE_LEASES);
    }
    return reply_sockets(manager, m, name, error);
}

int bus_method_list_sockets(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    const char *name;
    int r = sd_bus_message_read(m, "s", &name);
    if (r < 0)
        return r;
    return list_sockets(userdata, m, name, error);
}

int bus_namespace_list_sockets(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    const Namespace *ns = userdata;
    return list_sockets(ns->manager, m, ns->name, error);
}

/*
 * ---- CheckIsolation: the probe's report arrives on the loop ----
 *
 * Each check is a request to a namespace worker (ns-worker.h), which has
 * its deadline (Manager.probe_deadline_ms: a stalled probe's worker is
 * killed and the check answered). At most ISOLATION_CHECKS_MAX run at once,
 * so that checks never take every worker from the creations, and at most
 * ISOLATION_CHECKS_PER_UID of one non-root uid, so that one user never
 * takes them all from the others; more get LimitReached.
 */
#define ISOLATION_CHECKS_MAX 8
#define ISOLATION_CHECKS_PER_UID 2

struct IsolationCheck {
    BusContext *ctx;        /* whose list it is in */
    sd_bus_message *call;
    uid_t uid;              /* the caller's; (uid_t) -1 if unknown */
    VsockMode mode;
    NsCall *probe;          /* NULL once answered */
    IsolationCheck *next;
};

static void check_free(IsolationCheck *c)
{
    for (IsolationCheck **p = &c->ctx->checks; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    c->ctx->n_checks--;
    ns_call_cancel(c->probe);
    sd_bus_message_unref(c->call);
    free(c);
}

static int append_paths(sd_bus_message *reply, VsockMode mode, const IsolationReport *rep)
{
    int r = sd_bus_message_open_container(reply, 'a', "(ssbbs)");
    for (int p = 0; r >= 0 && p < _ISOLATION_PATH_MAX; p++) {
        char detail[128];
        isolation_outcome_describe(&rep->path[p], detail, sizeof(detail));
        r = sd_bus_message_append(reply, "(ssbbs)", isolation_path_to_string(p), isolation_path_description(p),
                                  isolation_expected(mode, p), rep->path[p].reached, detail);
    }
    return r >= 0 ? sd_bus_message_close_container(reply) : r;
}

static void check_reply(IsolationCheck *c, int r, const IsolationReport *rep)
{
    const char *name = NULL;
    (void) sd_bus_message_rewind(c->call, true);
    (void) sd_bus_message_read(c->call, "s", &name);
    if (r == -ETIMEDOUT)
        r = sd_bus_reply_method_errorf(c->call, BUS_ERROR_KERNEL,
                                       "The isolation probe of '%s' did not finish within %d s.", name ?: "?",
                                       c->ctx->manager->probe_deadline_ms / 1000);
    else if (r == -ESHUTDOWN)
        r = sd_bus_reply_method_errorf(c->call, SD_BUS_ERROR_NO_REPLY,
                                       "vsocknsd is stopping: the isolation probe of '%s' was stopped; ask again "
                                       "once it is back.", name ?: "?");
    else if (r < 0)
        r = sd_bus_reply_method_errorf(c->call, BUS_ERROR_KERNEL, "The isolation probe of '%s' died without a report.",
                                       name ?: "?");
    else if (rep->error < 0)
        r = sd_bus_reply_method_errorf(c->call, BUS_ERROR_KERNEL, "The isolation probe of '%s' could not %s: %s.",
                                       name ?: "?", rep->failed_step, strerror(-rep->error));
    else {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        r = sd_bus_message_new_method_return(c->call, &reply);
        if (r >= 0)
            r = sd_bus_message_append(reply, "ss", vsock_mode_to_string(c->mode), rep->ns_mode);
        if (r >= 0)
            r = append_paths(reply, c->mode, rep);
        if (r >= 0)
            r = sd_bus_send(NULL, reply, NULL);
    }
    if (r < 0)
        log_warning_errno(r, "Cannot answer CheckIsolation: %m");
}

static void on_probe_answer(NsAnswer *a, void *userdata)
{
    IsolationCheck *c = userdata;
    c->probe = NULL; /* the workers free it */
    check_reply(c, a->result, &a->report);
    check_free(c);
}

static int read_no_option(sd_bus_message *m, const char *key, void *userdata)
{
    return 0;
}

int bus_method_check_isolation(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Manager *manager = userdata;
    const char *name;
    int r = sd_bus_message_read(m, "s", &name);
    if (r < 0)
        return r;
    r = bus_read_options(m, NULL, 0, "none (this method has none yet)", read_no_option, NULL, error);
    if (r < 0)
        return r;
    if (streq(name, NS_NAME_HOST))
        return sd_bus_error_setf(error, BUS_ERROR_INVALID_NAME,
                                 "The host is not isolated from anything: name a managed namespace.");
    r = bus_get_namespace(manager, name, false, NULL, error);
    if (r < 0)
        return r;
    const char *details[] = { "verb", "check", "namespace", name, NULL };
    r = polkit_check(bus_polkit_of(manager), m, POLKIT_ACTION_MANAGE_NAMESPACES, details, error);
    if (r <= 0)
        return r < 0 ? r : 1;
    BusContext *ctx = manager->userdata;
    if (ctx->n_checks >= ISOLATION_CHECKS_MAX)
        return sd_bus_error_setf(error, BUS_ERROR_LIMIT_REACHED,
                                 "%d isolation checks are under way, the most at once (each is a process); ask "
                                 "again once one has finished.", ISOLATION_CHECKS_MAX);
    uid_t uid;
    if (bus_caller_euid(m, &uid) < 0)
        uid = (uid_t) -1;
    unsigned mine = 0;
    for (IsolationCheck *o = ctx->checks; o; o = o->next)
        mine += o->uid == uid;
    if (uid != 0 && mine >= ISOLATION_CHECKS_PER_UID) {
        char who[32];
        if (uid == (uid_t) -1)
            snprintf(who, sizeof(who), "Callers of unknown uid have");
        else
            snprintf(who, sizeof(who), "uid %u has", (unsigned) uid);
        return sd_bus_error_setf(error, BUS_ERROR_LIMIT_REACHED,
                                 "%s %u isolation checks under way, the most one user may have at once; ask "
                                 "again once one has finished.", who, mine);
    }

    IsolationCheck *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    ManagerError e = { .kind = ERROR_NONE };
    r = manager_check_isolation_start(manager, name, on_probe_answer, c, &c->mode, &c->probe, &e);
    if (r < 0) {
        free(c);
        return bus_reply_manager_error(error, r, &e);
    }
    c->ctx = ctx;
    c->uid = uid;
    c->call = sd_bus_message_ref(m);
    c->next = ctx->checks;
    ctx->checks = c;
    ctx->n_checks++;
    return 1;
}

void inspect_dbus_stop(BusContext *ctx)
{
    while (ctx && ctx->checks) {
        IsolationCheck *c = ctx->checks;
        check_reply(c, -ESHUTDOWN, NULL);
        check_free(c); /* its worker is killed */
    }
}
