/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "cid-map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Level 0 nodes (leaves) hold 64 values; a node of level L covers 64^(L+1)
 * CIDs. Level 5 covers 2^36 > 2^32, so the root is level 5.
 *   present: which of the 64 slots exist (a child or a value)
 *   full:    which slots are completely taken (for a leaf: == present)
 *   slot[]:  popcount(present) entries, in slot order
 */
#define ROOT_LEVEL 5
#define SHIFT(level) (6 * (level))

struct CidNode {
    uint64_t present;
    uint64_t full;
    void *slot[];
};

static unsigned slot_index(uint32_t cid, int level)
{
    return (unsigned) (((uint64_t) cid >> SHIFT(level)) & 63);
}

static unsigned slot_pos(const CidNode *n, unsigned idx)
{
    return (unsigned) __builtin_popcountll(n->present & ((1ULL << idx) - 1));
}

void cid_map_init(CidMap *m)
{
    m->root = NULL;
    m->count = 0;
}

static void node_free(CidNode *n, int level)
{
    if (!n)
        return;
    if (level > 0) {
        unsigned k = (unsigned) __builtin_popcountll(n->present);
        for (unsigned i = 0; i < k; i++)
            node_free(n->slot[i], level - 1);
    }
    free(n);
}

void cid_map_clear(CidMap *m)
{
    node_free(m->root, ROOT_LEVEL);
    cid_map_init(m);
}

void *cid_map_get(const CidMap *m, uint32_t cid)
{
    const CidNode *n = m->root;
    for (int level = ROOT_LEVEL; n; level--) {
        unsigned idx = slot_index(cid, level);
        if (!(n->present & (1ULL << idx)))
            return NULL;
        void *child = n->slot[slot_pos(n, idx)];
        if (level == 0)
            return child;
        n = child;
    }
    return NULL;
}

/* Inserts an empty slot idx into *np, reallocating it. */
static int node_insert_slot(CidNode **np, unsigned idx, void *value)
{
    CidNode *n = *np;
    unsigned k = n ? (unsigned) __builtin_popcountll(n->present) : 0;
    CidNode *grown = realloc(n, sizeof(CidNode) + (k + 1) * sizeof(void *));
    if (!grown)
        return -ENOMEM;
    if (!n)
        grown->present = grown->full = 0;
    unsigned pos = slot_pos(grown, idx);
    memmove(&grown->slot[pos + 1], &grown->slot[pos], (k - pos) * sizeof(void *));
    grown->slot[pos] = value;
    grown->present |= 1ULL << idx;
    *np = grown;
    return 0;
}

static void node_delete_slot(CidNode **np, unsigned idx)
{
    CidNode *n = *np;
    unsigned k = (unsigned) __builtin_popcountll(n->present);
    unsigned pos = slot_pos(n, idx);
    memmove(&n->slot[pos], &n->slot[pos + 1], (k - pos - 1) * sizeof(void *));
    n->present &= ~(1ULL << idx);
    n->full &= ~(1ULL << idx);
    if (n->present == 0) {
        free(n);
        *np = NULL;
    }
}

/* Returns 1 if the subtree became full, 0 if not, < 0 on error. */
static int node_put(CidNode **np, int level, uint32_t cid, void *value)
{
    unsigned idx = slot_index(cid, level);
    int r;

    if (level == 0) {
        if (*np && ((*np)->present & (1ULL << idx)))
            return -EEXIST;
        r = node_insert_slot(np, idx, value);
        if (r < 0)
            return r;
        (*np)->full |= 1ULL << idx;
    } else {
        if (!*np || !((*np)->present & (1ULL << idx))) {
            r = node_insert_slot(np, idx, NULL);
            if (r < 0)
                return r;
        }
        CidNode **child = (CidNode **) &(*np)->slot[slot_pos(*np, idx)];
        r = node_put(child, level - 1, cid, value);
        if (r < 0) {
            if (!*child)
                node_delete_slot(np, idx);
            return r;
        }
        if (r > 0)
            (*np)->full |= 1ULL << idx;
    }
    return (*np)->full == UINT64_MAX;
}

int cid_map_put(CidMap *m, uint32_t cid, void *value)
{
    if (cid < CID_MIN || cid > CID_MAX)
        return -ERANGE;
    int r = node_put(&m->root, ROOT_LEVEL, cid, value);
    if (r < 0)
        return r;
    m->count++;
    return 0;
}

static void *node_remove(CidNode **np, int level, uint32_t cid)
{
    unsigned idx = slot_index(cid, level);
    if (!*np || !((*np)->present & (1ULL << idx)))
        return NULL;
    void **slot = &(*np)->slot[slot_pos(*np, idx)];
    void *value;
    if (level == 0) {
        value = *slot;
        node_delete_slot(np, idx);
        return value;
    }
    value = node_remove((CidNode **) slot, level - 1, cid);
    if (value) {
        (*np)->full &= ~(1ULL << idx);
        if (!*slot)
            node_delete_slot(np, idx);
    }
    return value;
}

void *cid_map_remove(CidMap *m, uint32_t cid)
{
    void *value = node_remove(&m->root, ROOT_LEVEL, cid);
    if (value)
        m->count--;
    return value;
}

/* First free CID >= from inside the subtree n (covering base..), or 0. */
static uint64_t node_next_free(const CidNode *n, int level, uint64_t base, uint64_t from)
{
    if (!n)
        return from;
    uint64_t span = 1ULL << SHIFT(level);
    for (unsigned idx = (unsigned) ((from - base) / span); idx < 64; idx++) {
        uint64_t child_base = base + idx * span;
        uint64_t start = from > child_base ? from : child_base;
        if (n->full & (1ULL << idx))
            continue;
        if (!(n->present & (1ULL << idx)))
            return start;
        if (level == 0)
            continue; /* unreachable: for leaves full == present */
        uint64_t r = node_next_free(n->slot[slot_pos(n, idx)], level - 1, child_base, start);
        if (r)
            return r;
    }
    return 0;
}

static uint32_t next_free_in(const CidMap *m, uint32_t from, uint32_t last)
{
    uint64_t r = node_next_free(m->root, ROOT_LEVEL, 0, from);
    return r && r <= last ? (uint32_t) r : 0;
}

uint32_t cid_map_next_free(const CidMap *m, uint32_t from)
{
    if (from < CID_MIN || from > CID_MAX)
        from = CID_MIN;
    uint32_t r = next_free_in(m, from, CID_MAX);
    if (!r && from > CID_MIN)
        r = next_free_in(m, CID_MIN, from - 1);
    return r;
}

static int node_foreach(const CidNode *n, int level, uint64_t base,
                        int (*fn)(uint32_t, void *, void *), void *userdata)
{
    uint64_t span = 1ULL << SHIFT(level);
    unsigned pos = 0;
    for (unsigned idx = 0; idx < 64; idx++) {
        if (!(n->present & (1ULL << idx)))
            continue;
        void *slot = n->slot[pos++];
        int r = level == 0 ? fn((uint32_t) (base + idx), slot, userdata)
                           : node_foreach(slot, level - 1, base + idx * span, fn, userdata);
        if (r < 0)
            return r;
    }
    return 0;
}

int cid_map_foreach(const CidMap *m, int (*fn)(uint32_t cid, void *value, void *userdata), void *userdata)
{
    return m->root ? node_foreach(m->root, ROOT_LEVEL, 0, fn, userdata) : 0;
}
