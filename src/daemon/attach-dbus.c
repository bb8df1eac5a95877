/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "attach-dbus.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus-errors.h"
#include "bus-util.h"
#include "core/attach.h"
#include "core/name.h"
#include "manager-dbus.h"
#include "polkit.h"
#include "shared/events.h"
#include "shared/log.h"
#include "shared/macro.h"

/* How long a systemd Reload may take, as systemctl daemon-reload allows. */
#define RELOAD_TIMEOUT_USEC (10 * 60 * 1000000ULL)

typedef enum ChangeStage {
    STAGE_RESOLVING,  /* asking systemd for the unit's names */
    STAGE_WAITING,    /* drop-in changed, waiting for the next Reload */
    STAGE_RELOADING,  /* answered when the Reload under way ends */
} ChangeStage;

typedef struct UnitChange {
    UnitChanges *owner;
    sd_bus_message *call;
    ChangeStage stage;
    bool attach, runtime;
    uid_t uid;
    char unit[256];
    char ns[NS_NAME_MAX + 1];     /* the namespace it joins, or for a detach leaves */
    char leaves[NS_NAME_MAX + 1]; /* an attach: the namespace it was authorized to leave, "" for none */
    uint64_t ns_dev, ns_inode;    /* an attach: ns as it was when authorized */
    sd_bus_slot *slot;            /* the question to systemd, while resolving */
    struct UnitChange *next;
} UnitChange;

struct UnitChanges {
    BusContext *ctx;
    UnitChange *changes;          /* every call under way */
    unsigned n;
    sd_bus_slot *reload;          /* the Reload under way */
};

UnitChanges *unit_changes_new(BusContext *ctx)
{
    UnitChanges *u = calloc(1, sizeof(UnitChanges));
    if (u)
        u->ctx = ctx;
    return u;
}

static void change_free(UnitChange *c)
{
    UnitChanges *u = c->owner;
    for (UnitChange **p = &u->changes; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            u->n--;
            break;
        }
    sd_bus_slot_unref(c->slot);
    sd_bus_message_unref(c->call);
    free(c);
}

/* Answers the call with an error (name, then printf-style) and ends it;
 * returns 0 (for the bus callbacks that end with it). */
static int change_fail(UnitChange *c, const char *name, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
static int change_fail(UnitChange *c, const char *name, const char *format, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, format);
    vsnprintf(msg, sizeof(msg), format, ap);
    va_end(ap);
    (void) sd_bus_reply_method_errorf(c->call, name, "%s", msg);
    change_free(c);
    return 0;
}

UnitChanges *unit_changes_free(UnitChanges *u)
{
    if (!u)
        return NULL;
    while (u->changes)
        (void) change_fail(u->changes, SD_BUS_ERROR_NO_REPLY,
                    "vsocknsd is stopping: the change of %s may or may not have been made; see systemctl cat %s.",
                    u->changes->unit, u->changes->unit);
    sd_bus_slot_unref(u->reload);
    free(u);
    return NULL;
}

static const char *unit_dir(const UnitChange *c)
{
    const Manager *m = c->owner->ctx->manager;
    return c->runtime ? m->config.runtime_unit_dir : m->config.unit_dir;
}

static void start_reload(UnitChanges *u);

static int on_reloaded(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    UnitChanges *u = userdata;
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    u->reload = sd_bus_slot_unref(u->reload);
    for (UnitChange *c = u->changes, *next; c; c = next) {
        next = c->next;
        if (c->stage != STAGE_RELOADING)
            continue;
        if (e)
            (void) change_fail(c, BUS_ERROR_UNIT_FILE,
                        "The drop-in was changed, but systemd did not reload (%s): it takes effect after "
                        "systemctl daemon-reload.",
                        e->message ? e->message : e->name);
        else {
            (void) sd_bus_reply_method_return(c->call, NULL);
            change_free(c);
        }
    }
    start_reload(u); /* for the changes made meanwhile */
    return 0;
}

/* One Reload for every change waiting, unless one is under way: its end
 * starts the next. */
