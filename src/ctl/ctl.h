/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the vsocknsctl verb files share: options, bus names, output helpers. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#define BUS_NAME "org.vsockns1"
#define MANAGER_PATH "/org/vsockns1"
#define MANAGER_IFACE "org.vsockns1.Manager"
#define NAMESPACE_IFACE "org.vsockns1.Namespace"

enum { EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_NO_SUCH = 4, EXIT_UNAVAILABLE = 5 };
/* connect: how the connection ended, or why there was none (vsocknsctl(1)). */
enum { EXIT_REFUSED = 10, EXIT_RESET = 11, EXIT_UNREACHABLE = 12, EXIT_DENIED = 13, EXIT_TIMED_OUT = 14 };

extern bool arg_json;
extern const char *arg_cid;      /* NULL or "auto": pick */
extern const char *arg_owner;
extern const char *arg_strategy;
extern bool arg_no_reserve;
extern bool arg_persist;
extern const char *arg_expect[8];  /* check --expect PATH=reachable|unreachable */
extern size_t arg_n_expect;

/* Where vsocknsd pins namespace NAME (its object's Path property; never
 * assumed): a malloc()ed path, or NULL with the error printed. */
char *namespace_pin_path(sd_bus *bus, const char *name);

/* Prints the error and maps it to an exit status. */
int report_bus_error(const sd_bus_error *error, int r);
void print_json(json_object *o);
void format_timestamp(uint64_t usec, char *buf, size_t size);
/* Ends a list verb: the JSON array, or the table's count line ("3 leases
 * listed."); r < 0 reports a parse error. Takes arr. */
int finish_list(json_object *arr, int r, size_t n, const char *what);

/* polkit-agent.c: a password prompt on a terminal (pkttyagent). */
void polkit_agent_open_if_tty(sd_bus *bus);
void polkit_agent_close(void);

int verb_leases(sd_bus *bus, int argc, char **argv);
int verb_acquire(sd_bus *bus, int argc, char **argv);
int verb_release(sd_bus *bus, int argc, char **argv);
int verb_exec(sd_bus *bus, int argc, char **argv);
int verb_check_leases(sd_bus *bus, int argc, char **argv);
int verb_bind(sd_bus *bus, int argc, char **argv);
int verb_sockets(sd_bus *bus, int argc, char **argv);
int verb_check(sd_bus *bus, int argc, char **argv);
int verb_connect(sd_bus *bus, int argc, char **argv);
