/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * /etc/vsockns/namespaces.d/NAME.conf, the declarative namespaces the
 * generator turns into units: [Namespace] Mode=, Parent=, G2HFallback=;
 * [Attach] Units=. The format: vsockns-namespaces.d(5).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "name.h"

#define UNITS_MAX 32

typedef struct NamespaceConf {
    char name[NS_NAME_MAX + 1];
    char mode[8];
    char parent[NS_NAME_MAX + 1];
    int g2h_fallback; /* -1: not set */
    char units[UNITS_MAX][256];
    size_t n_units;
} NamespaceConf;

/* Reads and validates one file completely; false (and why, naming the
 * line) if anything is wrong. c->name is the caller's (from the file name). */
bool namespace_conf_parse(FILE *f, NamespaceConf *c, char *problem, size_t size);
bool namespace_conf_load(const char *path, NamespaceConf *c, char *problem, size_t size);
