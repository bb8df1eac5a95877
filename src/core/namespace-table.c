/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "namespace-table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"

#define INDEX_SIZE_MIN 16

Namespace *namespace_new(const Namespace *ns)
{
    Namespace *copy = malloc(sizeof(Namespace));
    if (copy)
        *copy = *ns;
    return copy;
}

Namespace *namespace_free(Namespace *ns)
{
    free(ns);
    return NULL;
}

static size_t name_hash(const char *s)
{
    size_t h = 14695981039346656037ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char) *s) * 1099511628211ULL;
    return h;
}

/* The slot holding name, or the empty slot where it would go. */
static size_t index_slot(Namespace *const *index, size_t size, const char *name)
{
    size_t h = name_hash(name) & (size - 1);
    while (index[h] && !streq(index[h]->name, name))
        h = (h + 1) & (size - 1);
    return h;
}

static int index_grow(NamespaceTable *t)
{
    size_t size = t->index_size ? t->index_size * 2 : INDEX_SIZE_MIN;
    Namespace **index = calloc(size, sizeof(Namespace *));
    if (!index)
        return -ENOMEM;
    for (size_t i = 0; i < t->n; i++)
        index[index_slot(index, size, t->items[i]->name)] = t->items[i];
    free(t->index);
    t->index = index;
    t->index_size = size;
    return 0;
}

int ns_table_add(NamespaceTable *t, Namespace *ns)
{
    if (ns_table_find(t, ns->name))
        return -EEXIST;
    if (2 * (t->n + 1) > t->index_size && index_grow(t) < 0)
        return -ENOMEM;
    if (t->n == t->allocated) {
        size_t allocated = t->allocated ? 2 * t->allocated : 16;
        Namespace **items = realloc(t->items, allocated * sizeof(Namespace *));
        if (!items)
            return -ENOMEM;
        t->items = items;
        t->allocated = allocated;
    }
    t->items[t->n++] = ns;
    t->index[index_slot(t->index, t->index_size, ns->name)] = ns;
    return 0;
}

/* Empties slot i and moves later entries of its probe run back, so that no
 * lookup stops early at the gap (deletion without tombstones). */
static void index_delete_slot(NamespaceTable *t, size_t i)
{
    size_t mask = t->index_size - 1;
    t->index[i] = NULL;
    for (size_t j = (i + 1) & mask; t->index[j]; j = (j + 1) & mask) {
        size_t home = name_hash(t->index[j]->name) & mask;
        /* Entry j may fill the gap at i unless its home lies in (i, j]. */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        t->index[i] = t->index[j];
        t->index[j] = NULL;
        i = j;
    }
}

void ns_table_remove(NamespaceTable *t, Namespace *ns)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->items[i] == ns) {
            memmove(&t->items[i], &t->items[i + 1], (t->n - i - 1) * sizeof(Namespace *));
            t->n--;
            break;
        }
    if (!t->index_size)
        return;
    size_t slot = index_slot(t->index, t->index_size, ns->name);
    if (t->index[slot] == ns)
        index_delete_slot(t, slot);
}

Namespace *ns_table_find(const NamespaceTable *t, const char *name)
{
    if (!t->index_size)
        return NULL;
    return t->index[index_slot(t->index, t->index_size, name)];
}

void ns_table_clear(NamespaceTable *t)
{
    free(t->items);
    free(t->index);
    *t = (NamespaceTable) {};
}
