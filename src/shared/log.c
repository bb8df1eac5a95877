/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include "events.h"

static int max_level = LOG_INFO;
static bool priority_prefix = true;

void log_set_max_level(int level)
{
    max_level = level;
}

void log_set_prefix(bool use_priority_prefix)
{
    priority_prefix = use_priority_prefix;
}

int log_internal(int level, int error, const char *format, ...)
{
    int saved = errno;
    if (error < 0)
        error = -error;

    if (level <= max_level) {
        char buf[2048];
        va_list ap;

        /* %m in the format means the error passed in, as in systemd. */
        errno = error;
        va_start(ap, format);
        vsnprintf(buf, sizeof(buf), format, ap);
        va_end(ap);
        if (priority_prefix)
            fprintf(stderr, "<%d>%s\n", level, buf);
        else
            fprintf(stderr, "%s\n", buf);
    }
    errno = saved;
    return -error;
}

/* One journal field: "NAME=value" into buf, then into the next iovec. */
static void add_field(struct iovec *iov, int *n, char *buf, size_t size, const char *format, ...)
    __attribute__((format(printf, 5, 6)));

static void add_field(struct iovec *iov, int *n, char *buf, size_t size, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    int len = vsnprintf(buf, size, format, ap);
    va_end(ap);
    iov[(*n)++] = (struct iovec) { .iov_base = buf, .iov_len = len < (int) size ? (size_t) len : size - 1 };
}

void log_event(int level, const char *id, EventFields f, const char *format, ...)
{
    if (level > max_level)
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, format);
    vsnprintf(msg, sizeof(msg), format, ap);
    va_end(ap);
    /* Under journald (the prefix is on exactly then): a structured entry. */
    if (priority_prefix) {
        char b_msg[2100], b_id[64], b_prio[32], b_ns[96], b_cid[32], b_owner[300], b_uid[32], b_unit[300];
        struct iovec iov[8];
        int n = 0;
        add_field(iov, &n, b_msg, sizeof(b_msg), "MESSAGE=%s", msg);
        add_field(iov, &n, b_id, sizeof(b_id), "MESSAGE_ID=%s", id);
        add_field(iov, &n, b_prio, sizeof(b_prio), "PRIORITY=%d", level);
        if (f.ns)
            add_field(iov, &n, b_ns, sizeof(b_ns), "NAMESPACE=%s", f.ns);
        if (f.cid > 0)
            add_field(iov, &n, b_cid, sizeof(b_cid), "CID=%u", f.cid);
        if (f.owner)
            add_field(iov, &n, b_owner, sizeof(b_owner), "OWNER=%s", f.owner);
        if (f.has_uid)
            add_field(iov, &n, b_uid, sizeof(b_uid), "UID=%u", (unsigned) f.uid);
        if (f.unit)
            add_field(iov, &n, b_unit, sizeof(b_unit), "OBJECT_SYSTEMD_UNIT=%s", f.unit);
        if (sd_journal_sendv(iov, n) >= 0)
            return;
    }
    log_internal(level, 0, "%s", msg);
}
