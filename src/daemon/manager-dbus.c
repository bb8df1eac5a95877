/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "manager-dbus.h"
#include "connect-dbus.h"
#include "inspect-dbus.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include <sys/epoll.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "bus-util.h"
#include "core/ns-worker.h"
#include "polkit.h"
#include "daemon/bus-errors.h"
#include "attach-dbus.h"
#include "core/lease-fds.h"
#include "core/netns.h"
#include "shared/log.h"
#include "shared/macro.h"


/* What the bus layer keeps, as the manager's userdata: the bus its
 * callbacks emit signals on, and the polkit questions that are out. */

PolkitRegistry *bus_polkit_of(Manager *m)
{
    return ((BusContext *) m->userdata)->polkit;
}

NeedToKnow *bus_need_to_know_of(Manager *m)
{
    return ((BusContext *) m->userdata)->need_to_know;
}

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
int bus_read_create_options(sd_bus_message *m, CreateRequest *req, sd_bus_error *error)
{
    static const BusOption known[] = { { "G2HFallback", "b" }, { "Parent", "s" } };
    return bus_read_options(m, known, ELEMENTSOF(known), "G2HFallback (b) and Parent (s)", read_create_option, req,
                            error);
}

/*
 * A CreateNamespace whose namespace the kernel is making: the loop serves
 * other callers meanwhile and answers this one when the namespace workers
 * are done with it (or past their deadline, once the worker they killed is
 * gone). At most CREATES_RUNNING_MAX run at once (the workers are shared
 * with the isolation checks); further calls wait their turn in order.
 */
#define CREATES_RUNNING_MAX 8

struct CreateCall {
    Manager *manager;
    sd_bus_message *call;
    CreateRequest req;       /* its strings are the call's: held by the ref */
    CreateJob *job;          /* NULL while waiting for its turn, and once over */
    bool running;            /* started: counted as running */
    CreateCall *next;
};

