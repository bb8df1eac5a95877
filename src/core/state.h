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
    Namespace **namespaces;   /* each its own object (namespace_new()) */
    size_t n_namespaces;
} State;

/* Frees the array and every namespace still in it. */
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
/* ... and the inode of the file written (ret_ino may be NULL). */
int write_file_atomic_ino(const char *dir, const char *name, const char *content, mode_t mode, uint64_t *ret_ino);
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
/* Writes the lease's file; l->file_ino gets its inode (0 on failure). */
int lease_record_save(const char *dir, LeaseRecord *l);
int lease_record_remove(const char *dir, const LeaseRecord *l);
/* 0 if a record's fields are what AcquireLease could have made; -EINVAL. */
int lease_record_check(const LeaseRecord *l);
/* All lease files; unreadable ones, ones with a field of the wrong type and
 * ones whose name does not match their contents are counted in *ret_dropped.
 * Each record's file_ino is the inode of its file. */
int lease_records_load(const char *dir, LeaseRecord **ret, size_t *ret_n, size_t *ret_dropped);

/*
 * The same, where copies of records are kept elsewhere (the fd store's
 * vaults, next to their fds): known() is asked for each file, by the CID
 * and namespace its name gives and its inode number, and may give the copy
 * it has of that file's record; a copy whose file_ino is that inode and
 * that names that file is taken instead
 * of reading the file. Every rewrite of a lease file makes a new inode
 * (temp file, rename), so a copy of an older version never matches. Only on
 * a tmpfs (as /run), where inode numbers are not reused. *ret_copies (may
 * be NULL): how many records were copies, not read from their file.
 */
typedef bool (*lease_known_fn)(void *userdata, uint32_t cid, const char *ns, uint64_t ino, LeaseRecord *ret);
int lease_records_load_known(const char *dir, lease_known_fn known, void *userdata, LeaseRecord **ret,
                             size_t *ret_n, size_t *ret_dropped, size_t *ret_copies);

/* The fd store's form of a record (fixed-width fields, file_ino included):
 * pack returns its size (0 if buf is too small); unpack checks it as a file
 * is checked (-EBADMSG). */
#define LEASE_RECORD_PACKED_MAX 512
size_t lease_record_pack(const LeaseRecord *l, void *buf, size_t size);
int lease_record_unpack(const void *buf, size_t size, LeaseRecord *ret);
