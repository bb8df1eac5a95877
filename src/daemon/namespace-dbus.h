/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.vsockns1.Namespace: one object per managed namespace. */
#pragma once

#include <systemd/sd-bus.h>

#include "core/manager.h"

int namespace_dbus_register(sd_bus *bus, Manager *m);
