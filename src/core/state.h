/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's runtime state in /run/vsockns: JSON (json-c), written atomically. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "namespace.h"

#define STATE_FILE "namespaces.json"
#define STATE_VERSION 1

#define LEASES_DIR "leases"
/* No state file of ours is anywhere near this; a bigger one is not ours. */
#define STATE_FILE_SIZE_MAX (16 * 1024 * 1024)

/* namespaces.json: the managed namespaces. Leases live one file each in
 * leases/ (CID@NAMESPACE.json), so taking or ending one costs the same
 * however many others exist. */
typedef struct State {
    Namespace *namespaces;
    size_t n_namespaces;
} State;

void state_free(State *s);

/* Serialises the state; returns a malloc'd string or NULL (-ENOMEM). */
char *state_to_json(const State *s);
/* Parses state_to_json()'s output. Entries that do not validate are dropped
 * (and counted in *ret_dropped); a document that does not parse is -EBADMSG. */
int state_from_json(const char *text, State *ret, size_t *ret_dropped);

/* Temp file, fsync, rename, fsync of the directory: a crash leaves the old
 * file or the new one, never a torn one. */
int write_file_atomic(const char *dir, const char *name, const char *content);
/* The same with another mode than 0600 (unit drop-ins: 0644). */
int write_file_atomic_mode(const char *dir, const char *name, const char *content, mode_t mode);
/* Creates dir (0700) or checks that it is a real directory of ours, mode
 * 0700: the state names callers' uids and pids and decides what we adopt,
 * so nobody else may write or plant anything there. On failure problem
 * says why, for the refusal in the log. */
int state_dir_prepare(const char *dir, char *problem, size_t size);
int state_save(const char *dir, const State *s);
/* -ENOENT when there is no state yet. */
int state_load(const char *dir, State *ret, size_t *ret_dropped);

char *lease_record_to_json(const LeaseRecord *l);
int lease_record_from_json(const char *text, LeaseRecord *ret);
int lease_record_save(const char *dir, const LeaseRecord *l);
int lease_record_remove(const char *dir, const LeaseRecord *l);
/* All lease files; unreadable ones, ones with a field of the wrong type and
 * ones whose name does not match their contents are counted in *ret_dropped. */
int lease_records_load(const char *dir, LeaseRecord **ret, size_t *ret_n, size_t *ret_dropped);
