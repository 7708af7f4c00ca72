// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <string.h>
#include <sys/resource.h>
#include "fdlimit.h"
#include "log.h"

/* Below this hard limit, -t all with a few markers and clients may run out. */
#define FD_LIMIT_LOW 512

static struct rlimit startup_limit;
static int startup_known;

void fd_limit_raise(void)
{
	struct rlimit raised;

	if (getrlimit(RLIMIT_NOFILE, &startup_limit))
		return;
	startup_known = 1;
	if (startup_limit.rlim_max != RLIM_INFINITY && startup_limit.rlim_max < FD_LIMIT_LOW)
		log_error("warning: the open-files limit is %llu (ulimit -Hn); snaptrig needs about 210 descriptors with -t all, and two more per marker place; if a load or attach fails with 'Too many open files', raise it",
			  (unsigned long long)startup_limit.rlim_max);
	if (startup_limit.rlim_cur == startup_limit.rlim_max)
		return;
	raised = startup_limit;
	raised.rlim_cur = raised.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &raised))
		log_info(1, "raising the open-files limit to %llu failed: %s",
			 (unsigned long long)raised.rlim_cur, strerror(errno));
}

void fd_limit_restore(void)
{
	if (startup_known)
		setrlimit(RLIMIT_NOFILE, &startup_limit);
}
