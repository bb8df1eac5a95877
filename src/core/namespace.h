/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A namespace vsockns manages: what it is and where it came from. No D-Bus. */
#pragma once

#include <stdint.h>

#include "name.h"

typedef struct Namespace {
    char name[NS_NAME_MAX + 1];
    VsockMode mode;
    char parent[NS_NAME_MAX + 1]; /* "" unless nested in a managed namespace */
    int g2h_fallback;             /* -1 unknown (pre-7.2 kernel), 0, 1 */
    uint64_t inode;               /* of the netns, to recognise it after restarts */
    uint64_t created_usec;        /* CLOCK_REALTIME */
} Namespace;
