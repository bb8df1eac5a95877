/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The manager's namespaces: heap objects with stable addresses, kept in the
 * order they were added and indexed by name. A Namespace * stays valid until
 * that very namespace is removed, whatever else is added or removed; finding
 * one never changes anything.
 */
#pragma once

#include <stddef.h>

#include "namespace.h"

typedef struct NamespaceTable {
    Namespace **items;   /* in the order added */
    size_t n, allocated;
    Namespace **index;   /* open addressing by name (linear probing), NULL: empty */
    size_t index_size;   /* a power of two, at least twice n */
} NamespaceTable;

/* A new object holding a copy of *ns (fd, space and leases included); NULL
 * when out of memory. Not in any table yet. */
Namespace *namespace_new(const Namespace *ns);
/* Frees the object only: its fd, space and leases are its owner's to end. */
Namespace *namespace_free(Namespace *ns);

/* Adds ns (the table refers to it, the caller still owns it); -EEXIST if the
 * name is taken, -ENOMEM. */
int ns_table_add(NamespaceTable *t, Namespace *ns);
/* Removes ns from the table (not freed). */
void ns_table_remove(NamespaceTable *t, Namespace *ns);
/* By name, in O(1); pending records included. */
Namespace *ns_table_find(const NamespaceTable *t, const char *name);
/* Frees the table's arrays, not the namespaces. */
void ns_table_clear(NamespaceTable *t);
