/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The failures of the core a caller can expect, as kinds: the bus layer
 * names them (daemon/bus-errors.h), the core knows nothing of D-Bus. */
#pragma once

#include <stdbool.h>

typedef enum ErrorKind {
    ERROR_NONE = 0, /* not one a caller can expect: errno only */
    ERROR_NO_SUCH_NAMESPACE,
    ERROR_NAMESPACE_EXISTS,
    ERROR_INVALID_NAME,
    ERROR_INVALID_MODE,
    ERROR_INVALID_OPTION,
    ERROR_INVALID_PARENT,
    ERROR_NOT_SUPPORTED,
    ERROR_MODE_LOCKED,
    ERROR_MODE_MISMATCH,
    ERROR_NAMESPACE_BUSY,
    ERROR_LIMIT_REACHED,
    ERROR_ACCESS_DENIED,
    ERROR_KERNEL,
    ERROR_INVALID_CID,
    ERROR_INVALID_OWNER,
    ERROR_CID_IN_USE,
    ERROR_NO_FREE_CID,
    ERROR_NO_SUCH_LEASE,
    ERROR_QUOTA_EXCEEDED,
    _ERROR_KIND_MAX,
} ErrorKind;

/* A failure as the core reports it: a negative errno is returned, and for
 * the failures a caller can expect, a kind and a sentence a person can act on. */
typedef struct ManagerError {
    ErrorKind kind;     /* ERROR_NONE: not one a caller expects */
    char message[512];
} ManagerError;

/* Fills e (if not NULL) and returns r: "return manager_error_set(e, -EINVAL, ...)". */
int manager_error_set(ManagerError *e, int r, ErrorKind kind, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
/* NoSuchNamespace, in its one sentence (host_too: the request also takes
 * ".host"); returns -ENOENT. */
int manager_no_such_namespace(ManagerError *e, const char *name, bool host_too);
