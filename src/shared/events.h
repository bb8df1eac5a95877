/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The events vsocknsd logs for people and programs: each has a MESSAGE_ID=
 * (explained by `journalctl -x`, catalog/vsockns.catalog) and structured
 * fields NAMESPACE=, CID=, OWNER=, UID= where they apply, so that
 * `journalctl MESSAGE_ID=... CID=42` finds them.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define EVENT_NAMESPACE_CREATED "411e6a28fdb2433898647ce7139bfb2c"
#define EVENT_NAMESPACE_REMOVED "d110b4e678164e9d9b6eeac678304172"
#define EVENT_LEASE_ACQUIRED "3ae0c26d98a24688a017ecca7967c4cf"
#define EVENT_LEASE_RELEASED "61075a85b82f473cac64030729dfcaf3"
#define EVENT_LEASE_LOST "bf7af17370cb4d51981b1eaf89dc4514"
#define EVENT_LEASE_MOVED "3e8b83a12ad04e1383ff7ef309016029"
#define EVENT_PARENT_ADOPTED "db7ba558a5044e66925d9e5eb676db72"
#define EVENT_PARENT_REFUSED "7bef8b47f29d489f93dd4cf5cc60a633"
#define EVENT_AUTH_DENIED "0f8f0f38ccc34d5a82b678ca751d0649"
#define EVENT_UNIT_ATTACHED "3ab906de2de94240bc2fe78d96821c00"
#define EVENT_UNIT_DETACHED "125dcfe7d2cb4cbcbea2b17de5969506"
#define EVENT_VSOCK_CONNECTED "efe6c05363244f72912d0a6bc66c858a"

/* What an event is about; NULL strings, CID 0 and has_uid false are left out. */
typedef struct EventFields {
    const char *ns;
    uint32_t cid;
    const char *owner;
    bool has_uid;
    uid_t uid;
    const char *unit;  /* as OBJECT_SYSTEMD_UNIT=: journalctl -u UNIT shows it */
} EventFields;

/* Logs format at level: under journald as an entry with MESSAGE_ID=id and
 * the fields, elsewhere as a plain line. */
void log_event(int level, const char *id, EventFields f, const char *format, ...)
    __attribute__((format(printf, 4, 5)));
