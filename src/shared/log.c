/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