static void start_reload(UnitChanges *u)
{
    if (u->reload)
        return;
    unsigned n = 0;
    for (UnitChange *c = u->changes; c; c = c->next)
        if (c->stage == STAGE_WAITING) {
            c->stage = STAGE_RELOADING;
            n++;
        }
    if (n == 0)
        return;
    /* A reload re-reads every unit: on a busy machine it takes far longer
     * than sd-bus's 25 s, so wait as long as systemctl daemon-reload does
     * (RELOAD_TIMEOUT_USEC) before calling the change failed. */
    _cleanup_(sd_bus_message_unrefp) sd_bus_message *call = NULL;
    int r = sd_bus_message_new_method_call(u->ctx->bus, &call, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", "Reload");
    if (r >= 0)
        r = sd_bus_call_async(u->ctx->bus, &u->reload, call, on_reloaded, u, RELOAD_TIMEOUT_USEC);
    if (r >= 0) {
        log_debug("Asked systemd to reload for %u unit change%s", n, n == 1 ? "" : "s");
        return;
    }
    for (UnitChange *c = u->changes, *next; c; c = next) {
        next = c->next;
        if (c->stage == STAGE_RELOADING)
            (void) change_fail(c, BUS_ERROR_UNIT_FILE,
                        "The drop-in was changed, but systemd could not be asked to reload (%s): it takes effect "
                        "after systemctl daemon-reload.",
                        strerror(-r));
    }
}

/* systemd reads a unit's drop-ins from every layer: another one that
 * attaches the unit (the other of /etc and /run, or namespaces.d through
 * the generator) would leave it joining a namespace that this change did
 * not ask about. NULL, or the sentence of the refusal (in buf). */
static const char *other_layer_problem(const Manager *m, const char *unit, bool runtime, const char *ns, uid_t uid,
                                       char *buf, size_t size)
{
    const char *other = runtime ? m->config.unit_dir : m->config.runtime_unit_dir;
    char there[NS_NAME_MAX + 1] = "";
    if (attach_read(other, unit, there, sizeof(there)) > 0 && !streq(there, ns)) {
        snprintf(buf, size, "%s is also attached to namespace '%s' in %s; detach it there first (DetachUnit with "
                 "runtime %s).", unit, there, other, runtime ? "false" : "true");
        return buf;
    }
    /* vsockns-generator writes the same drop-in there for the units a
     * namespaces.d file lists. */
    if (uid != 0 && attach_read(m->config.generator_dir, unit, there, sizeof(there)) > 0 && !streq(there, ns)) {
        snprintf(buf, size, "%s joins namespace '%s' as /etc/vsockns/namespaces.d says (%s/%s.d/%s); only root "
                 "moves it elsewhere.", unit, there, m->config.generator_dir, unit, ATTACH_DROPIN_NAME);
        return buf;
    }
    return NULL;
}

/* The drop-in written (attach) or removed (detach), then on to a Reload;
 * returns 0. */
static int change_apply(UnitChange *c)
{
    Manager *m = c->owner->ctx->manager;
    const char *dir = unit_dir(c);
    EventFields f = { .ns = c->ns, .unit = c->unit, .has_uid = c->uid != (uid_t) -1, .uid = c->uid };
    if (c->attach) {
        /* While systemd was asked, the namespace may have gone (or gone
         * and come back under the same name: another namespace), and
         * another change may have moved the unit: what was authorized is
         * then not what would be done. */
        const Namespace *ns = manager_find(m, c->ns);
        if (!ns || ns->dev != c->ns_dev || ns->inode != c->ns_inode)
            return change_fail(c, BUS_ERROR_NO_SUCH_NAMESPACE,
                               "Namespace '%s' was removed before %s could join it; nothing was written.", c->ns,
                               c->unit);
        char now[NS_NAME_MAX + 1] = "";
        int r = attach_read(dir, c->unit, now, sizeof(now));
        if (r > 0 && streq(now, c->ns))
            now[0] = '\0';
        char why[PATH_MAX + 256];
        if (other_layer_problem(m, c->unit, c->runtime, c->ns, c->uid, why, sizeof(why)))
            return change_fail(c, BUS_ERROR_UNIT_FILE, "%s", why);
        if (r >= 0 && !streq(now, c->leaves))
            return change_fail(c, BUS_ERROR_UNIT_FILE,
                               "%s was moved by another change while this one was authorized (%s%s%s); nothing "
                               "was written, ask again.",
                               c->unit, now[0] ? "it now joins '" : "it was detached", now, now[0] ? "'" : "");
        r = attach_write(dir, c->unit, c->ns, m->config.netns_dir);
        if (r == -EEXIST)
            return change_fail(c, BUS_ERROR_UNIT_FILE, "%s/%s.d/%s was not written by vsockns; left alone.", dir,
                               c->unit, ATTACH_DROPIN_NAME);
        if (r < 0)
            return change_fail(c, BUS_ERROR_UNIT_FILE, "Cannot write %s/%s.d/%s: %s.", dir, c->unit,
                               ATTACH_DROPIN_NAME, strerror(-r));
        log_event(LOG_INFO, EVENT_UNIT_ATTACHED, f, "Unit %s now joins namespace '%s' (%s/%s.d/%s), for uid %d",
                  c->unit, c->ns, dir, c->unit, ATTACH_DROPIN_NAME, (int) c->uid);
    } else {
        int r = attach_remove(dir, c->unit);
        if (r == -ENOENT)
            return change_fail(c, BUS_ERROR_NOT_ATTACHED, "Unit %s is not attached to a namespace (no %s/%s.d/%s).",
                               c->unit, dir, c->unit, ATTACH_DROPIN_NAME);
        if (r == -EPERM)
            return change_fail(c, BUS_ERROR_ACCESS_DENIED, "%s/%s.d/%s was not written by vsockns; left alone.", dir,
                               c->unit, ATTACH_DROPIN_NAME);
        if (r < 0)
            return change_fail(c, BUS_ERROR_UNIT_FILE, "Cannot remove %s/%s.d/%s: %s.", dir, c->unit,
                               ATTACH_DROPIN_NAME, strerror(-r));
        log_event(LOG_INFO, EVENT_UNIT_DETACHED, f, "Unit %s no longer joins namespace '%s', for uid %d", c->unit,
                  c->ns, (int) c->uid);
    }
    c->stage = STAGE_WAITING;
    start_reload(c->owner);
    return 0;
}

/* systemd's names for the unit: the one given and its aliases. A unit
 * known by a name vsockns never attaches is refused under any other. */
static int on_names(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    UnitChange *c = userdata;
    c->slot = sd_bus_slot_unref(c->slot);
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    if (e)
        return change_fail(c, BUS_ERROR_UNIT_FILE, "systemd could not say which names %s has (%s); nothing was "
                           "written.", c->unit, e->message ? e->message : e->name);
    const char *name;
    int r = sd_bus_message_enter_container(reply, 'v', "as");
    if (r >= 0)
        r = sd_bus_message_enter_container(reply, 'a', "s");
    while (r >= 0 && (r = sd_bus_message_read(reply, "s", &name)) > 0) {
        const char *why = attach_unit_forbidden(name);
        if (why)
            return change_fail(c, BUS_ERROR_ACCESS_DENIED,
                               "vsockns never moves %s into a namespace: it is also %s, %s.", c->unit, name, why);
    }
    if (r < 0)
        return change_fail(c, BUS_ERROR_UNIT_FILE, "systemd's names for %s were not understood; nothing was "
                           "written.", c->unit);
    return change_apply(c);
}

static int on_unit_loaded(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
    UnitChange *c = userdata;
    c->slot = sd_bus_slot_unref(c->slot);
    const sd_bus_error *e = sd_bus_message_get_error(reply);
    const char *path;
    if (e || sd_bus_message_read(reply, "o", &path) < 0)
        return change_fail(c, BUS_ERROR_UNIT_FILE, "systemd could not load %s (%s); nothing was written.", c->unit,
                           e ? (e->message ? e->message : e->name) : "no unit path in its answer");
    int r = sd_bus_call_method_async(c->owner->ctx->bus, &c->slot, "org.freedesktop.systemd1", path,
                                     "org.freedesktop.DBus.Properties", "Get", on_names, c, "ss",
                                     "org.freedesktop.systemd1.Unit", "Names");
    if (r < 0)
        return change_fail(c, BUS_ERROR_UNIT_FILE, "systemd could not be asked about %s (%s); nothing was written.",
                           c->unit, strerror(-r));
    return 0;
}

/* Whether one more change fits, in all and for uid: < 0 with the refusal
 * in error if not. */
static int room_for_change(const UnitChanges *u, uid_t uid, sd_bus_error *error)
{
    if (!u)
        return sd_bus_error_set(error, SD_BUS_ERROR_NO_REPLY, "vsocknsd is stopping; ask again once it is back.");
    if (u->n >= ATTACH_CALLS_MAX)
        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                 "%u unit changes are under way, the most at once; try again in a moment.", u->n);
    unsigned mine = 0;
    for (const UnitChange *c = u->changes; c; c = c->next)
        mine += c->uid == uid;
    if (uid != 0 && mine >= ATTACH_CALLS_PER_UID)
        return sd_bus_error_setf(error, SD_BUS_ERROR_LIMITS_EXCEEDED,
                                 "%u unit changes of this user are under way, the most one user may have at once; "
                                 "try again once they are answered.", mine);
    return 0;
}

