/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "attach.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"
#include "shared/macro.h"

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && streq(s + n - m, suffix);
}

const char *attach_unit_problem(const char *unit)
{
    size_t len = strlen(unit);
    if (len == 0 || len > 255)
        return "a unit name is 1 to 255 characters";
    if (strspn(unit, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789:_.@-\\") != len)
        return "a unit name has only letters, digits and :_.@-\\";
    if (unit[0] == '.' || unit[0] == '@')
        return "a unit name does not start with '.' or '@'";
    if (!ends_with(unit, ".service") && !ends_with(unit, ".socket"))
        return "only .service and .socket units can join a network namespace";
    if (strstr(unit, "@."))
        return "a template (name@.service) cannot join a namespace; name an instance";
    /* systemd applies NAME-.service.d to every unit NAME-*: not one unit. */
    const char *dot = strrchr(unit, '.');
    const char *at = strchr(unit, '@');
    const char *end = at && at < dot ? at : dot;
    if (end > unit && end[-1] == '-')
        return "a name ending in '-' (name-.service) stands for every unit it begins; name one unit";
    return NULL;
}

const char *attach_unit_forbidden(const char *name)
{
    static const struct {
        const char *name;
        const char *why;
    } never[] = {
        { "vsocknsd.service", "vsockns itself: it stays in the host's namespaces" },
        { "dbus.service", "the system bus" },
        { "dbus-broker.service", "the system bus" },
        { "dbus-daemon.service", "the system bus" },
        { "polkit.service", "polkit, which authorizes everything vsockns does" },
        { "polkitd.service", "polkit, which authorizes everything vsockns does" },
        { "systemd-logind.service", "the login manager" },
        { "systemd-journald.service", "the journal" },
        { "dbus.socket", "the system bus" },
        { "systemd-journald.socket", "the journal" },
        { "systemd-journald-audit.socket", "the journal" },
        { "systemd-journald-dev-log.socket", "the journal" },
        { "systemd-journald-varlink.socket", "the journal" },
    };
    static const struct {
        const char *prefix;
        const char *why;
    } never_instances[] = {
        { "getty@", "a login prompt" },
        { "serial-getty@", "a login prompt" },
        { "systemd-journald@", "the journal" },
        { "systemd-journald-varlink@", "the journal" },
        { "vsockns-namespace@", "the unit that keeps a namespace" },
    };
    for (size_t i = 0; i < ELEMENTSOF(never); i++)
        if (streq(name, never[i].name))
            return never[i].why;
    for (size_t i = 0; i < ELEMENTSOF(never_instances); i++)
        if (strncmp(name, never_instances[i].prefix, strlen(never_instances[i].prefix)) == 0 &&
            (ends_with(name, ".service") || ends_with(name, ".socket")))
            return never_instances[i].why; /* a journal namespace's sockets too */
    return NULL;
}

int attach_dropin_text(const char *unit, const char *ns, const char *netns_dir, char *buf, size_t size)
{
    int n = snprintf(buf, size,
                     "%s (vsocknsctl attach, or /etc/vsockns/namespaces.d): %s joins the vsock namespace %s.\n"
                     "[Unit]\n"
                     "BindsTo=vsockns-namespace@%s.service\n"
                     "After=vsockns-namespace@%s.service\n"
                     "\n"
                     "[%s]\n"
                     "NetworkNamespacePath=%s/%s\n",
                     ATTACH_DROPIN_MARK, unit, ns, ns, ns, ends_with(unit, ".socket") ? "Socket" : "Service",
                     netns_dir, ns);
    return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

/* Opens UNIT.d/50-vsockns.conf below unit_dir and reads its head: 1 if it
 * is ours, -EPERM if not, -ENOENT if there is none. */
static int dropin_open(const char *unit_dir, const char *unit, char *path, size_t size, char *text, size_t text_size)
{
    snprintf(path, size, "%s/%s.d/%s", unit_dir, unit, ATTACH_DROPIN_NAME);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ENOENT : -EPERM; /* a link, say: not ours */
    ssize_t n = read(fd, text, text_size - 1);
    close(fd);
    if (n < 0)
        return -EPERM;
    text[n] = '\0';
    return strncmp(text, ATTACH_DROPIN_MARK, strlen(ATTACH_DROPIN_MARK)) == 0 ? 1 : -EPERM;
}

int attach_write(const char *unit_dir, const char *unit, const char *ns, const char *netns_dir)
{
    char dir[PATH_MAX], path[PATH_MAX + 64], text[2048], old[2048];
    int r = attach_dropin_text(unit, ns, netns_dir, text, sizeof(text));
    if (r < 0)
        return r;
    r = dropin_open(unit_dir, unit, path, sizeof(path), old, sizeof(old));
    if (r != 1 && r != -ENOENT)
        return -EEXIST; /* somebody else's file of that name (or a link, a directory): not ours to replace */
    if (mkdir(unit_dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    snprintf(dir, sizeof(dir), "%s/%s.d", unit_dir, unit);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    return write_file_atomic_mode(dir, ATTACH_DROPIN_NAME, text, 0644);
}

int attach_remove(const char *unit_dir, const char *unit)
{
    char dir[PATH_MAX], path[PATH_MAX + 64], text[2048];
    int r = dropin_open(unit_dir, unit, path, sizeof(path), text, sizeof(text));
    if (r < 0)
        return r; /* none, or somebody else's file of that name: not ours to remove */
    if (unlink(path) < 0)
        return -errno;
    snprintf(dir, sizeof(dir), "%s/%s.d", unit_dir, unit);
    rmdir(dir); /* if nothing else is in it */
    return 0;
}

int attach_read(const char *unit_dir, const char *unit, char *ns, size_t size)
{
    char path[PATH_MAX + 64], text[2048];
    int r = dropin_open(unit_dir, unit, path, sizeof(path), text, sizeof(text));
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    /* The line attach_dropin_text() wrote: BindsTo=vsockns-namespace@NS.service */
    const char *key = "\nBindsTo=vsockns-namespace@";
    const char *p = strstr(text, key);
    if (!p)
        return -EPERM;
    p += strlen(key);
    size_t n = strcspn(p, "\n");
    if (n < strlen(".service") || n - strlen(".service") >= size)
        return -EPERM;
    n -= strlen(".service");
    memcpy(ns, p, n);
    ns[n] = '\0';
    return 1;
}
