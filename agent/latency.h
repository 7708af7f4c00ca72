/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * How long lines took from the kernel to the output: for each line made from
 * a kernel record, the time from the record's boot_ns to the return of the
 * write(2) that carried the line. One histogram per trigger, one for exec
 * lines and one for exit lines, so that a coalesced trigger's delay does not
 * hide in the figures of a signal.
 *
 * A histogram has 16 buckets for each power of two. So a percentile is at
 * most 1/16 (6.25 %) above the true value, and the maximum is exact.
 */
#ifndef SNAPTRIG_LATENCY_H
#define SNAPTRIG_LATENCY_H

#include <linux/types.h>
#include <snaptrig_abi.h>
#include "json.h"

enum latency_kind {
	LATENCY_EXEC = ST_TRIG_COUNT,	/* trigger kinds are the st_trigger values */
	LATENCY_EXIT,
	LATENCY_KINDS,
};

#define LATENCY_SUB_BITS 4
#define LATENCY_TOP_BIT 42	/* values from 2^42 ns (73 min) on share the last bucket */
/* 2^SUB_BITS exact buckets below 2^SUB_BITS, 2^SUB_BITS per power of two up to TOP_BIT, one past it */
#define LATENCY_BUCKETS (((LATENCY_TOP_BIT - LATENCY_SUB_BITS + 2) << LATENCY_SUB_BITS) + 1)

struct latency_hist {
	__u64 count;
	__u64 max_ns;
	__u64 buckets[LATENCY_BUCKETS];
};

struct latency_set {
	struct latency_hist *kinds[LATENCY_KINDS];	/* NULL until a line of that kind */
};

/* The name of kind in output lines: a trigger's name, "exec" or "exit". */
const char *latency_kind_name(unsigned int kind);
/* The bucket of a delay, and the largest delay that bucket holds. */
unsigned int latency_bucket(__u64 ns);
__u64 latency_bucket_top(unsigned int bucket);

/* Counts one delay of kind, an st_trigger or a latency_kind. A failed allocation drops it. */
void latency_add(struct latency_set *set, unsigned int kind, __u64 ns);
/* The smallest bucket top at or above percent of the delays, at most the maximum. */
__u64 latency_percentile(const struct latency_hist *h, unsigned int percent);
/*
 * Writes an object with a member for each kind that has delays:
 * {"sigalrm":{"lines":N,"p50_ns":N,"p99_ns":N,"max_ns":N},...}.
 */
void latency_write_json(const struct latency_set *set, struct json_writer *w);
void latency_free(struct latency_set *set);

#endif