/* Authorized: the call becomes a change under way. */
static int change_start(Manager *manager, sd_bus_message *m, bool attach, const char *unit, const Namespace *ns,
                        const char *ns_name, const char *leaves, bool runtime, uid_t uid, sd_bus_error *error)
{
    BusContext *ctx = manager->userdata;
    UnitChanges *u = ctx->unit_changes;
    int r = room_for_change(u, uid, error);
    if (r < 0)
        return r;
    UnitChange *c = calloc(1, sizeof(UnitChange));
    if (!c)
        return -ENOMEM;
    *c = (UnitChange) { .owner = u, .call = sd_bus_message_ref(m), .attach = attach, .runtime = runtime,
                        .uid = uid, .next = u->changes };
    snprintf(c->unit, sizeof(c->unit), "%s", unit);
    snprintf(c->ns, sizeof(c->ns), "%s", ns_name);
    if (ns) {
        snprintf(c->leaves, sizeof(c->leaves), "%s", leaves);
        c->ns_dev = ns->dev;
        c->ns_inode = ns->inode;
    }
    u->changes = c;
    u->n++;
    if (!attach) {
        (void) change_apply(c);
        return 1;
    }
    c->stage = STAGE_RESOLVING;
    r = sd_bus_call_method_async(ctx->bus, &c->slot, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                                     "org.freedesktop.systemd1.Manager", "LoadUnit", on_unit_loaded, c, "s", unit);
    if (r < 0)
        (void) change_fail(c, BUS_ERROR_UNIT_FILE, "systemd could not be asked about %s (%s); nothing was written.",
                           unit, strerror(-r));
    return 1;
}

