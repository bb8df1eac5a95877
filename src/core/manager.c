/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "manager.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <linux/vm_sockets.h>

#include "errors.h"
#include "isolation.h"
#include "netns.h"
#include "ns-worker.h"
#include "state.h"
#include "shared/events.h"
#include "shared/log.h"
#include "shared/fault.h"
#include "shared/macro.h"

void manager_config_default(ManagerConfig *c)
{
    snprintf(c->netns_dir, sizeof(c->netns_dir), "%s", NETNS_RUN_DIR);
    snprintf(c->state_dir, sizeof(c->state_dir), "/run/vsockns");
    snprintf(c->config_file, sizeof(c->config_file), "/etc/vsockns/vsocknsd.conf");
    snprintf(c->unit_dir, sizeof(c->unit_dir), "/etc/systemd/system");
    snprintf(c->runtime_unit_dir, sizeof(c->runtime_unit_dir), "/run/systemd/system");
    snprintf(c->generator_dir, sizeof(c->generator_dir), "/run/systemd/generator");
}

int manager_new(const ManagerConfig *config, Manager **ret)
{
    Manager *m = calloc(1, sizeof(Manager));
    if (!m)
        return -ENOMEM;
    m->config = *config;
    m->configured_host_child_mode = VSOCK_MODE_INVALID;
    m->kernel = &lease_kernel_ops_real;
    m->kernel_userdata = m;
    m->netns = &netns_ops_real;
    m->check_round = 1; /* leases start at round 0: not checked yet */
    m->namespaces_per_user = MANAGER_NAMESPACES_PER_USER_DEFAULT;
    m->leases_per_user = MANAGER_LEASES_PER_USER_DEFAULT;
    m->leases_per_namespace = m->namespaces_per_parent = SIZE_MAX;
    m->leases_max = LEASES_MAX;
    m->probe_deadline_ms = ISOLATION_PROBE_DEADLINE_MS;
    m->global_space = cid_space_new("");
    if (!m->global_space || ns_workers_new(&m->workers) < 0) {
        cid_space_free(m->global_space);
        free(m);
        return -ENOMEM;
    }
    for (int i = 0; i < 2; i++) {
        m->parents[i].mode = (VsockMode) i;
        snprintf(m->parents[i].path, sizeof(m->parents[i].path), "%s/parents/%s",
                 config->state_dir, vsock_mode_to_string((VsockMode) i));
        m->parents[i].status = -ENODEV;
        snprintf(m->parents[i].problem, sizeof(m->parents[i].problem), "it was not set up");
    }
    *ret = m;
    return 0;
}

static int free_lease(uint32_t cid, void *value, void *userdata)
{
    Lease *l = cid_map_value_lease(value);
    if (!l)
        return 0;
    /* Closed here, not let go of: a copy in the fd store lives on. */
    if (l->fd >= 0)
        close(l->fd);
    sd_event_source_disable_unref(l->watch);
    if (l->bind_pidfd >= 0)
        close(l->bind_pidfd);
    free(l);
    return 0;
}

static void free_space_leases(CidSpace *space)
{
    if (!space)
        return;
    cid_map_foreach(&space->map, free_lease, NULL);
    cid_space_free(space);
}

Manager *manager_free(Manager *m)
{
    if (!m)
        return NULL;
    /* Lease fds are closed here: stored in the fd store, they live on. */
    for (size_t i = 0; i < m->namespaces.n; i++) {
        Namespace *ns = m->namespaces.items[i];
        free_space_leases(ns->space);
        lease_set_clear(&ns->leases);
        if (ns->fd >= 0)
            close(ns->fd);
        namespace_free(ns);
    }
    free_space_leases(m->global_space);
    lease_set_clear(&m->host_leases);
    /* After the leases: the closing thread finishes what is queued. */
    m->fds = lease_fds_free(m->fds);
    m->workers = ns_workers_free(m->workers);
    sd_event_unref(m->event);
    ns_table_clear(&m->namespaces);
    free(m->attachable);
    free(m);
    return NULL;
}

const char *kernel_support_to_string(KernelSupport s)
{
    return s == KERNEL_SUPPORT_NAMESPACES ? "namespaces" : "none";
}

Namespace *manager_find(Manager *m, const char *name)
{
    Namespace *ns = ns_table_find(&m->namespaces, name);
    return ns && !ns->pending ? ns : NULL;
}

int manager_save(Manager *m)
{
    State st = { .namespaces = m->namespaces.items, .n_namespaces = m->namespaces.n };
    int r = state_save(m->config.state_dir, &st);
    if (r < 0)
        log_error_errno(r, "Cannot write state to %s/%s: %m", m->config.state_dir, STATE_FILE);
    return r;
}

void manager_pin_path(const Manager *m, const char *name, char *buf, size_t size)
{
    netns_pin_path(m->config.netns_dir, name, buf, size);
}

Namespace *manager_get(Manager *m, const char *name, bool host_too, ManagerError *e)
{
    Namespace *ns = manager_find(m, name);
    if (!ns)
        manager_no_such_namespace(e, name, host_too);
    return ns;
}

int manager_forget_if_unpinned(Manager *m, Namespace *ns, ManagerError *e)
{
    if (ns->pending || manager_namespace_pinned(m, ns))
        return 0;
    char name[NS_NAME_MAX + 1];
    snprintf(name, sizeof(name), "%s", ns->name);
    log_notice("Namespace '%s' is no longer what %s/%s pins: it was removed or replaced behind vsockns's back",
               name, m->config.netns_dir, name);
    manager_forget_namespace(m, ns, "its namespace was removed behind vsockns's back");
    return manager_error_set(e, -ENOENT, ERROR_NO_SUCH_NAMESPACE, "Namespace '%s' was removed behind vsockns's back.",
                             name);
}

/*
 * vsock must be loaded before any namespace is created: namespaces that
 * exist when it loads all come up global (tests/vm/contract/module-load-time).
 * Creating an AF_VSOCK socket makes the kernel load it.
 */
