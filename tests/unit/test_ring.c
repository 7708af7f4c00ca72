// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Unit tests of agent/ring.c. The record walk runs over a layout built in
 * memory with the kernel's header format, so that busy, discarded and
 * wrapping records can be placed at will. The mapping tests use a real ring
 * buffer map.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "ring.h"

#define DATA_SIZE (128 * 1024)	/* twice the reader's release interval */
#define MAX_SEEN 4096

/* A ring laid out as the kernel maps it, the data area mapped twice. */
struct fake_ring {
	unsigned long consumer;
	unsigned long producer;
	unsigned char *data;
	struct ring_reader reader;
};

struct seen {
	size_t count;
	size_t sizes[MAX_SEEN];
	unsigned char first[MAX_SEEN];	/* first payload byte */
	unsigned char last[MAX_SEEN];	/* last payload byte */
	unsigned long consumer[MAX_SEEN];	/* consumer position during the call */
	const unsigned long *consumer_pos;
	int fail_at;			/* return -EIO at this call; -1: never */
};

static int record_seen(void *ctx, void *data, size_t size)
{
	struct seen *s = ctx;
	const unsigned char *bytes = data;

	if (s->count >= MAX_SEEN)
		return -ENOSPC;
	s->sizes[s->count] = size;
	s->first[s->count] = size ? bytes[0] : 0;
	s->last[s->count] = size ? bytes[size - 1] : 0;
	s->consumer[s->count] = *s->consumer_pos;
	s->count++;
	return (int)s->count - 1 == s->fail_at ? -EIO : 0;
}

static void fake_open(struct fake_ring *f, struct seen *s)
{
	int fd = memfd_create("ring", MFD_CLOEXEC);
	unsigned char *area;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, DATA_SIZE), 0);
	area = mmap(NULL, 2 * DATA_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(area != MAP_FAILED);
	assert_true(mmap(area, DATA_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) !=
		    MAP_FAILED);
	assert_true(mmap(area + DATA_SIZE, DATA_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, fd, 0) != MAP_FAILED);
	close(fd);

	memset(f, 0, sizeof(*f));
	memset(s, 0, sizeof(*s));
	s->fail_at = -1;
	s->consumer_pos = &f->consumer;
	f->data = area;
	f->reader.consumer = &f->consumer;
	f->reader.producer = &f->producer;
	f->reader.data = area;
	f->reader.mask = DATA_SIZE - 1;
	f->reader.release_bytes = 64 * 1024;
	f->reader.handle = record_seen;
	f->reader.ctx = s;
}

static void fake_close(struct fake_ring *f)
{
	munmap(f->data, 2 * DATA_SIZE);
}

/* Writes a record of size bytes, each byte fill, at the producer position. */
static void produce(struct fake_ring *f, __u32 size, unsigned char fill, __u32 flags)
{
	unsigned char *at = f->data + (f->producer & (DATA_SIZE - 1));
	__u32 header[2] = { size | flags, 0 };

	memcpy(at, header, sizeof(header));
	memset(at + BPF_RINGBUF_HDR_SZ, fill, size);
	f->producer += (size + BPF_RINGBUF_HDR_SZ + 7) & ~7UL;
}

static void consume_in_order(void **state)
{
	struct fake_ring f;
	struct seen s;

	(void)state;
	fake_open(&f, &s);
	produce(&f, 1, 0xa1, 0);
	produce(&f, 8, 0xa2, 0);
	produce(&f, 13, 0xa3, 0);

	assert_int_equal(ring_reader_consume(&f.reader), 3);
	assert_int_equal(s.count, 3);
	assert_int_equal(s.sizes[0], 1);
	assert_int_equal(s.sizes[1], 8);
	assert_int_equal(s.sizes[2], 13);
	assert_int_equal(s.first[0], 0xa1);
	assert_int_equal(s.last[2], 0xa3);
	assert_int_equal(f.consumer, f.producer);
	assert_int_equal(f.consumer, 16 + 16 + 24);
	fake_close(&f);
}

static void consume_empty(void **state)
{
	struct fake_ring f;
	struct seen s;

	(void)state;
	fake_open(&f, &s);
	assert_int_equal(ring_reader_consume(&f.reader), 0);
	assert_int_equal(f.consumer, 0);
	assert_int_equal(s.count, 0);
	fake_close(&f);
}

static void consume_stops_at_busy(void **state)
{
	struct fake_ring f;
	struct seen s;
	unsigned long busy_at;

	(void)state;
	fake_open(&f, &s);
	produce(&f, 16, 0xb1, 0);
	busy_at = f.producer;
	produce(&f, 16, 0xb2, BPF_RINGBUF_BUSY_BIT);
	produce(&f, 16, 0xb3, 0);

	assert_int_equal(ring_reader_consume(&f.reader), 1);
	assert_int_equal(f.consumer, busy_at);

	/* committed: the next pass takes it and the one behind it */
	((__u32 *)(f.data + (busy_at & (DATA_SIZE - 1))))[0] = 16;
	assert_int_equal(ring_reader_consume(&f.reader), 2);
	assert_int_equal(s.first[1], 0xb2);
	assert_int_equal(s.first[2], 0xb3);
	assert_int_equal(f.consumer, f.producer);
	fake_close(&f);
}

