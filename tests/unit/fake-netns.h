/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A fake of the namespace operations (NetnsOps) for unit tests: pins are
 * entries in a table (path -> placeholder or namespace, with an identity),
 * namespaces are numbers, held namespace fds are real eventfds so closing
 * them is real. Tests plant, swap and remove pins behind the manager's back.
 */
#pragma once

#include <stdbool.h>

#include "core/netns.h"

#define FAKE_PINS_MAX 64

typedef struct FakePin {
    char path[256];
    bool is_ns;
    NetnsId id;
} FakePin;

typedef struct FakeNetns {
    FakePin pins[FAKE_PINS_MAX];
    size_t n_pins;
    uint64_t next_ino;
    const char *made_mode;     /* what the kernel gives new namespaces ("local"/"global") */
    const char *state_dir;     /* to copy namespaces.json when a namespace is made */
    char state_at_made[4096];  /* ... here: what a crash at that moment would leave */
    unsigned creates, unpins;
} FakeNetns;

extern const NetnsOps fake_netns_ops;

void fake_netns_init(FakeNetns *f, const char *state_dir);
/* Plants what `ip netns add` or `touch` would: a new namespace or a bare
 * file at path (replacing whatever was there). Returns its identity. */
NetnsId fake_netns_plant(FakeNetns *f, const char *path, bool is_ns);
FakePin *fake_netns_find(FakeNetns *f, const char *path);
void fake_netns_remove(FakeNetns *f, const char *path);