static int caller_uid(sd_bus_message *m, uid_t *ret)
{
    if (bus_caller_euid(m, ret) < 0)
        *ret = (uid_t) -1; /* not root: treated as any other user */
    return 0;
}

static int refuse_unlisted(const char *unit, const char *ns, sd_bus_error *error)
{
    return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED,
                             "%s is not listed as attachable to namespace '%s': only root moves units that an "
                             "administrator has not listed (AttachableUnits=%s:GLOB in vsocknsd.conf).",
                             unit, ns, ns);
}

int bus_method_attach_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Manager *manager = userdata;
    const char *unit, *ns;
    int runtime;

    int r = sd_bus_message_read(m, "ssb", &unit, &ns, &runtime);
    if (r < 0)
        return r;
    const char *problem = attach_unit_problem(unit);
    if (problem)
        return sd_bus_error_setf(error, BUS_ERROR_INVALID_OPTION, "Unit '%.255s' refused: %s.", unit, problem);
    Namespace *target;
    r = bus_get_namespace(manager, ns, false, &target, error);
    if (r < 0)
        return r;
    const char *why = attach_unit_forbidden(unit);
    if (why)
        return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "vsockns never moves %s into a namespace: it is %s.",
                                 unit, why);
    uid_t uid;
    caller_uid(m, &uid);
    if (uid != 0 && !manager_unit_attachable(manager, ns, unit))
        return refuse_unlisted(unit, ns, error);
    const char *dir = runtime ? manager->config.runtime_unit_dir : manager->config.unit_dir;
    char leaves[NS_NAME_MAX + 1] = "";
    r = attach_read(dir, unit, leaves, sizeof(leaves));
    if (r < 0)
        return sd_bus_error_setf(error, BUS_ERROR_UNIT_FILE, "%s/%s.d/%s was not written by vsockns; left alone.",
                                 dir, unit, ATTACH_DROPIN_NAME);
    if (r > 0 && streq(leaves, ns))
        leaves[0] = '\0'; /* attached there already: written again, leaves nothing */
    if (uid != 0 && leaves[0] && !manager_unit_attachable(manager, leaves, unit))
        return refuse_unlisted(unit, leaves, error);
    char layer[PATH_MAX + 256];
    if (other_layer_problem(manager, unit, runtime, ns, uid, layer, sizeof(layer)))
        return sd_bus_error_set(error, BUS_ERROR_UNIT_FILE, layer);
    BusContext *ctx = manager->userdata;
    r = room_for_change(ctx->unit_changes, uid, error);
    if (r < 0)
        return r;
    /* A unit that leaves another namespace is also detached from it: a
     * rule that grants one namespace is asked about each. */
    const char *details[] = { "verb", "attach", "unit", unit, "namespace", ns, "leaves", leaves, NULL };
    const char *leave_details[] = { "verb", "detach", "unit", unit, "namespace", leaves, "leaves", leaves, NULL };
    const PolkitAsk asks[] = { { POLKIT_ACTION_ATTACH_UNITS, details, NULL },
                               { POLKIT_ACTION_ATTACH_UNITS, leave_details, "leaves" } };
    r = polkit_check_all(bus_polkit_of(manager), m, asks, leaves[0] ? 2 : 1, error);
    if (r <= 0)
        return r < 0 ? r : 1;
    return change_start(manager, m, true, unit, target, ns, leaves, runtime, uid, error);
}

