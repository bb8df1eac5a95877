/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bus layer without a bus daemon: a direct sd-bus connection between
 * the daemon's end and a peer (the caller, and whatever service the daemon
 * calls: polkit, systemd), both on one sd-event loop. On a direct
 * connection a call without a sender is the peer's (its credentials are
 * the socket's); a peer given a unique name (bus_pair_open()'s sender)
 * sends calls as that name, as if through a bus, whose credentials the
 * daemon's end cannot ask for.
 */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

typedef struct BusPair {
    sd_event *event;
    sd_bus *daemon, *peer;
} BusPair;

/* sender: NULL, or a unique name (":1.42") the peer's calls carry. */
void bus_pair_open(BusPair *p, const char *sender);
void bus_pair_close(BusPair *p);

/* Runs the loop until *done, or for at most timeout_usec; returns *done. */
bool bus_pair_run_until(BusPair *p, const bool *done, uint64_t timeout_usec);
/* Runs the loop for usec, whatever happens. */
void bus_pair_run_for(BusPair *p, uint64_t usec);

/* A method call from the peer to the daemon's end that waits for its
 * reply (the loop runs meanwhile); returns it, NULL on timeout. */
sd_bus_message *bus_pair_call(BusPair *p, sd_bus_message *call);
