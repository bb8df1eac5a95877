/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Asking polkit whether a D-Bus caller may do something, without blocking
 * the event loop: the first call of a method handler sends CheckAuthorization
 * (subject system-bus-name) and returns 0; when polkit answers, the same
 * method call is dispatched again (sd_bus_enqueue_for_read) and this time
 * polkit_check() returns the answer. Root passes without asking; any polkit
 * error, timeout, or a caller that has vanished means deny.
 *
 * Fair between users: at most 64 questions are out at once, 48 of them
 * interactive at most, and one uid may have 4 out, 1 of them interactive;
 * beyond that the call gets LimitsExceeded at once. Interactive questions
 * wait 90 s for an answer, others 25 s. Each question has a cancellation
 * id, and polkit is told to cancel it (CancelCheckAuthorization) when it
 * times out or its caller leaves the bus.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#define POLKIT_ACTION_MANAGE_NAMESPACES "org.vsockns1.manage-namespaces"
#define POLKIT_ACTION_MANAGE_LEASES "org.vsockns1.manage-leases"
#define POLKIT_ACTION_MANAGE_FOREIGN_LEASES "org.vsockns1.manage-foreign-leases"
#define POLKIT_ACTION_MANAGE_GLOBAL_LEASES "org.vsockns1.manage-global-leases"
#define POLKIT_ACTION_ATTACH_UNITS "org.vsockns1.attach-units"
#define POLKIT_ACTION_CONNECT "org.vsockns1.connect"

typedef struct PolkitRegistry PolkitRegistry;

PolkitRegistry *polkit_registry_new(void);
PolkitRegistry *polkit_registry_free(PolkitRegistry *reg);
/* How long a question waits for polkit, and how many may be out. */
typedef struct PolkitLimits {
    uint64_t timeout_usec, interactive_timeout_usec;
    unsigned out, interactive;              /* at once, in all */
    unsigned per_uid, interactive_per_uid;  /* at once, per uid */
} PolkitLimits;
/* Other limits than the defaults above (tests). */
void polkit_registry_set_limits(PolkitRegistry *reg, const PolkitLimits *limits);

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
    /* NULL, or a short word that tells apart two questions about the same
     * action (moving a unit: the namespace it joins, the one it leaves).
     * The answers are kept per action and label. */
    const char *label;
} PolkitAsk;
int polkit_check_all(PolkitRegistry *reg, sd_bus_message *m, const PolkitAsk *asks, size_t n_asks,
                     sd_bus_error *error);

/*
 * Whether the caller of m may do action, where a no is an answer and not
 * an error: what a caller may see (need-to-know.h). Never interactive, and
 * a no is not logged as a denial. Returns 1 with *allowed set once
 * answered (root: allowed, without asking; polkit unreachable: not
 * allowed), 0 while the question is out (as polkit_check()), < 0 with
 * error set if it cannot be asked now (the caps above).
 */
int polkit_test(PolkitRegistry *reg, sd_bus_message *m, const char *action, const char *const *details,
                bool *allowed, sd_bus_error *error);

/*
 * Whether m is a method call polkit_check() asked about and polkit has
 * answered: the call dispatched again, which the fair queue admitted once
 * already. Nothing read from the bus can be one: the registry holds a
 * reference on each call it asked about, and compares by identity.
 */
bool polkit_is_answered(PolkitRegistry *reg, sd_bus_message *m);
