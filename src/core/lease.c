/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lease.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "shared/macro.h"

char cid_held_outside_marker;
char cid_releasing_marker;

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

/* Decodes one UTF-8 sequence at s: its length, or 0 if it is not well
 * formed (overlong, a surrogate, beyond U+10FFFF, truncated). */
static size_t utf8_decode(const unsigned char *s, uint32_t *ret)
{
    static const uint32_t min_for_len[5] = { 0, 0, 0x80, 0x800, 0x10000 };
    size_t len;
    uint32_t c;
    if (s[0] < 0x80) {
        *ret = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0)
        len = 2, c = s[0] & 0x1f;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3, c = s[0] & 0x0f;
    else if ((s[0] & 0xf8) == 0xf0)
        len = 4, c = s[0] & 0x07;
    else
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the terminating NUL */
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if (c < min_for_len[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *ret = c;
    return len;
}

/* Characters that change how the text around them is shown: C0 and C1
 * controls, DEL, and the bidirectional formatting marks and overrides that
 * can make a label read as another in logs and `vsocknsctl leases`. */
static bool is_forbidden_char(uint32_t c)
{
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
           (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

const char *lease_owner_problem(const char *owner)
{
    if (strlen(owner) > LEASE_OWNER_MAX)
        return "the owner label is longer than 255 bytes";
    for (const unsigned char *p = (const unsigned char *) owner; *p;) {
        uint32_t c;
        size_t len = utf8_decode(p, &c);
        if (len == 0)
            return "the owner label is not valid UTF-8";
        if (is_forbidden_char(c))
            return c <= 0x9f ? "the owner label contains control characters"
                             : "the owner label contains bidirectional text controls";
        p += len;
    }
    return NULL;
}

bool lease_owner_root_only(const char *owner)
{
    return strncmp(owner, LEASE_OWNER_ROOT_PREFIX, strlen(LEASE_OWNER_ROOT_PREFIX)) == 0;
}

int lease_set_add(LeaseSet *set, Lease *l)
{
    if (set->n == set->allocated) {
        size_t want = set->allocated ? set->allocated * 2 : 8;
        Lease **grown = realloc(set->items, want * sizeof(Lease *));
        if (!grown)
            return -ENOMEM;
        set->items = grown;
        set->allocated = want;
    }
    l->set_slot = set->n;
    set->items[set->n++] = l;
    return 0;
}

void lease_set_remove(LeaseSet *set, Lease *l)
{
    /* The last one takes its slot: O(1), order does not matter here. */
    Lease *last = set->items[--set->n];
    set->items[l->set_slot] = last;
    last->set_slot = l->set_slot;
}

void lease_set_clear(LeaseSet *set)
{
    free(set->items);
    *set = (LeaseSet) {};
}

static int compare_by_cid(const void *a, const void *b)
{
    uint32_t x = (*(Lease *const *) a)->rec.cid, y = (*(Lease *const *) b)->rec.cid;
    return x < y ? -1 : x > y;
}

int lease_set_sorted(const LeaseSet *set, Lease ***ret, size_t *ret_n)
{
    *ret = NULL;
    *ret_n = 0;
    if (set->n == 0)
        return 0;
    Lease **copy = malloc(set->n * sizeof(Lease *));
    if (!copy)
        return -ENOMEM;
    memcpy(copy, set->items, set->n * sizeof(Lease *));
    qsort(copy, set->n, sizeof(Lease *), compare_by_cid);
    *ret = copy;
    *ret_n = set->n;
    return 0;
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

void lease_fd_name(const Lease *l, char *buf, size_t size)
{
    /* FDNAME allows no ':'; names never contain '-' before the CID digits. */
    snprintf(buf, size, "lease-%u-%s", l->rec.cid, l->rec.ns);
}