static void consume_skips_discarded(void **state)
{
	struct fake_ring f;
	struct seen s;

	(void)state;
	fake_open(&f, &s);
	produce(&f, 24, 0xc1, 0);
	produce(&f, 40, 0xc2, BPF_RINGBUF_DISCARD_BIT);
	produce(&f, 24, 0xc3, 0);

	assert_int_equal(ring_reader_consume(&f.reader), 2);
	assert_int_equal(s.first[0], 0xc1);
	assert_int_equal(s.first[1], 0xc3);
	assert_int_equal(f.consumer, f.producer);
	fake_close(&f);
}

static void consume_record_across_end(void **state)
{
	struct fake_ring f;
	struct seen s;

	(void)state;
	fake_open(&f, &s);
	/* a record that starts 32 bytes before the end of the data area */
	f.consumer = f.producer = 3 * (unsigned long)DATA_SIZE - 32;
	produce(&f, 100, 0xd1, 0);
	produce(&f, 8, 0xd2, 0);

	assert_int_equal(ring_reader_consume(&f.reader), 2);
	assert_int_equal(s.sizes[0], 100);
	assert_int_equal(s.first[0], 0xd1);
	assert_int_equal(s.last[0], 0xd1);
	assert_int_equal(s.first[1], 0xd2);
	assert_int_equal(f.consumer, 3 * (unsigned long)DATA_SIZE - 32 + 112 + 16);
	fake_close(&f);
}

static void consume_handler_error(void **state)
{
	struct fake_ring f;
	struct seen s;
	unsigned long after_second;

	(void)state;
	fake_open(&f, &s);
	produce(&f, 8, 0xe1, 0);
	produce(&f, 8, 0xe2, 0);
	after_second = f.producer;
	produce(&f, 8, 0xe3, 0);
	s.fail_at = 1;

	assert_int_equal(ring_reader_consume(&f.reader), -EIO);
	assert_int_equal(s.count, 2);
	assert_int_equal(f.consumer, after_second);

	s.fail_at = -1;
	assert_int_equal(ring_reader_consume(&f.reader), 1);
	assert_int_equal(s.first[2], 0xe3);
	fake_close(&f);
}

/* The kernel gets space back during a long pass, not only at its end. */
static void consume_releases_in_pass(void **state)
{
	struct fake_ring f;
	struct seen s;
	size_t i, released_at = 0;

	(void)state;
	fake_open(&f, &s);
	for (i = 0; i < 1000; i++)
		produce(&f, 120, (unsigned char)i, 0);	/* 128 bytes each */

	assert_int_equal(ring_reader_consume(&f.reader), 1000);
	assert_int_equal(s.consumer[0], 0);
	for (i = 1; i < s.count; i++) {
		if (s.consumer[i] != s.consumer[i - 1]) {
			released_at = i;
			break;
		}
	}
	/* 64 KiB of records of 128 bytes: the release comes before the 513th */
	assert_int_equal(released_at, 512);
	assert_int_equal(s.consumer[released_at], 512 * 128);
	assert_int_equal(f.consumer, 1000 * 128);
	fake_close(&f);
}

/* Maps a real ring buffer map: its data area appears twice, back to back. */
static void open_real_map(void **state)
{
	struct ring_reader r;
	int fd, err;

	(void)state;
	fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "test_ring", 0, 0, 64 * 1024, NULL);
	if (fd < 0)
		fail_msg("creating a ring buffer map failed: %s (run as root)", strerror(errno));

	err = ring_reader_open(&r, fd, record_seen, NULL);
	assert_int_equal(err, 0);
	assert_int_equal(r.mask, 64 * 1024 - 1);
	assert_int_equal(r.release_bytes, 8 * 1024);
	assert_int_equal(*r.consumer, 0);
	assert_int_equal(*r.producer, 0);
	assert_int_equal(ring_reader_fd(&r), fd);
	assert_int_equal(ring_reader_consume(&r), 0);
	assert_int_equal(r.data[0], r.data[64 * 1024]);
	ring_reader_close(&r);
	assert_null(r.consumer);
	close(fd);
}

/* A large ring hands space back every 64 KiB, not every eighth of its size. */
static void open_caps_release_interval(void **state)
{
	struct ring_reader r;
	int fd;

	(void)state;
	fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "test_ring_big", 0, 0, 4 << 20, NULL);
	if (fd < 0)
		fail_msg("creating a ring buffer map failed: %s (run as root)", strerror(errno));

	assert_int_equal(ring_reader_open(&r, fd, record_seen, NULL), 0);
	assert_int_equal(r.release_bytes, 64 * 1024);
	ring_reader_close(&r);
	close(fd);
}

static void open_rejects_other_maps(void **state)
{
	struct ring_reader r;
	int fd;

	(void)state;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "test_array", 4, 4, 1, NULL);
	if (fd < 0)
		fail_msg("creating an array map failed: %s (run as root)", strerror(errno));

	assert_int_equal(ring_reader_open(&r, fd, record_seen, NULL), -EINVAL);
	assert_null(r.consumer);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(consume_in_order),
		cmocka_unit_test(consume_empty),
		cmocka_unit_test(consume_stops_at_busy),
		cmocka_unit_test(consume_skips_discarded),
		cmocka_unit_test(consume_record_across_end),
		cmocka_unit_test(consume_handler_error),
		cmocka_unit_test(consume_releases_in_pass),
		cmocka_unit_test(open_real_map),
		cmocka_unit_test(open_caps_release_interval),
		cmocka_unit_test(open_rejects_other_maps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
