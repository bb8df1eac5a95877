/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "name.h"

#include <string.h>

#include "shared/macro.h"

/*
 * ip netns accepts any name that is a single path component. We are stricter
 * (DESIGN.md §3): names end up in D-Bus object paths, unit drop-ins and
 * shell commands, so only [A-Za-z0-9_.-], 1..64 characters, and nothing
 * starting with a dot (".host" names the host; "." and ".." are paths).
 */
NameProblem ns_name_check(const char *name)
{
    if (!name || name[0] == '\0')
        return NAME_EMPTY;
    size_t len = strnlen(name, NS_NAME_MAX + 1);
    if (len > NS_NAME_MAX)
        return NAME_TOO_LONG;
    if (streq(name, ".") || streq(name, ".."))
        return NAME_DOT;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return NAME_BAD_CHAR;
    }
    if (name[0] == '.')
        return NAME_LEADING_DOT;
    return NAME_OK;
}

bool ns_name_is_valid(const char *name)
{
    return ns_name_check(name) == NAME_OK;
}

const char *name_problem_to_string(NameProblem p)
{
    switch (p) {
    case NAME_OK: return "valid";
    case NAME_EMPTY: return "it is empty";
    case NAME_TOO_LONG: return "it is longer than 64 characters";
    case NAME_DOT: return "'.' and '..' are not names";
    case NAME_LEADING_DOT: return "names starting with '.' are reserved (\".host\" is the host)";
    case NAME_BAD_CHAR: return "only letters, digits, '_', '.' and '-' are allowed";
    }
    return "invalid";
}

VsockMode vsock_mode_from_string(const char *s)
{
    if (!s)
        return VSOCK_MODE_INVALID;
    if (streq(s, "global"))
        return VSOCK_MODE_GLOBAL;
    if (streq(s, "local"))
        return VSOCK_MODE_LOCAL;
    return VSOCK_MODE_INVALID;
}

const char *vsock_mode_to_string(VsockMode m)
{
    switch (m) {
    case VSOCK_MODE_GLOBAL: return "global";
    case VSOCK_MODE_LOCAL: return "local";
    default: return NULL;
    }
}