static void detect_kernel(Manager *m)
{
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        log_warning_errno(errno, "Cannot create an AF_VSOCK socket (%m): is the vsock module available?");
    else
        close(fd);

    m->kernel_support = access("/proc/sys/net/vsock/ns_mode", F_OK) == 0 ? KERNEL_SUPPORT_NAMESPACES
                                                                         : KERNEL_SUPPORT_NONE;
    m->g2h_fallback_supported = access("/proc/sys/net/vsock/g2h_fallback", F_OK) == 0;
    if (vsock_sysctl_read(m->workers, -1, "child_ns_mode", m->host_child_mode, sizeof(m->host_child_mode)) < 0)
        snprintf(m->host_child_mode, sizeof(m->host_child_mode), "global");

    /* A guest-to-host transport gives this machine a CID of its own. */
    unsigned int cid = VMADDR_CID_ANY;
    _cleanup_close_ int dev = open("/dev/vsock", O_RDONLY | O_CLOEXEC);
    if (dev >= 0 && ioctl(dev, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) == 0)
        m->guest_transport = cid != VMADDR_CID_ANY && cid > VMADDR_CID_HOST;

    if (m->kernel_support == KERNEL_SUPPORT_NONE)
        log_notice("This kernel has no vsock namespaces (Linux >= 7.0 needed): every namespace "
                   "shares one vsock world, as before 7.0; 'local' mode is not available.");
    if (m->guest_transport)
        log_notice("Running in a guest with a guest-to-host vsock transport (local CID %u): "
                   "local namespaces cannot reach the host; only global ones can.", cid);
}

/* /etc/vsockns/vsocknsd.conf: "HostChildMode=local|global", '#' comments. */
static void parse_quota(Manager *m, const char *key, const char *v, size_t *ret)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end || end == v || n > 1000000)
        log_warning("%s: %s='%s' is not a number from 0 to 1000000, keeping %zu", m->config.config_file, key, v,
                    *ret);
    else
        *ret = n;
}

/* AttachableUnits=NS:GLOB NS:GLOB ...: each word added to the list. */
static void parse_attachable(Manager *m, const char *v)
{
    char words[512];
    snprintf(words, sizeof(words), "%s", v);
    char *save = NULL;
    for (char *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        char *colon = strchr(w, ':');
        AttachableUnit a = { 0 };
        if (colon) {
            *colon = '\0';
            snprintf(a.ns, sizeof(a.ns), "%s", w);
            snprintf(a.glob, sizeof(a.glob), "%s", colon + 1);
        }
        if (!colon || !ns_name_is_valid(a.ns) || streq(a.ns, NS_NAME_HOST) || a.glob[0] == '\0' ||
            strlen(colon + 1) >= sizeof(a.glob) ||
            strspn(a.glob, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_.@-\\*?[]!") !=
                strlen(a.glob)) {
            if (colon)
                *colon = ':';
            log_warning("%s: AttachableUnits=: '%s' is not NAMESPACE:GLOB (a managed namespace's name, a unit "
                        "name pattern), ignoring it",
                        m->config.config_file, w);
            continue;
        }
        AttachableUnit *grown = realloc(m->attachable, (m->n_attachable + 1) * sizeof(AttachableUnit));
        if (!grown) {
            log_warning("%s: AttachableUnits=: out of memory, ignoring '%s'", m->config.config_file, w);
            return;
        }
        m->attachable = grown;
        m->attachable[m->n_attachable++] = a;
    }
}

bool manager_unit_attachable(const Manager *m, const char *ns, const char *unit)
{
    for (size_t i = 0; i < m->n_attachable; i++)
        if (streq(m->attachable[i].ns, ns) && fnmatch(m->attachable[i].glob, unit, 0) == 0)
            return true;
    return false;
}

void manager_config_parse(Manager *m, FILE *f)
{
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line + strspn(line, " \t");
        if (*p == '#' || *p == ';' || *p == '\0' || *p == '[')
            continue;
        if (strncmp(p, "HostChildMode=", STRLEN("HostChildMode=")) == 0) {
            const char *v = p + STRLEN("HostChildMode=");
            m->configured_host_child_mode = vsock_mode_from_string(v);
            if (m->configured_host_child_mode == VSOCK_MODE_INVALID)
                log_warning("%s: HostChildMode='%s' is neither 'local' nor 'global', ignoring",
                            m->config.config_file, v);
        } else if (strncmp(p, "NamespacesPerUser=", STRLEN("NamespacesPerUser=")) == 0)
            parse_quota(m, "NamespacesPerUser", p + STRLEN("NamespacesPerUser="), &m->namespaces_per_user);
        else if (strncmp(p, "LeasesPerUser=", STRLEN("LeasesPerUser=")) == 0)
            parse_quota(m, "LeasesPerUser", p + STRLEN("LeasesPerUser="), &m->leases_per_user);
        else if (strncmp(p, "LeasesPerNamespace=", STRLEN("LeasesPerNamespace=")) == 0)
            parse_quota(m, "LeasesPerNamespace", p + STRLEN("LeasesPerNamespace="), &m->leases_per_namespace);
        else if (strncmp(p, "NamespacesPerParent=", STRLEN("NamespacesPerParent=")) == 0)
            parse_quota(m, "NamespacesPerParent", p + STRLEN("NamespacesPerParent="), &m->namespaces_per_parent);
        else if (strncmp(p, "AttachableUnits=", STRLEN("AttachableUnits=")) == 0)
            parse_attachable(m, p + STRLEN("AttachableUnits="));
        else
            log_warning("%s: unknown setting '%s', ignoring", m->config.config_file, p);
    }
}

static void load_config(Manager *m)
{
    _cleanup_fclose_ FILE *f = fopen(m->config.config_file, "re");
    if (f)
        manager_config_parse(m, f);
}

