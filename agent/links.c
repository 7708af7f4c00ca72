// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <bpf/libbpf.h>
#include "links.h"

/* At most this many threads release links at once. */
#define LINKS_THREADS 16

int link_list_add(struct link_list *l, struct bpf_link **link)
{
	if (!link || !*link)
		return 0;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct bpf_link ***grown = realloc(l->items, cap * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		l->items = grown;
		l->cap = cap;
	}
	l->items[l->count++] = link;
	return 0;
}

int link_list_add_skeleton(struct link_list *l, const struct bpf_object_skeleton *s)
{
	int i, err;

	if (!s)
		return 0;
	for (i = 0; i < s->prog_cnt; i++) {
		const struct bpf_prog_skeleton *prog =
			(const void *)((const char *)s->progs + (size_t)i * s->prog_skel_sz);

		err = link_list_add(l, prog->link);
		if (err)
			return err;
	}
	return 0;
}

struct link_release {
	struct link_list *list;
	size_t next;		/* index of the next link to destroy */
};

static void *release_links(void *arg)
{
	struct link_release *job = arg;
	size_t i;

	while ((i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED)) < job->list->count) {
		bpf_link__destroy(*job->list->items[i]);
		*job->list->items[i] = NULL;
	}
	return NULL;
}

void link_list_destroy(struct link_list *l)
{
	struct link_release job = { .list = l };
	pthread_t threads[LINKS_THREADS - 1];
	size_t helpers = l->count < LINKS_THREADS ? l->count : LINKS_THREADS;
	size_t started = 0, i;

	/* this thread releases links too */
	if (helpers)
		helpers--;
	while (started < helpers && pthread_create(&threads[started], NULL, release_links, &job) == 0)
		started++;
	/* all of them when no helper thread started */
	release_links(&job);
	for (i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(l->items);
	l->items = NULL;
	l->count = l->cap = 0;
}
