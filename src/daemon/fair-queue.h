/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Fair service between callers. Method calls arrive in one stream, in the
 * order the bus delivers them; a caller that sends calls as fast as it can
 * (and perhaps never reads the replies) would otherwise have everyone else
 * wait behind its backlog. A bus filter takes every incoming method call
 * into a queue per sender, and hands them on to the object handlers one
 * at a time, round-robin over the senders: with N callers busy, each gets
 * one call in N. The next call is handed on when the bus has read all that
 * waits on its socket, or after FAIR_QUEUE_READ_AHEAD more calls were read.
 * A sender with FAIR_QUEUE_PER_SENDER calls, or FAIR_QUEUE_SENDER_BYTES
 * bytes of calls, already waiting gets LimitsExceeded at once (cheap); one that goes on calling after that many
 * refusals is not reading its replies, and its further calls are dropped
 * unanswered while its backlog stays full (so are they while replies wait
 * to be written): they count against its pending
 * replies on the bus, which then refuses its calls itself, so a flood
 * stops reaching vsocknsd.
 * No call is handed on while replies wait to be written (the bus is
 * reading them slower than they are made): they would pile up in our
 * memory; the queue tries again every FAIR_QUEUE_RETRY_USEC.
 * What a call weighs is found by a walk over its values that stops at
 * FAIR_QUEUE_CALL_VALUES: every string's length, FAIR_QUEUE_FD_WEIGHT for
 * an fd (so a backlog holds at most 64 of them) and 8 bytes for any other
 * value. The limits are per sender, which is a bus connection: a user
 * with many connections has as many queues (the bus caps connections per
 * user). No method of ours takes more than a few dozen values or a few
 * kilobytes, so a call with more values, or heavier than
 * FAIR_QUEUE_CALL_BYTES, is refused (LimitsExceeded) before it is kept:
 * a caller cannot make vsocknsd hold big messages, waiting or while
 * polkit is asked about them (polkit.h caps those by number).
 * A call that polkit.c dispatches again once polkit has answered was
 * admitted (and waited its turn) when it first came: it goes straight on
 * to the handlers, neither counted nor refused a second time.
 */
#pragma once

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "polkit.h"

#define FAIR_QUEUE_PER_SENDER 64
#define FAIR_QUEUE_SENDER_BYTES (256 * 1024)
#define FAIR_QUEUE_CALL_BYTES (64 * 1024)
#define FAIR_QUEUE_CALL_VALUES 256
#define FAIR_QUEUE_FD_WEIGHT 4096
/* While calls keep arriving, one is handed on per this many read. */
#define FAIR_QUEUE_READ_AHEAD 8
/* How soon to look again when replies are waiting to be written. */
#define FAIR_QUEUE_RETRY_USEC 1000

typedef struct FairQueue FairQueue;

/* polkit: the registry whose answered calls pass (NULL: none); it must
 * outlive the queue. */
int fair_queue_attach(sd_bus *bus, sd_event *event, PolkitRegistry *polkit, FairQueue **ret);
FairQueue *fair_queue_free(FairQueue *q);
