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

int attach_write(const char *unit_dir, const char *unit, const char *ns, const char *netns_dir)
{
    char dir[PATH_MAX], text[2048];
    int r = attach_dropin_text(unit, ns, netns_dir, text, sizeof(text));
    if (r < 0)
        return r;
    if (mkdir(unit_dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    snprintf(dir, sizeof(dir), "%s/%s.d", unit_dir, unit);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    return write_file_atomic_mode(dir, ATTACH_DROPIN_NAME, text, 0644);
}

int attach_remove(const char *unit_dir, const char *unit)
{
    char dir[PATH_MAX], path[PATH_MAX + sizeof(ATTACH_DROPIN_NAME) + 1], head[64] = "";
    snprintf(dir, sizeof(dir), "%s/%s.d", unit_dir, unit);
    snprintf(path, sizeof(path), "%s/%s", dir, ATTACH_DROPIN_NAME);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t n = read(fd, head, sizeof(head) - 1);
    close(fd);
    if (n < 0 || strncmp(head, ATTACH_DROPIN_MARK, strlen(ATTACH_DROPIN_MARK)) != 0)
        return -EPERM; /* somebody else's file of that name: not ours to remove */
    if (unlink(path) < 0)
        return -errno;
    rmdir(dir); /* if nothing else is in it */
    return 0;
}