static void create_call_free(CreateCall *c)
{
    BusContext *ctx = c->manager->userdata;
    for (CreateCall **p = &ctx->creates; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    if (c->running)
        ctx->n_creates_running--;
    sd_bus_message_unref(c->call);
    free(c);
}

/* Answers the call (r, ns or e) and forgets it. */
static void create_call_answer(CreateCall *c, int r, const Namespace *ns, const ManagerError *e)
{
    if (r < 0) {
        sd_bus_error error = SD_BUS_ERROR_NULL;
        bus_reply_manager_error(&error, r, e);
        r = sd_bus_reply_method_error(c->call, &error);
        sd_bus_error_free(&error);
    } else {
        _cleanup_free_ char *path = namespace_object_path(ns->name);
        r = path ? sd_bus_reply_method_return(c->call, "o", path) : -ENOMEM;
    }
    if (r < 0)
        log_warning_errno(r, "Cannot answer CreateNamespace: %m");
    create_call_free(c);
}

static void create_calls_run(BusContext *ctx);

static void on_create_done(Manager *m, int r, Namespace *ns, const ManagerError *e, void *userdata)
{
    CreateCall *c = userdata;
    BusContext *ctx = m->userdata;
    c->job = NULL;
    create_call_answer(c, r, ns, e);
    create_calls_run(ctx);
}

/* Starts the creation of a call whose turn it is; a refusal, failure or
 * a creation finished at once answers it now. */
static void create_call_start(CreateCall *c)
{
    BusContext *ctx = c->manager->userdata;
    ManagerError e = {};
    Namespace *ns = NULL;
    int r = manager_create_namespace_begin(c->manager, &c->req, on_create_done, c, &c->job, &ns, &e);
    if (r != 0) {
        create_call_answer(c, r, ns, &e);
        return;
    }
    c->running = true;
    ctx->n_creates_running++;
}

/* The calls of uid waiting for their turn: they count toward its quota
 * (those under way have their record already). */
static size_t create_calls_waiting(BusContext *ctx, uid_t uid)
{
    size_t n = 0;
    for (CreateCall *c = ctx->creates; c; c = c->next)
        n += !c->running && c->req.uid == uid;
    return n;
}

/* Starts waiting calls, oldest first, while there is room. */
static void create_calls_run(BusContext *ctx)
{
    CreateCall *c = ctx->creates;
    while (c && ctx->n_creates_running < CREATES_RUNNING_MAX && !ctx->stopping) {
        CreateCall *next = c->next;
        if (!c->running)
            create_call_start(c); /* may answer and free it */
        c = next;
    }
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
    r = bus_read_create_options(m, &req, error);
    if (r < 0 || sd_bus_error_is_set(error))
        return r;

    r = manager_check_create(manager, &req, &parent_path, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    const char *details[] = { "verb", "create", "namespace", req.name, "mode", req.mode,
                              "parent", req.parent ? req.parent : "", NULL };
    r = polkit_check(bus_polkit_of(manager), m, POLKIT_ACTION_MANAGE_NAMESPACES, details, error);
    if (r <= 0)
        return r < 0 ? r : 1; /* denied, or asked: we run again with the answer */
    pid_t pid;
    BusContext *ctx = manager->userdata;
    r = bus_caller_identity(m, &req.uid, &pid);
    if (r >= 0)
        r = manager_check_quota(manager, req.uid, false, create_calls_waiting(ctx, req.uid), &e);
    if (r >= 0)
        r = manager_check_namespace_quota(manager, req.uid, false, req.parent, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);

    CreateCall *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    *c = (CreateCall) { .manager = manager, .call = sd_bus_message_ref(m), .req = req };
    CreateCall **tail = &ctx->creates;
    while (*tail)
        tail = &(*tail)->next;
    *tail = c;
    if (ctx->n_creates_running < CREATES_RUNNING_MAX)
        create_call_start(c);
    else
        log_debug("CreateNamespace '%s' waits: %d creations are under way", req.name, CREATES_RUNNING_MAX);
    return 1;
}

static void reply_when_free(void *userdata, bool timed_out)
{
    sd_bus_message *m = userdata;
    int r = sd_bus_reply_method_return(m, NULL);
    if (r < 0)
        log_warning_errno(r, "Cannot answer once the released CIDs are free: %m");
    sd_bus_message_unref(m);
}

/* The (empty) answer of a call that ended leases, once their CIDs are
 * free (lease-fds.h): a released CID is free when the caller hears back. */
static int reply_once_free(Manager *manager, sd_bus_message *m)
{
    int r = lease_fds_when_free(manager->fds, reply_when_free, sd_bus_message_ref(m));
    if (r < 0) {
        r = sd_bus_reply_method_return(m, NULL);
        sd_bus_message_unref(m); /* the reference given to the waiter, never set up */
        return r;
    }
    return 1;
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
    Namespace *ns;
    r = bus_get_namespace(manager, name, false, &ns, error);
    if (r < 0)
        return r;
    /* A forced delete ends the namespace's leases: those of other users
     * need manage-foreign-leases as well. */
    size_t foreign = 0;
    if (force) {
        uid_t uid;
        r = bus_caller_euid(m, &uid);
        if (r < 0)
            return r;
        foreign = manager_namespace_foreign_lease_count(manager, ns, uid);
    }
    char foreign_str[24];
    snprintf(foreign_str, sizeof(foreign_str), "%zu", foreign);
    const char *details[] = { "verb", "delete", "namespace", name, "mode", vsock_mode_to_string(ns->mode),
                              "parent", ns->parent, "force", force ? "true" : "false", NULL };
    const char *foreign_details[] = { "verb", "delete", "namespace", name, "mode", vsock_mode_to_string(ns->mode),
                                      "parent", ns->parent, "force", "true", "foreign_leases", foreign_str, NULL };
    const PolkitAsk asks[] = { { POLKIT_ACTION_MANAGE_NAMESPACES, details, NULL },
                               { POLKIT_ACTION_MANAGE_FOREIGN_LEASES, foreign_details, NULL } };
    r = polkit_check_all(bus_polkit_of(manager), m, asks, foreign > 0 ? 2 : 1, error);
    if (r <= 0)
        return r < 0 ? r : 1;
    r = manager_delete_namespace(manager, name, force, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    return reply_once_free(manager, m);
}

static int method_get_namespace(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Manager *manager = userdata;
    const char *name;

    int r = sd_bus_message_read(m, "s", &name);
    if (r < 0)
        return r;
    r = bus_get_namespace(manager, name, false, NULL, error);
    if (r < 0)
        return r;
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
    for (size_t i = 0; r >= 0 && i < manager->namespaces.n; i++) {
        const Namespace *ns = manager->namespaces.items[i];
        if (ns->pending)
            continue; /* still being created */
        char pin[PATH_MAX];
        _cleanup_free_ char *path = namespace_object_path(ns->name);
        manager_pin_path(manager, ns->name, pin, sizeof(pin));
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
    if (streq(key, "Reserve") || streq(key, "Persist") || streq(key, "HandOut")) {
        r = sd_bus_message_read(m, "v", "b", &b);
        if (streq(key, "Reserve"))
            req->reserve = b;
        else if (streq(key, "Persist"))
            req->persist = b;
        else
            req->hand_out = b;
        return r;
    }
    r = sd_bus_message_read(m, "v", "u", &pid);
    req->bind_pid = pid == 0 || pid > INT32_MAX ? -1 : (pid_t) pid;
    return r;
}

/* AcquireLease options: Strategy (s), Reserve (b), HandOut (b), BindPID (u),
 * BindPIDFD (h), Persist (b). */
int bus_read_lease_options(sd_bus_message *m, LeaseRequest *req, sd_bus_error *error)
{
    static const BusOption known[] = {
        { "Strategy", "s" }, { "Reserve", "b" },   { "HandOut", "b" },
        { "BindPID", "u" },  { "BindPIDFD", "h" }, { "Persist", "b" },
    };
    return bus_read_options(m, known, ELEMENTSOF(known),
                            "Strategy (s), Reserve (b), HandOut (b), BindPID (u), BindPIDFD (h) and Persist (b)",
                            read_lease_option, req, error);
}


static int method_acquire_lease(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Manager *manager = userdata;
    LeaseRequest req = { .reserve = true, .hand_out = true, .bind_pidfd = -1 };
    ManagerError e = {};

    int r = sd_bus_message_read(m, "sus", &req.ns, &req.cid, &req.owner);
    if (r < 0)
        return r;
    r = bus_read_lease_options(m, &req, error);
    if (r < 0 || sd_bus_error_is_set(error))
        return r;
    r = bus_caller_identity(m, &req.uid, &req.pid);
    if (r < 0)
        return r;
    r = manager_check_lease_request(manager, &req, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    char cid[16];
    snprintf(cid, sizeof(cid), "%u", req.cid);
    /* The host and every global namespace share the host's CID space: a
     * lease there (advisory too) is taken from the host's VMs, so it also
     * needs manage-global-leases. */
    const Namespace *target_ns = manager_find(manager, req.ns);
    bool global = !target_ns || target_ns->mode != VSOCK_MODE_LOCAL; /* NULL: ".host" */
    const char *details[] = { "verb", "acquire", "namespace", req.ns, "cid", cid, "owner", req.owner,
                              "mode", global ? "global" : "local", "space", global ? "host" : req.ns, NULL };
    const PolkitAsk asks[] = { { POLKIT_ACTION_MANAGE_LEASES, details, NULL },
                               { POLKIT_ACTION_MANAGE_GLOBAL_LEASES, details, NULL } };
    r = polkit_check_all(bus_polkit_of(manager), m, asks, global ? 2 : 1, error);
    if (r <= 0)
        return r < 0 ? r : 1;
    r = manager_check_quota(manager, req.uid, true, 0, &e);
    if (r >= 0)
        r = manager_check_namespace_quota(manager, req.uid, true, req.ns, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    /* A pin swapped behind our back (the inotify event not handled yet):
     * decided here, the namespace is forgotten and the call refused. */
    Namespace *target = manager_find(manager, req.ns);
    if (target && (r = manager_forget_if_unpinned(manager, target, &e)) < 0)
        return bus_reply_manager_error(error, r, &e);

    Lease *l;
    r = manager_acquire_lease(manager, &req, &l, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    /* Advisory leases hold nothing, and a device not handed out stays ours
     * alone: the caller gets /dev/null. */
    bool give = l->fd >= 0 && req.hand_out;
    _cleanup_close_ int null_fd = give ? -1 : open("/dev/null", O_RDONLY | O_CLOEXEC);
    r = sd_bus_reply_method_return(m, "uh", l->rec.cid, give ? l->fd : null_fd);
    if (r < 0) {
        /* Nobody got the fd: a lease nobody holds must not stay. */
        log_warning_errno(r, "Cannot send the lease of CID %u in %s to its caller: %m", l->rec.cid, l->rec.ns);
        manager_drop_lease(manager, l, "its reply could not be sent");
    }
    return r;
}

/* For a verb on a lease: 1 if the caller may (its own lease, or polkit's
 * manage-foreign-leases says yes), 0 if polkit was asked, < 0 if denied.
 * An unknown lease is asked about as a foreign one; once allowed, the
 * manager answers NoSuchLease. */
static int foreign_lease_check(Manager *manager, sd_bus_message *m, const char *verb, const char *ns, uint32_t cid,
                               uid_t uid, sd_bus_error *error)
{
    Lease *l = manager_find_lease(manager, ns, cid);
    if (l && l->rec.uid == uid)
        return 1;
    /* No lease there is asked about too (owner and owner_uid empty): a
     * caller who may not touch others' leases hears AccessDenied whether
     * the CID is leased or free, and learns nothing of who holds what. */
    char cid_str[16], uid_str[16] = "";
    snprintf(cid_str, sizeof(cid_str), "%u", cid);
    if (l)
        snprintf(uid_str, sizeof(uid_str), "%u", (unsigned) l->rec.uid);
    /* The holder's uid too: an answer about a lease is not used for one
     * that changed hands under the same label meanwhile. */
    const char *details[] = { "verb", verb, "namespace", ns, "cid", cid_str, "owner", l ? l->rec.owner : "",
                              "owner_uid", uid_str, NULL };
    return polkit_check(bus_polkit_of(manager), m, POLKIT_ACTION_MANAGE_FOREIGN_LEASES, details, error);
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
    r = bus_caller_identity(m, &uid, &pid);
    if (r < 0)
        return r;
    /* One's own lease may always be released; anyone else's needs polkit. */
    r = foreign_lease_check(manager, m, "release", ns, cid, uid, error);
    if (r <= 0)
        return r < 0 ? r : 1;
    r = manager_release_lease(manager, ns, cid, 0, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    return reply_once_free(manager, m);
}

static int method_bind_lease(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    static const BusOption known[] = { { "BindPID", "u" }, { "BindPIDFD", "h" } };
    Manager *manager = userdata;
    LeaseRequest bind = { .bind_pidfd = -1 };
    ManagerError e = {};
    const char *ns;
    uint32_t cid;
    pid_t pid;

    int r = sd_bus_message_read(m, "su", &ns, &cid);
    if (r < 0)
        return r;
    r = bus_read_options(m, known, ELEMENTSOF(known), "BindPID (u) and BindPIDFD (h)", read_lease_option, &bind,
                         error);
    if (r < 0 || sd_bus_error_is_set(error))
        return r;
    if (bind.bind_pid < 0)
        return sd_bus_error_set(error, BUS_ERROR_INVALID_OPTION, "BindPID must be a process ID.");
    r = bus_caller_identity(m, &bind.uid, &pid);
    if (r < 0)
        return r;
    /* Only the lease's user or root (the lease code refuses anyone else):
     * no polkit question, whoever manages others' leases releases them. */
    /* The lease code moves the watch to the new pidfd, the old one
     * leaving epoll before its pidfd is closed; refused, nothing changes. */
    r = manager_bind_lease(manager, ns, cid, &bind, &e);
    if (r < 0)
        return bus_reply_manager_error(error, r, &e);
    return sd_bus_reply_method_return(m, NULL);
}

static int method_check_leases(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Manager *manager = userdata;
    const char *ns;
    size_t checked, retaken;

    int r = sd_bus_message_read(m, "s", &ns);
    if (r < 0)
        return r;
    r = bus_get_namespace(manager, ns, true, NULL, error);
    if (r < 0)
        return r;
    const char *details[] = { "verb", "check", "namespace", ns, NULL };
    r = polkit_check(bus_polkit_of(manager), m, POLKIT_ACTION_MANAGE_FOREIGN_LEASES, details, error);
    if (r <= 0)
        return r < 0 ? r : 1;
    manager_check_leases(manager, ns, 0, &checked, &retaken);
    return sd_bus_reply_method_return(m, "uu", (uint32_t) checked, (uint32_t) retaken);
}

typedef struct LeaseListing {
    sd_bus_message *reply;
    Manager *manager;
    uid_t uid;
    bool all;        /* the caller may see every lease listed */
    bool records;    /* ListLeaseRecords: with the uid that took each */
} LeaseListing;

static int append_lease(Lease *l, void *userdata)
{
    LeaseListing *ll = userdata;
    if (!ll->all && !need_to_know_own(ll->uid, l))
        return 0; /* counted in LeaseCount, not shown */
    if (ll->records)
        return sd_bus_message_append(ll->reply, "(susbtu)", l->rec.ns, l->rec.cid, l->rec.owner,
                                     (int) l->rec.reserved, l->rec.acquired_usec, (uint32_t) l->rec.uid);
    return sd_bus_message_append(ll->reply, "(susbt)", l->rec.ns, l->rec.cid, l->rec.owner, (int) l->rec.reserved,
                                 l->rec.acquired_usec);
}

/* Need to know (need-to-know.h): about one namespace, polkit is asked
 * whether the caller may see all of it; about all of them (""), the caller
 * sees its own leases. */
static int list_leases(sd_bus_message *m, Manager *manager, bool records, sd_bus_error *error)
{
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
    LeaseListing ll = { .manager = manager, .records = records };
    const char *ns;
    Namespace *target;

    int r = sd_bus_message_read(m, "s", &ns);
    if (r < 0)
        return r;
    r = bus_get_namespace(manager, ns, true, &target, error);
    if (r < 0)
        return r;
    if (bus_caller_euid(m, &ll.uid) < 0)
        ll.uid = (uid_t) -1;
    ll.all = ll.uid == 0;
    if (!ll.all && ns[0]) {
        r = need_to_know_check(bus_need_to_know_of(manager), bus_polkit_of(manager), m, ll.uid, target, &ll.all,
                               error);
        if (r <= 0)
            return r < 0 ? r : 1;
    }
    r = sd_bus_message_new_method_return(m, &reply);
    ll.reply = reply;
    if (r >= 0)
        r = sd_bus_message_open_container(reply, 'a', records ? "(susbtu)" : "(susbt)");
    if (r >= 0)
        r = manager_foreach_lease(manager, ns, append_lease, &ll);
    if (r >= 0)
        r = sd_bus_message_close_container(reply);
    if (r >= 0)
        r = sd_bus_send(NULL, reply, NULL);
    return r;
}

static int method_list_leases(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    return list_leases(m, userdata, false, error);
}

/* ListLeases with the uid that took each lease: the libvirt hook tells
 * root's leases from other users' by it. */
static int method_list_lease_records(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    return list_leases(m, userdata, true, error);
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
    uint32_t n = 0;
    for (size_t i = 0; i < m->namespaces.n; i++)
        n += !m->namespaces.items[i]->pending; /* not those still being created */
    return sd_bus_message_append(reply, "u", n);
}

static int property_get_lease_count(sd_bus *bus, const char *path, const char *interface, const char *property,
                                    sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    Manager *m = userdata;
    return sd_bus_message_append(reply, "u", (uint32_t) m->n_leases);
}

static int property_get_fd_store(sd_bus *bus, const char *path, const char *interface, const char *property,
                                 sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
    Manager *m = userdata;
    return sd_bus_message_append(reply, "b", (int) (lease_fds_mode(m->fds) == LEASE_FDS_FD_STORE));
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
    SD_BUS_PROPERTY("FDStore", "b", property_get_fd_store, 0, SD_BUS_VTABLE_PROPERTY_CONST),

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
    SD_BUS_METHOD_WITH_ARGS("ListLeaseRecords",
                            SD_BUS_ARGS("s", namespace),
                            SD_BUS_RESULT("a(susbtu)", leases),
                            method_list_lease_records, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ListSockets",
                            SD_BUS_ARGS("s", namespace),
                            SD_BUS_RESULT("a(ssuuuut)", sockets),
                            bus_method_list_sockets, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("CheckIsolation",
                            SD_BUS_ARGS("s", namespace, "a{sv}", options),
                            SD_BUS_RESULT("s", mode, "s", kernel_mode, "a(ssbbs)", paths),
                            bus_method_check_isolation, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ConnectVsock",
                            SD_BUS_ARGS("s", namespace, "u", cid, "u", port, "a{sv}", options),
                            SD_BUS_RESULT("h", socket),
                            bus_method_connect_vsock, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("BindLease",
                            SD_BUS_ARGS("s", namespace, "u", cid, "a{sv}", options),
                            SD_BUS_NO_RESULT,
                            method_bind_lease, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("AttachUnit",
                            SD_BUS_ARGS("s", unit, "s", namespace, "b", runtime),
                            SD_BUS_NO_RESULT,
                            bus_method_attach_unit, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("DetachUnit",
                            SD_BUS_ARGS("s", unit, "b", runtime),
                            SD_BUS_NO_RESULT,
                            bus_method_detach_unit, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("CheckLeases",
                            SD_BUS_ARGS("s", namespace),
                            SD_BUS_RESULT("u", checked, "u", retaken),
                            method_check_leases, SD_BUS_VTABLE_UNPRIVILEGED),

    SD_BUS_SIGNAL_WITH_ARGS("NamespaceCreated", SD_BUS_ARGS("s", name, "o", object), 0),
    SD_BUS_SIGNAL_WITH_ARGS("NamespaceRemoved", SD_BUS_ARGS("s", name, "o", object), 0),
    SD_BUS_SIGNAL_WITH_ARGS("LeaseAcquired", SD_BUS_ARGS("s", namespace, "u", cid, "s", owner), 0),
    SD_BUS_SIGNAL_WITH_ARGS("LeaseReleased", SD_BUS_ARGS("s", namespace, "u", cid, "s", owner), 0),
    SD_BUS_SIGNAL_WITH_ARGS("LeaseRetaken", SD_BUS_ARGS("s", namespace, "u", cid, "s", owner, "s", reason), 0),
    SD_BUS_SIGNAL_WITH_ARGS("LeaseLost", SD_BUS_ARGS("s", namespace, "u", cid, "s", owner, "s", reason), 0),
    SD_BUS_VTABLE_END,
};

/* The manager's callbacks get the BusContext as userdata. */
static void emit_namespace_signal(sd_bus *bus, const char *member, const Namespace *ns)
{
    _cleanup_free_ char *path = namespace_object_path(ns->name);
    if (!path)
        return;
    int r = sd_bus_emit_signal(bus, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE, member, "so", ns->name, path);
    if (r < 0)
        log_warning_errno(r, "Cannot emit %s for '%s': %m", member, ns->name);
    if (streq(member, "NamespaceCreated"))
        r = sd_bus_emit_object_added(bus, path);
    else
        /* The object can no longer be found (the manager has let go of
         * it), so name its interfaces ourselves: the same set that
         * GetManagedObjects listed for it. */
        r = sd_bus_emit_interfaces_removed(bus, path, "org.freedesktop.DBus.Peer",
                                           "org.freedesktop.DBus.Introspectable", "org.freedesktop.DBus.Properties",
                                           VSOCKNS_NAMESPACE_IFACE, NULL);
    if (r < 0)
        log_warning_errno(r, "Cannot emit the ObjectManager signal for '%s': %m", ns->name);
    sd_bus_emit_properties_changed(bus, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE, "NamespaceCount", NULL);
}

static void on_namespace_added(Manager *m, const Namespace *ns, void *userdata)
{
    emit_namespace_signal(((BusContext *) userdata)->bus, "NamespaceCreated", ns);
}

static void on_namespace_removed(Manager *m, const Namespace *ns, void *userdata)
{
    emit_namespace_signal(((BusContext *) userdata)->bus, "NamespaceRemoved", ns);
}

/* The lease signals go to anyone on the bus who listens (the bus policy
 * cannot tell who may see what), so their owner argument, kept for the
 * signature's sake, is always empty: who holds a lease is told only to
 * those who may see it (ListLeases, need-to-know.h). */
#define SIGNAL_NO_OWNER ""

static void on_lease_fd(Manager *m, Lease *l, LeaseFdEvent event, const char *why, void *userdata)
{
    const char *member = event == LEASE_FD_RETAKEN ? "LeaseRetaken" : "LeaseLost";
    int r = sd_bus_emit_signal(((BusContext *) userdata)->bus, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE, member, "suss",
                               l->rec.ns, l->rec.cid, SIGNAL_NO_OWNER, why);
    if (r < 0)
        log_warning_errno(r, "Cannot emit %s: %m", member);
}

static void on_lease_added(Manager *m, Lease *l, const char *why, void *userdata)
{
    if (why) /* re-adopted at startup: nothing new to announce */
        return;
    int r = sd_bus_emit_signal(((BusContext *) userdata)->bus, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE, "LeaseAcquired",
                               "sus", l->rec.ns, l->rec.cid, SIGNAL_NO_OWNER);
    if (r < 0)
        log_warning_errno(r, "Cannot emit LeaseAcquired: %m");
}

static void on_lease_removed(Manager *m, Lease *l, const char *why, void *userdata)
{
    int r = sd_bus_emit_signal(((BusContext *) userdata)->bus, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE, "LeaseReleased",
                               "sus", l->rec.ns, l->rec.cid, SIGNAL_NO_OWNER);
    if (r < 0)
        log_warning_errno(r, "Cannot emit LeaseReleased: %m");
}

/* Creations still under way when vsocknsd stops: stopped, undone, and
 * answered. */
static void stop_creates(BusContext *ctx)
{
    ctx->stopping = true; /* no waiting call starts now */
    while (ctx->creates) {
        CreateCall *c = ctx->creates;
        if (c->job) {
            manager_create_namespace_stop(c->job); /* answers it: on_create_done */
            if (ctx->creates != c)
                continue;
        }
        ManagerError e = {};
        int r = manager_error_set(&e, -ESHUTDOWN, ERROR_NONE,
                                  "vsocknsd is stopping: namespace '%s' was not created; ask again once it is "
                                  "back.", c->req.name);
        create_call_answer(c, r, NULL, &e);
    }
}

/* The loop is ending: before sd-bus closes the connection (its own exit
 * source, priority 0), so that the answers still go out. */
static int on_loop_exit(sd_event_source *s, void *userdata)
{
    BusContext *ctx = userdata;
    /* The workers first: they are all killed at once, and each call they
     * served is answered (creations undone) once its worker is gone. */
    ctx->stopping = true;
    ns_workers_stop(ctx->manager->workers);
    stop_creates(ctx);
    inspect_dbus_stop(ctx);
    connect_dbus_stop(ctx);
    ctx->unit_changes = unit_changes_free(ctx->unit_changes);
    /* Callers waiting for released CIDs are answered while the bus is
     * still there. */
    lease_fds_stop(ctx->manager->fds);
    return 0;
}

/* What manager_dbus_connect_signals() made; ctx may be half made. */
static void context_free(BusContext *ctx)
{
    if (!ctx)
        return;
    sd_event_source_disable_unref(ctx->exit_source);
    unit_changes_free(ctx->unit_changes);
    need_to_know_free(ctx->need_to_know);
    polkit_registry_free(ctx->polkit);
    free(ctx);
}

void manager_dbus_disconnect(Manager *m)
{
    BusContext *ctx = m->userdata;
    if (!ctx)
        return;
    ctx->stopping = true;
    ns_workers_stop(m->workers);
    stop_creates(ctx);
    inspect_dbus_stop(ctx);
    connect_dbus_stop(ctx);
    ctx->unit_changes = unit_changes_free(ctx->unit_changes);
    lease_fds_stop(m->fds);
    context_free(ctx);
    m->userdata = NULL;
}

int manager_dbus_connect_signals(sd_bus *bus, Manager *m)
{
    BusContext *ctx = calloc(1, sizeof(BusContext));
    if (!ctx || !(ctx->polkit = polkit_registry_new()) || !(ctx->unit_changes = unit_changes_new(ctx)) ||
        !(ctx->need_to_know = need_to_know_new(NEED_TO_KNOW_KEEP_USEC))) {
        context_free(ctx);
        return -ENOMEM;
    }
    ctx->bus = bus;
    ctx->manager = m;
    int r = sd_event_add_exit(sd_bus_get_event(bus), &ctx->exit_source, on_loop_exit, ctx);
    if (r >= 0)
        r = sd_event_source_set_priority(ctx->exit_source, SD_EVENT_PRIORITY_IMPORTANT);
    if (r < 0) {
        context_free(ctx);
        return r;
    }
    m->userdata = ctx;
    m->on_added = on_namespace_added;
    m->on_removed = on_namespace_removed;
    m->on_lease_added = on_lease_added;
    m->on_lease_removed = on_lease_removed;
    m->on_lease_fd = on_lease_fd;
    return 0;
}

int manager_dbus_register(sd_bus *bus, Manager *m)
{
    int r = sd_bus_add_object_vtable(bus, NULL, VSOCKNS_PATH, VSOCKNS_MANAGER_IFACE, manager_vtable, m);
    if (r < 0)
        return r;
    return sd_bus_add_object_manager(bus, NULL, VSOCKNS_PATH);
}
