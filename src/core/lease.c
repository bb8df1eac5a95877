/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "shared/macro.h"

char cid_held_outside_marker;

LeaseStrategy lease_strategy_from_string(const char *s)
{
    if (!s || streq(s, "lowest"))
        return LEASE_STRATEGY_LOWEST;
    if (streq(s, "random"))
        return LEASE_STRATEGY_RANDOM;
    if (streq(s, "stable"))
        return LEASE_STRATEGY_STABLE;
    return LEASE_STRATEGY_INVALID;
}

/* FNV-1a: small, stable across runs and versions (the point of "stable"). */
static uint32_t hash_label(const char *s)
{
    uint32_t h = 2166136261U;
    for (; *s; s++) {
        h ^= (uint8_t) *s;
        h *= 16777619U;
    }
    return h;
}

uint32_t lease_pick_start(LeaseStrategy s, const char *owner)
{
    const uint32_t range = CID_MAX - CID_MIN + 1;
    uint32_t x;

    switch (s) {
    case LEASE_STRATEGY_RANDOM:
        if (getrandom(&x, sizeof(x), 0) != sizeof(x))
            x = (uint32_t) random();
        return CID_MIN + x % range;
    case LEASE_STRATEGY_STABLE:
        return CID_MIN + hash_label(owner ? owner : "") % range;
    default:
        return CID_MIN;
    }
}

const char *lease_owner_problem(const char *owner)
{
    if (strlen(owner) > LEASE_OWNER_MAX)
        return "the owner label is longer than 255 bytes";
    for (const char *p = owner; *p; p++)
        if ((unsigned char) *p < 0x20 || *p == 0x7f)
            return "the owner label contains control characters";
    return NULL;
}

CidSpace *cid_space_new(const char *key)
{
    CidSpace *space = calloc(1, sizeof(CidSpace));
    if (!space)
        return NULL;
    snprintf(space->key, sizeof(space->key), "%s", key);
    cid_map_init(&space->map);
    return space;
}

CidSpace *cid_space_free(CidSpace *space)
{
    if (space) {
        cid_map_clear(&space->map);
        free(space);
    }
    return NULL;
}
