/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The open-files limit. The agent keeps about 210 descriptors open with -t all
 * (BPF maps, programs and links), and two more per attached marker place,
 * so it raises its soft limit to the hard one. COMMAND and checkpointers get
 * the limit snaptrig started with, because select(2) cannot watch a
 * descriptor above 1023 (FD_SETSIZE) and a raised limit would let them open one.
 */
#ifndef SNAPTRIG_FDLIMIT_H
#define SNAPTRIG_FDLIMIT_H

/* Raises the soft limit to the hard limit; warns when the hard limit is low. */
void fd_limit_raise(void);
/* Sets the limit back to the one snaptrig started with; safe in a vfork() child. */
void fd_limit_restore(void);

#endif