static void apply_host_child_mode(Manager *m)
{
    if (m->configured_host_child_mode == VSOCK_MODE_INVALID || m->kernel_support == KERNEL_SUPPORT_NONE)
        return;
    const char *want = vsock_mode_to_string(m->configured_host_child_mode);
    int r = vsock_sysctl_write(m->workers, -1, "child_ns_mode", want);
    if (r == -EBUSY)
        log_error("HostChildMode=%s: the host's child_ns_mode is already locked to '%s'", want,
                  m->host_child_mode);
    else if (r < 0)
        log_error_errno(r, "HostChildMode=%s: cannot write the host's child_ns_mode: %m", want);
    else
        log_info("Host child_ns_mode locked to '%s' as configured", want);
    vsock_sysctl_read(m->workers, -1, "child_ns_mode", m->host_child_mode, sizeof(m->host_child_mode));
}

static int parent_fail(Parent *p, int r, const char *format, ...) __attribute__((format(printf, 3, 4)));

static int parent_fail(Parent *p, int r, const char *format, ...)
{
    va_list ap;
    p->status = r;
    va_start(ap, format);
    vsnprintf(p->problem, sizeof(p->problem), format, ap);
    va_end(ap);
    log_event(LOG_ERR, EVENT_PARENT_REFUSED, (EventFields) { .ns = p->path },
              "Parent for %s namespaces (%s) is not usable: %s", vsock_mode_to_string(p->mode), p->path, p->problem);
    return r;
}

/*
 * An existing parent (from an earlier run, or planted by someone else):
 * writing the wanted child_ns_mode again is accepted only if it is unlocked
 * or already locked to that value, so the write both checks and locks.
 */
static int parent_adopt(Manager *m, Parent *p)
{
    const char *want = vsock_mode_to_string(p->mode);
    _cleanup_close_ int fd = netns_open(p->path);
    if (fd < 0)
        return parent_fail(p, fd, "cannot open it: %s", strerror(-fd));

    char found[VSOCK_MODE_TEXT_MAX], own[VSOCK_MODE_TEXT_MAX];
    int r = vsock_child_mode_lock(m->workers, fd, want, found, own);
    if (r == -EBUSY)
        return parent_fail(p, -EBUSY, "its child_ns_mode is locked to '%s' by someone else", found);
    if (r == -EPERM)
        return parent_fail(p, -EPERM, "it is a %s namespace, which cannot have %s children", own, want);
    if (r < 0)
        return parent_fail(p, r, "cannot write its child_ns_mode: %s", strerror(-r));
    if (p->mode == VSOCK_MODE_GLOBAL && !streq(own, "global"))
        return parent_fail(p, -EBUSY, "it is itself '%s'", own);
    p->status = 0;
    p->problem[0] = '\0';
    log_event(LOG_INFO, EVENT_PARENT_ADOPTED, (EventFields) { .ns = p->path }, "Adopted parent for %s namespaces at %s",
              want, p->path);
    return 0;
}

static int parent_setup(Manager *m, Parent *p)
{
    const char *want = vsock_mode_to_string(p->mode);
    int r = netns_pin_inode(p->path, NULL);
    if (r == 0)
        return parent_adopt(m, p);
    if (r == -ENOTCONN) {
        /* A placeholder left by a crash between open and bind mount. */
        log_info("Removing stale placeholder %s", p->path);
        unlink(p->path);
    } else if (r != -ENOENT)
        return parent_fail(p, r, "cannot inspect it: %s", strerror(-r));

    NetnsSetup setup = { .pin_path = p->path, .child_ns_mode = want, .g2h_fallback = -1 };
    NetnsCreated created;
    int fd;
    r = netns_create_pinned(m->workers, -1, &setup, &fd, &created);
    if (r >= 0)
        close(fd); /* parents live in our own 0700 directory: found by path */
    if (r == -EPERM)
        return parent_fail(p, r, "the host's child_ns_mode is '%s', so it cannot have %s children",
                           m->host_child_mode, want);
    if (r < 0)
        return parent_fail(p, r, "cannot create it: %s", strerror(-r));
    if (p->mode == VSOCK_MODE_GLOBAL && !streq(created.ns_mode, "global")) {
        netns_unpin(p->path);
        return parent_fail(p, -EBUSY, "the kernel made it '%s'", created.ns_mode);
    }
    p->status = 0;
    p->problem[0] = '\0';
    log_event(LOG_INFO, EVENT_PARENT_ADOPTED, (EventFields) { .ns = p->path }, "Created parent for %s namespaces at %s",
              want, p->path);
    return 0;
}

static int setup_parents(Manager *m)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/parents", m->config.state_dir);
    int r = netns_dir_prepare(dir);
    if (r < 0)
        return log_error_errno(r, "Cannot prepare %s: %m", dir);
    for (int i = 0; i < 2; i++)
        parent_setup(m, &m->parents[i]);
    return 0;
}

/* Reads g2h_fallback of a pinned namespace: -1 if the kernel has none. */
static int read_g2h_fallback(Manager *m, const Namespace *ns)
{
    char v[8] = "";
    if (!m->g2h_fallback_supported || ns->fd < 0 ||
        m->netns->sysctl_read(m->netns_userdata, m->workers, ns->fd, "g2h_fallback", v, sizeof(v)) < 0)
        return -1;
    return streq(v, "1");
}

/*
 * A creation that a crash interrupted. The record says what was made: the
 * placeholder (always, it comes first) and, once it existed, the namespace.
 * Only what it proves to be ours is touched: a pin of that very namespace
 * is adopted (if the kernel gave it the mode asked for), that very
 * placeholder is removed; anything else at the path (e.g. an `ip netns add`
 * of the same name meanwhile) is left alone. Returns true if kept.
 */
