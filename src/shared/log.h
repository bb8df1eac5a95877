/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Logging to stderr with sd-daemon priority prefixes, so journald keeps levels. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

void log_set_max_level(int level);
void log_set_prefix(bool use_priority_prefix);
int log_internal(int level, int error, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* log_*_errno() return -abs(error), so a caller can "return log_error_errno(...)". */
#define log_debug(...) log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_ERR, (e), __VA_ARGS__)

