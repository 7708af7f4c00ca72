// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The histograms are our own code: they are updated for every line of a
 * flood, so an update is a shift and an increment, and no Debian library
 * offers a fixed-size log-linear histogram in C.
 */
#include <stdint.h>
#include <stdlib.h>
#include "triggers.h"
#include "latency.h"

#define SUB (1u << LATENCY_SUB_BITS)
#define OVERFLOW_BUCKET (LATENCY_BUCKETS - 1)

unsigned int latency_bucket(__u64 ns)
{
	unsigned int top;

	if (ns < SUB)
		return (unsigned int)ns;
	top = 63 - (unsigned int)__builtin_clzll(ns);
	if (top > LATENCY_TOP_BIT)
		return OVERFLOW_BUCKET;
	return ((top - LATENCY_SUB_BITS + 1) << LATENCY_SUB_BITS) +
	       (unsigned int)((ns >> (top - LATENCY_SUB_BITS)) & (SUB - 1));
}

__u64 latency_bucket_top(unsigned int bucket)
{
	unsigned int top, shift;
	__u64 low;

	if (bucket < SUB)
		return bucket;
	if (bucket >= OVERFLOW_BUCKET)
		return UINT64_MAX;
	top = (bucket >> LATENCY_SUB_BITS) + LATENCY_SUB_BITS - 1;
	shift = top - LATENCY_SUB_BITS;
	low = (__u64)(SUB + (bucket & (SUB - 1))) << shift;
	return low + ((1ULL << shift) - 1);
}

void latency_add(struct latency_set *set, unsigned int kind, __u64 ns)
{
	struct latency_hist *h = set->kinds[kind];

	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h)
			return;
		set->kinds[kind] = h;
	}
	h->count++;
	h->buckets[latency_bucket(ns)]++;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

__u64 latency_percentile(const struct latency_hist *h, unsigned int percent)
{
	__u64 rank, seen = 0;
	unsigned int i;

	if (!h || !h->count)
		return 0;
	/* the smallest delay with at least percent of the delays at or below it */
	rank = (h->count * percent + 99) / 100;
	if (!rank)
		rank = 1;
	for (i = 0; i < LATENCY_BUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank)
			break;
	}
	if (i == LATENCY_BUCKETS || latency_bucket_top(i) > h->max_ns)
		return h->max_ns;
	return latency_bucket_top(i);
}

const char *latency_kind_name(unsigned int kind)
{
	if (kind == LATENCY_EXEC)
		return "exec";
	if (kind == LATENCY_EXIT)
		return "exit";
	return trigger_name((enum st_trigger)kind);
}

static void key_u64(struct json_writer *w, const char *key, __u64 v)
{
	json_key(w, key);
	json_u64(w, v);
}

void latency_write_json(const struct latency_set *set, struct json_writer *w)
{
	unsigned int kind;

	json_object_begin(w);
	for (kind = 0; kind < LATENCY_KINDS; kind++) {
		const struct latency_hist *h = set->kinds[kind];

		if (!h || !h->count)
			continue;
		json_key(w, latency_kind_name(kind));
		json_object_begin(w);
		key_u64(w, "lines", h->count);
		key_u64(w, "p50_ns", latency_percentile(h, 50));
		key_u64(w, "p99_ns", latency_percentile(h, 99));
		key_u64(w, "max_ns", h->max_ns);
		json_object_end(w);
	}
	json_object_end(w);
}

void latency_free(struct latency_set *set)
{
	unsigned int kind;

	for (kind = 0; kind < LATENCY_KINDS; kind++) {
		free(set->kinds[kind]);
		set->kinds[kind] = NULL;
	}
}
