/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon's runtime state in /run/vsockns: JSON (json-c), written atomically. */
#pragma once

#include <stddef.h>

#include "namespace.h"

#define STATE_FILE "namespaces.json"
#define STATE_VERSION 1

/* Serialises n namespaces; returns a malloc'd string or NULL (-ENOMEM). */
char *state_to_json(const Namespace *list, size_t n);
/* Parses state_to_json()'s output. Entries that do not validate are dropped
 * (and counted in *ret_dropped); a document that does not parse is -EBADMSG. */
int state_from_json(const char *text, Namespace **ret_list, size_t *ret_n, size_t *ret_dropped);

/* Temp file, fsync, rename, fsync of the directory: a crash leaves the old
 * file or the new one, never a torn one. */
int write_file_atomic(const char *dir, const char *name, const char *content);
int state_save(const char *dir, const Namespace *list, size_t n);
/* -ENOENT when there is no state yet. */
int state_load(const char *dir, Namespace **ret_list, size_t *ret_n, size_t *ret_dropped);
