/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Proving a namespace's vsock isolation live, through vsock loopback (CID 1):
 * a listener inside it, connections from inside, from the host, and from a
 * fresh namespace made beside it (same parent, so the same mode), plus one
 * from inside to a listener in the host. Each connection that gets through
 * must read back the token of the listener it was meant for, so reaching
 * some other program's listener on the same port is not mistaken for ours.
 *
 * What each path should do follows from the mode alone: a local namespace
 * reaches only itself, a global one reaches the host and other global
 * namespaces (DESIGN.md section 1).
 *
 * The probe joins namespaces, so a namespace worker runs it (ns-worker.h:
 * no thread of vsocknsd leaves the host netns), within
 * ISOLATION_PROBE_DEADLINE_MS.
 */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "name.h"

typedef enum IsolationPath {
    ISOLATION_INSIDE,        /* listener inside, client inside */
    ISOLATION_FROM_HOST,     /* listener inside, client in the host netns */
    ISOLATION_FROM_SIBLING,  /* listener inside, client in a new namespace beside it */
    ISOLATION_TO_HOST,       /* listener in the host netns, client inside */
    _ISOLATION_PATH_MAX,
} IsolationPath;

typedef struct IsolationOutcome {
    bool reached;           /* connected, and read our listener's token */
    bool other_listener;    /* connected, but not to our listener */
    int error;              /* the connect's errno when it failed */
} IsolationOutcome;

typedef struct IsolationReport {
    int error;              /* 0, or why the probe could not run (negative errno) */
    char failed_step[64];   /* ... at which step */
    char ns_mode[16];       /* the namespace's ns_mode, as the kernel reports it */
    IsolationOutcome path[_ISOLATION_PATH_MAX];
} IsolationReport;

/* Each connection waits at most this long; the daemon gives the whole
 * probe ISOLATION_PROBE_DEADLINE_MS. */
#define ISOLATION_CONNECT_TIMEOUT_MS 2000
#define ISOLATION_PROBE_DEADLINE_MS 20000

const char *isolation_path_to_string(IsolationPath p);
const char *isolation_path_description(IsolationPath p);
/* Whether path should get through in a namespace of mode m. */
bool isolation_expected(VsockMode m, IsolationPath p);
/* A few words on what happened on one path ("reached", "ECONNRESET", ...). */
void isolation_outcome_describe(const IsolationOutcome *o, char *buf, size_t size);

/* The probe of the namespace ns_fd, whose siblings are made inside
 * parent_fd (< 0: the host), run where home_fd (the host netns) can be
 * joined again; a failure to return there exits the process. */
void isolation_probe_here(int home_fd, int ns_fd, int parent_fd, IsolationReport *ret);
