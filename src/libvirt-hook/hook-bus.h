/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* HookBusOps on the system bus (sd-bus), each call bounded by a timeout. */
#pragma once

#include "hook.h"

typedef struct HookBus HookBus;

/* Connects lazily, on the first call: operations that need no answer from
 * vsockns never touch the bus. */
HookBus *hook_bus_new(unsigned timeout_ms);
HookBus *hook_bus_free(HookBus *b);

extern const HookBusOps hook_bus_ops;
