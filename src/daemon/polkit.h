/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Asking polkit whether a D-Bus caller may do something, without blocking
 * the event loop: the first call of a method handler sends CheckAuthorization
 * (subject system-bus-name) and returns 0; when polkit answers, the same
 * method call is dispatched again (sd_bus_enqueue_for_read) and this time
 * polkit_check() returns the answer. Root passes without asking; any polkit
 * error, timeout, or a caller that has vanished means deny.
 */
#pragma once

#include <stdbool.h>
#include <systemd/sd-bus.h>

#define POLKIT_ACTION_MANAGE_NAMESPACES "org.vsockns1.manage-namespaces"
#define POLKIT_ACTION_MANAGE_LEASES "org.vsockns1.manage-leases"
#define POLKIT_ACTION_MANAGE_FOREIGN_LEASES "org.vsockns1.manage-foreign-leases"

typedef struct PolkitRegistry PolkitRegistry;

PolkitRegistry *polkit_registry_new(void);
PolkitRegistry *polkit_registry_free(PolkitRegistry *reg);

/*
 * details: NULL or a NULL-terminated list of key, value pairs that rules
 * can match (action.lookup("namespace")). Returns 1 if allowed; 0 if the
 * question is out (the handler returns 1 at once and does nothing else: it
 * runs again with the answer); < 0 with error set (AccessDenied, or
 * InteractiveAuthorizationRequired) if denied.
 */
int polkit_check(PolkitRegistry *reg, sd_bus_message *m, const char *action, const char *const *details,
                 sd_bus_error *error);

/*
 * A method that needs several actions (a forced delete ending other users'
 * leases: manage-namespaces and manage-foreign-leases) asks them in turn,
 * one question out at a time, the method call dispatched again after each
 * answer; the answers are kept until the last is in. Returns as
 * polkit_check(): 1 once every action is allowed, 0 while a question is
 * out, < 0 at the first denial.
 *
 * An answer counts only for the details it was asked with: the handler
 * computes them again each time round, and if they changed meanwhile (a
 * lease that changed hands during a password prompt), polkit is asked
 * again.
 */
typedef struct PolkitAsk {
    const char *action;
    const char *const *details;
} PolkitAsk;
int polkit_check_all(PolkitRegistry *reg, sd_bus_message *m, const PolkitAsk *asks, size_t n_asks,
                     sd_bus_error *error);

/*
 * Whether m is a method call polkit_check() asked about and polkit has
 * answered: the call dispatched again, which the fair queue admitted once
 * already. Nothing read from the bus can be one: the registry holds a
 * reference on each call it asked about, and compares by identity.
 */
bool polkit_is_answered(PolkitRegistry *reg, sd_bus_message *m);
