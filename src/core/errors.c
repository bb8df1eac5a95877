/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "errors.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

int manager_error_set(ManagerError *e, int r, ErrorKind kind, const char *format, ...)
{
    if (e) {
        va_list ap;
        e->kind = kind;
        va_start(ap, format);
        vsnprintf(e->message, sizeof(e->message), format, ap);
        va_end(ap);
    }
    return r;
}

int manager_no_such_namespace(ManagerError *e, const char *name, bool host_too)
{
    return manager_error_set(e, -ENOENT, ERROR_NO_SUCH_NAMESPACE, "No namespace '%.64s' managed by vsockns%s.", name,
                             host_too ? " (use \".host\" for the host)" : "");
}
