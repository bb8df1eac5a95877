/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Namespace names and vsock modes: validation and string forms. */
#pragma once

#include <stdbool.h>

#define NS_NAME_MAX 64
/* The host's own network namespace, in the D-Bus API and the CLI. */
#define NS_NAME_HOST ".host"

typedef enum VsockMode {
    VSOCK_MODE_INVALID = -1,
    VSOCK_MODE_GLOBAL = 0,
    VSOCK_MODE_LOCAL = 1,
} VsockMode;

/* Why a name was refused, for an error message a person can act on. */
typedef enum NameProblem {
    NAME_OK = 0,
    NAME_EMPTY,
    NAME_TOO_LONG,
    NAME_DOT,          /* "." or ".." */
    NAME_LEADING_DOT,  /* reserved, e.g. ".host" */
    NAME_BAD_CHAR,     /* outside [A-Za-z0-9_.-] */
} NameProblem;

NameProblem ns_name_check(const char *name);
const char *name_problem_to_string(NameProblem p);
bool ns_name_is_valid(const char *name);

VsockMode vsock_mode_from_string(const char *s);
const char *vsock_mode_to_string(VsockMode m);
