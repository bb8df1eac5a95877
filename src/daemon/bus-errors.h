/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* D-Bus error names of org.vsockns1: the failures a caller can expect, and
 * how the core's error kinds map to them. */
#pragma once

#include "core/errors.h"

#define VSOCKNS_ERROR(n) "org.vsockns1.Error." n

#define BUS_ERROR_NO_SUCH_NAMESPACE VSOCKNS_ERROR("NoSuchNamespace")
#define BUS_ERROR_NAMESPACE_EXISTS VSOCKNS_ERROR("NamespaceExists")
#define BUS_ERROR_INVALID_NAME VSOCKNS_ERROR("InvalidName")
#define BUS_ERROR_INVALID_MODE VSOCKNS_ERROR("InvalidMode")
#define BUS_ERROR_INVALID_OPTION VSOCKNS_ERROR("InvalidOption")
#define BUS_ERROR_INVALID_PARENT VSOCKNS_ERROR("InvalidParent")
#define BUS_ERROR_NOT_SUPPORTED VSOCKNS_ERROR("NotSupported")
#define BUS_ERROR_MODE_LOCKED VSOCKNS_ERROR("ModeLocked")
#define BUS_ERROR_MODE_MISMATCH VSOCKNS_ERROR("ModeMismatch")
#define BUS_ERROR_NAMESPACE_BUSY VSOCKNS_ERROR("NamespaceBusy")
#define BUS_ERROR_LIMIT_REACHED VSOCKNS_ERROR("LimitReached")
#define BUS_ERROR_ACCESS_DENIED VSOCKNS_ERROR("AccessDenied")
#define BUS_ERROR_KERNEL VSOCKNS_ERROR("KernelError")
#define BUS_ERROR_INVALID_CID VSOCKNS_ERROR("InvalidCid")
#define BUS_ERROR_INVALID_OWNER VSOCKNS_ERROR("InvalidOwner")
#define BUS_ERROR_CID_IN_USE VSOCKNS_ERROR("CidInUse")
#define BUS_ERROR_NO_FREE_CID VSOCKNS_ERROR("NoFreeCid")
#define BUS_ERROR_NO_SUCH_LEASE VSOCKNS_ERROR("NoSuchLease")
#define BUS_ERROR_QUOTA_EXCEEDED VSOCKNS_ERROR("QuotaExceeded")
/* ConnectVsock: what the kernel answered a connect. */
#define BUS_ERROR_CONNECTION_REFUSED VSOCKNS_ERROR("ConnectionRefused")
#define BUS_ERROR_NO_DEVICE VSOCKNS_ERROR("NoDevice")
#define BUS_ERROR_TIMED_OUT VSOCKNS_ERROR("TimedOut")
/* AttachUnit and DetachUnit, which the bus layer does itself: a unit with
 * no drop-in of ours, and a drop-in that could not be written or removed or
 * that systemd did not reload for. */
#define BUS_ERROR_NOT_ATTACHED VSOCKNS_ERROR("NotAttached")
#define BUS_ERROR_UNIT_FILE VSOCKNS_ERROR("UnitFileError")

/* The D-Bus error name of an error kind; NULL for ERROR_NONE. */
const char *bus_error_name(ErrorKind kind);