static bool finish_pending(Manager *m, Namespace *ns, const char *path)
{
    NetnsId placeholder = { .dev = ns->placeholder_dev, .ino = ns->placeholder_ino };
    NetnsId want = { .dev = ns->dev, .ino = ns->inode }, found = {};
    if (placeholder.ino == 0) {
        log_notice("Creation of namespace '%s' was interrupted before its placeholder was made; dropping the "
                   "record and leaving %s alone", ns->name, path);
        return false;
    }
    int fd = want.ino ? m->netns->open_verified(m->netns_userdata, path, &want, &found) : -ENOTCONN;
    if (fd < 0) {
        int r = m->netns->remove_placeholder(m->netns_userdata, path, &placeholder);
        if (r == 0)
            log_notice("Removed the placeholder %s of an interrupted creation", path);
        else if (r == -ENOENT)
            log_notice("Creation of namespace '%s' was interrupted; nothing of it is left", ns->name);
        else
            log_notice("Creation of namespace '%s' was interrupted; %s is not what vsockns made, leaving it "
                       "alone", ns->name, path);
        return false;
    }
    char mode[16] = "global";
    int r = m->netns->sysctl_read(m->netns_userdata, m->workers, fd, "ns_mode", mode, sizeof(mode));
    if (r == -ENOENT) /* no vsock namespaces: everything is global */
        snprintf(mode, sizeof(mode), "global");
    else if (r < 0 || vsock_mode_from_string(mode) != ns->mode) {
        log_notice("Namespace '%s' from an interrupted creation is '%s', not %s; removing it", ns->name, mode,
                   vsock_mode_to_string(ns->mode));
        m->netns->unpin_verified(m->netns_userdata, path, &want);
        close(fd);
        return false;
    }
    ns->fd = fd;
    ns->dev = found.dev; /* a record made before the namespace existed has none */
    ns->pending = false;
    ns->placeholder_dev = ns->placeholder_ino = 0;
    if (ns->g2h_fallback < 0)
        ns->g2h_fallback = read_g2h_fallback(m, ns);
    log_info("Finished the creation of namespace '%s' that a restart interrupted", ns->name);
    return true;
}

/* Moves record i of st into the manager (its slot in st emptied). */
static void keep_adopted(Manager *m, State *st, size_t i, size_t *kept)
{
    Namespace *ns = st->namespaces[i];
    int r = ns_table_add(&m->namespaces, ns);
    if (r < 0) {
        log_error_errno(r, "Cannot re-adopt namespace '%s': %m", ns->name);
        if (ns->fd >= 0)
            close(ns->fd);
        return;
    }
    st->namespaces[i] = NULL;
    ns->manager = m;
    (*kept)++;
}

/* Keeps the namespaces of an earlier run that are still pinned where we
 * left them (same inode), drops the others with a log line. */
