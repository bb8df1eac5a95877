/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Parsing the values of KEY=VALUE configuration files. Header-only, so the
 * libvirt hook (which does not link the core) shares it too. */
#pragma once

#include <string.h>

/* 1 for yes/true/1/on, 0 for no/false/0/off, -1 for anything else. */
static inline int parse_boolean(const char *v)
{
    if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "on"))
        return 1;
    if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "off"))
        return 0;
    return -1;
}
