/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Names of calls, signals and record kinds as they appear in the output. */
#ifndef SNAPTRIG_NAMES_H
#define SNAPTRIG_NAMES_H

#include "snaptrig_abi.h"

/* Name of an st_call, or NULL when out of range. */
const char *call_name(__u32 call);
/* Name of an st_via path ("syscall", "ia32", "io_uring"). */
const char *via_name(__u32 via);
/* Name of a record kind for lost counts ("listen", "exit", ...), or NULL. */
const char *record_kind_name(__u32 kind);
/* "SIGINT" and the like; NULL for numbers without a name. */
const char *signal_name(int sig);
/* Name of a TRACE_SIGNAL_* result of signal_generate. */
const char *signal_result_name(__u32 result);

#endif