static int reconcile_namespaces(Manager *m)
{
    State st = {};
    size_t dropped = 0;
    int r = state_load(m->config.state_dir, &st, &dropped);
    if (r == -ENOENT)
        return 0;
    if (r < 0) {
        /* Keep the unreadable file for a person to look at; start empty. */
        char path[PATH_MAX], aside[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", m->config.state_dir, STATE_FILE);
        snprintf(aside, sizeof(aside), "%s/%s.corrupt", m->config.state_dir, STATE_FILE);
        rename(path, aside);
        log_error_errno(r, "Cannot read %s, starting empty (kept as %s): %m", path, aside);
        return manager_save(m);
    }
    if (dropped > 0)
        log_warning("Dropped %zu malformed entries from %s/%s", dropped, m->config.state_dir, STATE_FILE);

    size_t kept = 0;
    /* The file is rewritten only if this differs from what it says. */
    bool changed = dropped > 0;
    for (size_t i = 0; i < st.n_namespaces; i++) {
        Namespace *ns = st.namespaces[i];
        char path[PATH_MAX];
        manager_pin_path(m, ns->name, path, sizeof(path));
        if (ns->pending) {
            changed = true;
            if (finish_pending(m, ns, path))
                keep_adopted(m, &st, i, &kept);
            continue;
        }
        NetnsId want = { .dev = ns->dev, .ino = ns->inode }, found;
        ns->fd = m->netns->open_verified(m->netns_userdata, path, &want, &found);
        if (ns->fd == -ESTALE && m->netns->path_id(m->netns_userdata, path, &found, &(bool) { false }) == 0)
            log_notice("Namespace '%s' at %s is a different namespace now (inode %llu, was %llu); "
                       "dropping it and leaving the new one alone",
                       ns->name, path, (unsigned long long) found.ino, (unsigned long long) ns->inode);
        else if (ns->fd < 0)
            log_notice("Namespace '%s' is gone (%s: %s); dropping it", ns->name, path, strerror(-ns->fd));
        else {
            changed |= ns->dev != found.dev;
            ns->dev = found.dev;
            keep_adopted(m, &st, i, &kept);
            /* One line per namespace only when asked: 1,000 of them at
             * every start would flood the journal (and wait on it). */
            log_debug("Re-adopted namespace '%s' (%s)", ns->name, vsock_mode_to_string(ns->mode));
        }
    }
    if (kept > 0)
        log_info("Re-adopted %zu namespaces", kept);
    changed |= kept != st.n_namespaces;
    state_free(&st); /* the records not kept */
    /* Writing 1,000 namespaces back unchanged costs a start tens of ms. */
    return changed ? manager_save(m) : 0;
}

/* lease_records_load_known(): the copy of a lease file's record that came
 * back from the fd store with its fd, if any. */
static bool known_from_store(void *userdata, uint32_t cid, const char *ns, uint64_t ino, LeaseRecord *ret)
{
    Manager *m = userdata;
    return lease_fds_stored_record(m->fds, cid, ns, ino, ret);
}

int manager_reconcile(Manager *m)
{
    uint64_t start = clock_usec(CLOCK_MONOTONIC);
    int r = reconcile_namespaces(m);
    if (r < 0)
        return r;
    uint64_t namespaces_done = clock_usec(CLOCK_MONOTONIC);
    m->reconcile_namespaces_usec = namespaces_done - start;
    LeaseRecord *records = NULL;
    size_t n = 0, dropped = 0, copies = 0;
    r = lease_records_load_known(m->config.state_dir, known_from_store, m, &records, &n, &dropped, &copies);
    uint64_t read_done = clock_usec(CLOCK_MONOTONIC);
    m->read_leases_usec = read_done - namespaces_done;
    if (r < 0)
        log_error_errno(r, "Cannot read the leases in %s/%s: %m", m->config.state_dir, LEASES_DIR);
    if (dropped > 0)
        log_warning("Ignored %zu unreadable lease files in %s/%s", dropped, m->config.state_dir, LEASES_DIR);
    if (n > 0)
        log_info("Read %zu lease records: %zu from the copies the fd store kept with their fds, %zu from their "
                 "files", n, copies, n - copies);
    r = manager_reconcile_leases(m, records, n);
    free(records);
    m->adopt_leases_usec = clock_usec(CLOCK_MONOTONIC) - read_done;
    return r;
}

int manager_startup(Manager *m)
{
    char problem[256];
    int r = state_dir_prepare(m->config.state_dir, problem, sizeof(problem));
    if (r < 0)
        return log_error_errno(r, "Refusing to use %s: %s", m->config.state_dir, problem);

    load_config(m);
    detect_kernel(m);
    apply_host_child_mode(m);

    r = netns_dir_prepare(m->config.netns_dir);
    if (r < 0)
        return log_error_errno(r, "Cannot prepare %s: %m", m->config.netns_dir);
    if (m->kernel_support == KERNEL_SUPPORT_NAMESPACES)
        setup_parents(m);
    return manager_reconcile(m);
}

static int check_parent_option(Manager *m, const CreateRequest *req, VsockMode mode, const char **ret_path,
                               ManagerError *e)
{
    NameProblem np = ns_name_check(req->parent);
    if (np != NAME_OK)
        return manager_error_set(e, -EINVAL, ERROR_INVALID_NAME, "Parent name is not valid: %s.",
                         name_problem_to_string(np));
    const Namespace *parent = manager_find(m, req->parent);
    if (!parent || parent->pending)
        return manager_error_set(e, -ENOENT, ERROR_NO_SUCH_NAMESPACE,
                         "No namespace '%s' managed by vsockns to nest in.", req->parent);
    if (parent->mode != VSOCK_MODE_LOCAL)
        return manager_error_set(e, -EINVAL, ERROR_INVALID_PARENT,
                         "Parent '%s' is global: only local namespaces can be nested (global children "
                         "are created from vsockns's own global parent; omit Parent).", req->parent);
    if (mode != VSOCK_MODE_LOCAL)
        return manager_error_set(e, -EINVAL, ERROR_INVALID_MODE,
                         "Children of a local namespace are always local; use mode 'local' with Parent.");
    *ret_path = NULL; /* resolved by the caller: the parent's pin */
    return 1;
}

int manager_check_create(Manager *m, const CreateRequest *req, const char **ret_parent_path, ManagerError *e)
{
    NameProblem np = ns_name_check(req->name);
    if (np != NAME_OK)
        return manager_error_set(e, -EINVAL, ERROR_INVALID_NAME, "Namespace name is not valid: %s.",
                         name_problem_to_string(np));
    VsockMode mode = vsock_mode_from_string(req->mode);
    if (mode == VSOCK_MODE_INVALID)
        return manager_error_set(e, -EINVAL, ERROR_INVALID_MODE,
                         "Mode '%.32s' is not valid: use 'local' or 'global'.", req->mode);
    const Namespace *same = ns_table_find(&m->namespaces, req->name);
    if (same)
        return manager_error_set(e, -EEXIST, ERROR_NAMESPACE_EXISTS, "Namespace '%s' already exists%s.", req->name,
                                 same->pending ? " (it is being created)" : "");

    char path[PATH_MAX];
    manager_pin_path(m, req->name, path, sizeof(path));
    if (access(path, F_OK) == 0)
        return manager_error_set(e, -EEXIST, ERROR_NAMESPACE_EXISTS,
                         "%s already exists and is not managed by vsockns; pick another name.", path);
    if (m->namespaces.n >= MANAGER_NAMESPACES_MAX)
        return manager_error_set(e, -E2BIG, ERROR_LIMIT_REACHED,
                         "vsockns already manages %d namespaces, its limit; delete some first.",
                         MANAGER_NAMESPACES_MAX);

    if (m->kernel_support == KERNEL_SUPPORT_NONE && (mode == VSOCK_MODE_LOCAL || (req->parent && req->parent[0])))
        return manager_error_set(e, -EOPNOTSUPP, ERROR_NOT_SUPPORTED,
                         "Local vsock namespaces need Linux >= 7.0; this kernel has no vsock namespace "
                         "support, so only 'global' (the pre-7.0 behaviour) is available.");
    if (req->g2h_fallback >= 0 && !m->g2h_fallback_supported)
        return manager_error_set(e, -EOPNOTSUPP, ERROR_NOT_SUPPORTED,
                         "G2HFallback needs Linux >= 7.2 (no /proc/sys/net/vsock/g2h_fallback here).");

    if (req->parent && req->parent[0]) {
        int r = check_parent_option(m, req, mode, ret_parent_path, e);
        return r < 0 ? r : 0;
    }
    if (m->kernel_support == KERNEL_SUPPORT_NONE) {
        *ret_parent_path = NULL;
        return 0;
    }
    const Parent *p = &m->parents[mode];
    if (p->status != 0)
        return manager_error_set(e, -EBUSY, ERROR_MODE_LOCKED,
                         "Cannot create %s namespaces: the parent %s is not usable: %s. Remove it "
                         "(umount and rm) and restart vsocknsd.",
                         vsock_mode_to_string(mode), p->path, p->problem);
    *ret_parent_path = p->path;
    return 0;
}

/* A new managed record: a copy of *ns, owned by the manager from now on. */
static Namespace *namespace_add(Manager *m, const Namespace *ns)
{
    Namespace *added = namespace_new(ns);
    if (added && ns_table_add(&m->namespaces, added) < 0)
        added = namespace_free(added);
    if (added)
        added->manager = m;
    return added;
}

/* Takes ns out of the table and frees it; its leases and space are gone
 * by now. */
static void namespace_remove(Manager *m, Namespace *ns)
{
    if (ns->fd >= 0)
        close(ns->fd); /* we must not keep a namespace alive that is gone */
    ns_table_remove(&m->namespaces, ns);
    namespace_free(ns);
}

/* Drops a record that never became a namespace, and says so on disk. */
static void namespace_discard(Manager *m, Namespace *ns)
{
    namespace_remove(m, ns);
    manager_save(m);
}

typedef struct CreateProgress {
    Manager *manager;
    Namespace *ns;      /* the pending record, the creation's own until it ends */
    VsockMode want;
    bool mode_mismatch;
} CreateProgress;

/*
 * Records, before each next step, what a restart must recognise as ours:
 * the placeholder as soon as it exists, the namespace before it is pinned.
 * A namespace the kernel made in the wrong mode is never pinned.
 */
static int record_progress(void *userdata, NetnsStage stage, const NetnsCreated *c)
{
    CreateProgress *p = userdata;
    Namespace *ns = p->ns;
    if (stage == NETNS_STAGE_MADE && vsock_mode_from_string(c->ns_mode) != p->want) {
        p->mode_mismatch = true;
        return -EBUSY;
    }
    ns->placeholder_dev = c->placeholder.dev;
    ns->placeholder_ino = c->placeholder.ino;
    ns->dev = c->id.dev;
    ns->inode = c->id.ino;
    int r = manager_save(p->manager);
    if (stage == NETNS_STAGE_PLACEHOLDER)
        FAULT_POINT("after-placeholder");
    return r;
}

/* The namespace to create in: a managed one's fd (nested), a parent of
 * ours (under our 0700 state directory), or the host (-1). */
static int open_creation_parent(Manager *m, const CreateRequest *req, const char *parent_path, ManagerError *e)
{
    if (req->parent && req->parent[0]) {
        const Namespace *parent = manager_find(m, req->parent);
        int fd = fcntl(parent->fd, F_DUPFD_CLOEXEC, 3);
        return fd >= 0 ? fd
                       : manager_error_set(e, -errno, ERROR_KERNEL, "Cannot use parent '%s': %s.", req->parent,
                                           strerror(errno));
    }
    if (!parent_path)
        return -1;
    int fd = m->netns->open_verified(m->netns_userdata, parent_path, NULL, NULL);
    return fd >= 0 ? fd
                   : manager_error_set(e, fd, ERROR_KERNEL, "Cannot open the parent namespace %s: %s.",
                                       parent_path, strerror(-fd));
}

/* A creation under way: its pending record (progress.ns) is in
 * m->namespaces, where nothing but this job removes it; a worker is making
 * the namespace. */
struct CreateJob {
    Manager *manager;
    char name[NS_NAME_MAX + 1];
    char mode[16];
    char path[PATH_MAX];
    CreateProgress progress;
    NetnsJob *netns;
    manager_create_done_fn done;
    void *userdata;
};

static void on_netns_done(NetnsJob *nj, void *userdata);
static int manager_create_namespace_finish(Manager *m, CreateJob *j, Namespace **ret, ManagerError *e);

int manager_create_namespace_begin(Manager *m, const CreateRequest *req, manager_create_done_fn done, void *userdata,
                                   CreateJob **ret_job, Namespace **ret_ns, ManagerError *e)
{
    const char *parent_path = NULL;
    int r = manager_check_create(m, req, &parent_path, e);
    if (r < 0)
        return r;
    /* Again here, where the record that counts is made: a call that waited
     * for its turn was checked when others of the same uid were waiting too. */
    r = manager_check_quota(m, req->uid, false, 0, e);
    if (r >= 0)
        r = manager_check_namespace_quota(m, req->uid, false, req->parent, e);
    if (r < 0)
        return r;
    if (req->parent && req->parent[0] && manager_forget_if_unpinned(m, manager_find(m, req->parent), NULL) < 0)
        return manager_error_set(e, -ENOENT, ERROR_NO_SUCH_NAMESPACE,
                         "Namespace '%s' was removed behind vsockns's back; nothing to nest in.", req->parent);

    CreateJob *j = calloc(1, sizeof(*j));
    if (!j)
        return manager_error_set(e, -ENOMEM, ERROR_NONE, "Out of memory.");
    *j = (CreateJob) { .manager = m, .done = done, .userdata = userdata };
    snprintf(j->name, sizeof(j->name), "%s", req->name);
    snprintf(j->mode, sizeof(j->mode), "%s", req->mode);
    manager_pin_path(m, req->name, j->path, sizeof(j->path));
    j->progress = (CreateProgress) { .manager = m, .want = vsock_mode_from_string(req->mode) };

    /*
     * A pending record first, then every step recorded before the next
     * (record_progress): if vsocknsd dies half-way, the next start knows
     * exactly which placeholder and which namespace were its own, finishes
     * or undoes the job, and never touches anything else (finish_pending).
     * While pending, the name is taken but the namespace is not there for
     * anything else (manager_find() does not see it).
     */
    Namespace ns = {
        .mode = vsock_mode_from_string(req->mode),
        .g2h_fallback = req->g2h_fallback,
        .created_usec = clock_usec(CLOCK_REALTIME),
        .pending = true,
        .fd = -1,
    };
    ns.uid = req->uid;
    snprintf(ns.name, sizeof(ns.name), "%s", req->name);
    snprintf(ns.parent, sizeof(ns.parent), "%s", req->parent ? req->parent : "");
    j->progress.ns = namespace_add(m, &ns);
    if (!j->progress.ns) {
        free(j);
        return manager_error_set(e, -ENOMEM, ERROR_NONE, "Cannot record namespace '%s': out of memory.", req->name);
    }

    _cleanup_close_ int parent_fd = open_creation_parent(m, req, parent_path, e);
    r = parent_fd < -1 ? parent_fd : 0;
    if (r == 0) {
        NetnsSetup setup = { .pin_path = j->path, .g2h_fallback = req->g2h_fallback,
                             .record = record_progress, .record_userdata = &j->progress,
                             .done = on_netns_done, .userdata = j };
        r = m->netns->create_begin(m->netns_userdata, m->workers, parent_fd, &setup, &j->netns);
        if (r == -EEXIST)
            manager_error_set(e, r, ERROR_NAMESPACE_EXISTS, "%s already exists.", j->path);
        else if (r < 0)
            manager_error_set(e, r, ERROR_KERNEL, "Creating namespace '%s' failed: %s.", req->name, strerror(-r));
    }
    if (r < 0) {
        namespace_discard(m, j->progress.ns);
        free(j);
        return r;
    }
    if (r == 0) {
        *ret_job = j;
        return 0;
    }
    /* Finished at once (a fake kernel). */
    *ret_job = NULL;
    r = manager_create_namespace_finish(m, j, ret_ns, e);
    return r < 0 ? r : 1;
}

void manager_create_namespace_stop(CreateJob *j)
{
    netns_job_stop(j->netns); /* done is called meanwhile */
}

/* The worker is done: the error a caller gets, or 0 and *ret_fd. */
static int create_outcome(Manager *m, CreateJob *j, int *ret_fd, ManagerError *e)
{
    int r = j->netns->result;
    const NetnsCreated *created = &j->netns->created;
    if (r == -EEXIST)
        return manager_error_set(e, r, ERROR_NAMESPACE_EXISTS, "%s already exists.", j->path);
    if (j->progress.mode_mismatch)
        return manager_error_set(e, -EBUSY, ERROR_MODE_MISMATCH,
                         "The kernel made namespace '%s' %s instead of %s; nothing was kept.", j->name,
                         created->ns_mode[0] ? created->ns_mode : "another mode", j->mode);
    if (r == -ESTALE)
        return manager_error_set(e, r, ERROR_KERNEL,
                         "%s was replaced by someone else while namespace '%s' was being created; it is left "
                         "alone and nothing was kept.", j->path, j->name);
    if (r == -ESHUTDOWN)
        return manager_error_set(e, -ESHUTDOWN, ERROR_NONE,
                         "vsocknsd is stopping: the creation of namespace '%s' was stopped and nothing was "
                         "kept; ask again once it is back.", j->name);
    if (r == -EINPROGRESS)
        return manager_error_set(e, -ESHUTDOWN, ERROR_NONE,
                         "vsocknsd is stopping: the creation of namespace '%s' could not be stopped (the kernel "
                         "holds it); the next start finishes or undoes it.", j->name);
    if (r == -ETIMEDOUT)
        return manager_error_set(e, r, ERROR_KERNEL,
                         "Creating namespace '%s' did not finish within %d s (the kernel stalled); vsocknsd "
                         "stopped it and nothing was kept.", j->name, ns_workers_timeout(m->workers) / 1000);
    if (r < 0)
        return manager_error_set(e, r, ERROR_KERNEL, "Creating namespace '%s' failed: %s.", j->name, strerror(-r));
    FAULT_POINT("after-bind-mount");
    *ret_fd = j->netns->ns_fd;
    j->netns->ns_fd = -1;
    return 0;
}

static int manager_create_namespace_finish(Manager *m, CreateJob *j, Namespace **ret, ManagerError *e)
{
    int fd = -1;
    int r = create_outcome(m, j, &fd, e);
    int g2h_fallback = j->netns->created.g2h_fallback;
    bool unsettled = j->netns->result == -EINPROGRESS;
    j->netns = netns_job_free(j->netns);
    if (r < 0) {
        /* An unsettled one keeps its pending record, on disk, for the next
         * start (finish_pending); vsocknsd is stopping anyway. */
        if (!unsettled)
            namespace_discard(m, j->progress.ns);
        free(j);
        return r;
    }

    Namespace *added = j->progress.ns;
    added->fd = fd;
    added->pending = false;
    added->placeholder_dev = added->placeholder_ino = 0;
    /* Read by the worker that made it; -1 if it could not. */
    if (added->g2h_fallback < 0 && m->g2h_fallback_supported)
        added->g2h_fallback = g2h_fallback;
    r = manager_save(m);
    if (r < 0) {
        NetnsId id = { .dev = added->dev, .ino = added->inode };
        m->netns->unpin_verified(m->netns_userdata, j->path, &id);
        namespace_discard(m, j->progress.ns);
        manager_error_set(e, r, ERROR_NONE, "Cannot record namespace '%s': %s.", j->name, strerror(-r));
        free(j);
        return r;
    }
    log_event(LOG_INFO, EVENT_NAMESPACE_CREATED, (EventFields) { .ns = added->name, .has_uid = true, .uid = added->uid },
              "Created %s namespace '%s'%s%s", j->mode, added->name, added->parent[0] ? " in " : "", added->parent);
    free(j);
    if (m->on_added)
        m->on_added(m, added, m->userdata);
    if (ret)
        *ret = added;
    return 0;
}

static void on_netns_done(NetnsJob *nj, void *userdata)
{
    CreateJob *j = userdata;
    Manager *m = j->manager;
    manager_create_done_fn done = j->done;
    void *done_userdata = j->userdata;
    ManagerError e = {};
    Namespace *ns = NULL;
    /* This frees nj and j: netns.c touches nj no more once it has told us. */
    int r = manager_create_namespace_finish(m, j, &ns, &e);
    done(m, r, ns, &e, done_userdata);
}

typedef struct SyncCreate {
    bool over;
    int r;
    Namespace *ns;
    ManagerError e;
} SyncCreate;

static void sync_create_done(Manager *m, int r, Namespace *ns, const ManagerError *e, void *userdata)
{
    SyncCreate *s = userdata;
    *s = (SyncCreate) { .over = true, .r = r, .ns = ns, .e = *e };
}

int manager_create_namespace(Manager *m, const CreateRequest *req, Namespace **ret, ManagerError *e)
{
    SyncCreate result = {};
    CreateJob *j;
    int r = manager_create_namespace_begin(m, req, sync_create_done, &result, &j, ret, e);
    if (r != 0)
        return r < 0 ? r : 0;
    while (!result.over)
        if (!m->event || sd_event_run(m->event, UINT64_MAX) < 0) {
            manager_create_namespace_stop(j);
            break;
        }
    if (ret)
        *ret = result.ns;
    *e = result.e;
    return result.r;
}

void manager_forget_namespace(Manager *m, Namespace *ns, const char *why)
{
    manager_drop_namespace_leases(m, ns->name, why);
    cid_space_free(ns->space);
    ns->space = NULL;
    lease_set_clear(&ns->leases); /* empty by now */
    ns_table_remove(&m->namespaces, ns);
    manager_save(m);
    log_event(LOG_INFO, EVENT_NAMESPACE_REMOVED, (EventFields) { .ns = ns->name, .has_uid = true, .uid = ns->uid },
              "Namespace '%s' is no longer managed: %s", ns->name, why);
    if (m->on_removed)
        m->on_removed(m, ns, m->userdata);
    if (ns->fd >= 0)
        close(ns->fd);
    namespace_free(ns);
}

static bool has_children(Manager *m, const char *name)
{
    for (size_t i = 0; i < m->namespaces.n; i++)
        if (streq(m->namespaces.items[i]->parent, name))
            return true;
    return false;
}

int manager_delete_namespace(Manager *m, const char *name, bool force, ManagerError *e)
{
    Namespace *ns = manager_get(m, name, false, e);
    if (!ns)
        return -ENOENT;
    int r = manager_forget_if_unpinned(m, ns, e);
    if (r < 0)
        return r;
    size_t leases = manager_namespace_lease_count(m, ns);
    if (leases > 0 && !force)
        return manager_error_set(e, -EBUSY, ERROR_NAMESPACE_BUSY,
                         "Namespace '%s' has %zu CID lease(s); release them or delete with force.", name, leases);

    char path[PATH_MAX];
    NetnsId id = { .dev = ns->dev, .ino = ns->inode };
    manager_pin_path(m, name, path, sizeof(path));
    r = m->netns->unpin_verified(m->netns_userdata, path, &id);
    if (r == -ESTALE)
        log_notice("%s no longer pins namespace '%s'; leaving it alone", path, name);
    else if (r < 0 && r != -ENOENT)
        return manager_error_set(e, r, ERROR_KERNEL, "Cannot remove %s: %s.", path, strerror(-r));

    log_info("Deleting namespace '%s'%s", name,
             has_children(m, name) ? " (its nested namespaces stay pinned and managed)" : "");
    manager_forget_namespace(m, ns, "its namespace was deleted");
    return 0;
}

bool manager_handle_pin_removed(Manager *m, const char *name)
{
    Namespace *ns = manager_find(m, name);
    return ns && manager_forget_if_unpinned(m, ns, NULL) < 0;
}

int manager_check_namespace_quota(Manager *m, uid_t uid, bool lease, const char *ns, ManagerError *e)
{
    size_t max = lease ? m->leases_per_namespace : m->namespaces_per_parent;
    if (uid == 0 || max == SIZE_MAX || !ns || !ns[0] || streq(ns, NS_NAME_HOST))
        return 0;
    size_t n = 0;
    if (lease) {
        const Namespace *target = ns_table_find(&m->namespaces, ns);
        for (size_t i = 0; target && i < target->leases.n; i++)
            n += target->leases.items[i]->rec.uid != 0;
    } else
        for (size_t i = 0; i < m->namespaces.n; i++)
            n += m->namespaces.items[i]->uid != 0 && streq(m->namespaces.items[i]->parent, ns);
    if (n < max)
        return 0;
    return manager_error_set(e, -EDQUOT, ERROR_QUOTA_EXCEEDED,
                             "Namespace '%s' already has %zu %s of users other than root, its quota (%s= in %s); "
                             "%s some first.", ns, n, lease ? "leases" : "namespaces nested in it",
                             lease ? "LeasesPerNamespace" : "NamespacesPerParent", m->config.config_file,
                             lease ? "release" : "delete");
}

int manager_check_quota(Manager *m, uid_t uid, bool lease, size_t waiting, ManagerError *e)
{
    if (uid == 0)
        return 0;
    size_t n = 0, max = lease ? m->leases_per_user : m->namespaces_per_user;
    if (lease) {
        for (size_t i = 0; i < m->host_leases.n; i++)
            n += m->host_leases.items[i]->rec.uid == uid;
        for (size_t i = 0; i < m->namespaces.n; i++)
            for (size_t j = 0; j < m->namespaces.items[i]->leases.n; j++)
                n += m->namespaces.items[i]->leases.items[j]->rec.uid == uid;
    } else
        for (size_t i = 0; i < m->namespaces.n; i++)
            n += m->namespaces.items[i]->uid == uid;
    if (n + waiting < max)
        return 0;
    char more[64] = "";
    if (waiting > 0)
        snprintf(more, sizeof(more), " and %zu more waiting to be created", waiting);
    return manager_error_set(e, -EDQUOT, ERROR_QUOTA_EXCEEDED,
                             "uid %u already has %zu %s%s, its quota (%s= in %s); %s some first.", (unsigned) uid, n,
                             lease ? "leases" : "namespaces", more, lease ? "LeasesPerUser" : "NamespacesPerUser",
                             m->config.config_file, lease ? "release" : "delete");
}