int bus_method_detach_unit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
    Manager *manager = userdata;
    const char *unit;
    int runtime;

    int r = sd_bus_message_read(m, "sb", &unit, &runtime);
    if (r < 0)
        return r;
    const char *problem = attach_unit_problem(unit);
    if (problem)
        return sd_bus_error_setf(error, BUS_ERROR_INVALID_OPTION, "Unit '%.255s' refused: %s.", unit, problem);
    const char *dir = runtime ? manager->config.runtime_unit_dir : manager->config.unit_dir;
    char leaves[NS_NAME_MAX + 1] = "";
    r = attach_read(dir, unit, leaves, sizeof(leaves));
    if (r == 0)
        return sd_bus_error_setf(error, BUS_ERROR_NOT_ATTACHED,
                                 "Unit %s is not attached to a namespace (no %s/%s.d/%s).", unit, dir, unit,
                                 ATTACH_DROPIN_NAME);
    if (r < 0)
        return sd_bus_error_setf(error, BUS_ERROR_ACCESS_DENIED, "%s/%s.d/%s was not written by vsockns; left alone.",
                                 dir, unit, ATTACH_DROPIN_NAME);
    uid_t uid;
    caller_uid(m, &uid);
    if (uid != 0 && !manager_unit_attachable(manager, leaves, unit))
        return refuse_unlisted(unit, leaves, error);
    const char *details[] = { "verb", "detach", "unit", unit, "namespace", leaves, "leaves", leaves, NULL };
    r = polkit_check(bus_polkit_of(manager), m, POLKIT_ACTION_ATTACH_UNITS, details, error);
    if (r <= 0)
        return r < 0 ? r : 1;
    return change_start(manager, m, false, unit, NULL, leaves, "", runtime, uid, error);
}
