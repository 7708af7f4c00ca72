/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Reads the records of one BPF ring buffer map from its memory mapping. */
#ifndef SNAPTRIG_RING_H
#define SNAPTRIG_RING_H

#include <stddef.h>

struct ring_reader {
	unsigned long *consumer;	/* the consumer page, which the reader writes */
	const unsigned long *producer;	/* the producer page, data pages after it */
	const unsigned char *data;	/* mapped twice, so no record wraps */
	size_t mask;			/* data size minus 1, since the size is a power of two */
	size_t release_bytes;		/* bytes consumed between stores of the position */
	size_t page_size;
	int map_fd;
	int (*handle)(void *ctx, void *data, size_t size);
	void *ctx;
};

/*
 * Maps the ring buffer map map_fd for reading, with handle(ctx, data, size)
 * called for every record. Returns 0 or -errno.
 */
int ring_reader_open(struct ring_reader *r, int map_fd,
		     int (*handle)(void *ctx, void *data, size_t size), void *ctx);

/*
 * Passes every committed record to the handler, oldest first. Returns the
 * number of records handled, or the handler's negative return value, which
 * stops the pass after its record.
 */
int ring_reader_consume(struct ring_reader *r);

/*
 * Consumes like ring_reader_consume() until every record reserved before the
 * call has been handled, trying up to tries times while one is still being
 * written. Returns 1 when that was reached, 0 when a record was still being
 * written, or the handler's negative return value.
 */
int ring_reader_drain(struct ring_reader *r, int tries);

/* Whether a record is reserved or committed that no pass has handled yet. */
int ring_reader_pending(const struct ring_reader *r);

/* Returns the fd to watch for EPOLLIN, the map's own, which is readable while data waits. */
int ring_reader_fd(const struct ring_reader *r);

void ring_reader_close(struct ring_reader *r);

#endif /* SNAPTRIG_RING_H */
