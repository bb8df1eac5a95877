/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CidMap: the CIDs of one CID space, mapped to what holds them.
 *
 * A 64-ary radix tree over the 32-bit CID space (6 levels). Each inner node
 * keeps a bitmask of children that are completely full, so "the first free
 * CID at or after X" walks at most one path down and back: the cost of
 * picking a CID does not grow with the number of CIDs taken (libvirt probes
 * them one by one from 3). Children are stored compactly (only the present
 * ones), so a sparse space costs little memory.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CID_MIN 3U           /* 0-2: hypervisor, local, host */
#define CID_MAX 0xfffffffeU  /* 0xffffffff: VMADDR_CID_ANY */

typedef struct CidNode CidNode;

typedef struct CidMap {
    CidNode *root;
    size_t count;
} CidMap;

void cid_map_init(CidMap *m);
void cid_map_clear(CidMap *m);

/* NULL if free. */
void *cid_map_get(const CidMap *m, uint32_t cid);
/* -EEXIST if taken, -ERANGE outside CID_MIN..CID_MAX, -ENOMEM. value != NULL. */
int cid_map_put(CidMap *m, uint32_t cid, void *value);
/* Returns the value that was there, or NULL. */
void *cid_map_remove(CidMap *m, uint32_t cid);

/* The first free CID >= from (wrapping around to CID_MIN once), or 0 when
 * the space is full. */
uint32_t cid_map_next_free(const CidMap *m, uint32_t from);

/* Calls fn for each taken CID in ascending order; stops if fn returns < 0. */
int cid_map_foreach(const CidMap *m, int (*fn)(uint32_t cid, void *value, void *userdata), void *userdata);
