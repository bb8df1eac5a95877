/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fair service between callers. Method calls arrive in one stream, in the
 * order the bus delivers them; a caller that sends calls as fast as it can
 * (and perhaps never reads the replies) would otherwise have everyone else
 * wait behind its backlog. A bus filter takes every incoming method call
 * into a queue per sender, and the loop hands them to the object handlers
 * one at a time, round-robin over the senders: with N callers busy, each
 * gets one call in N. A sender with FAIR_QUEUE_PER_SENDER calls already
 * waiting gets LimitsExceeded at once (cheap), so a flood costs little.
 */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#define FAIR_QUEUE_PER_SENDER 64

typedef struct FairQueue FairQueue;

int fair_queue_attach(sd_bus *bus, sd_event *event, FairQueue **ret);
FairQueue *fair_queue_free(FairQueue *q);
