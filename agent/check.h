/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* --check: which kernel features work here, and which triggers need them. */
#ifndef SNAPTRIG_CHECK_H
#define SNAPTRIG_CHECK_H

#include "options.h"

/* Prints one line per feature. Returns 0 when every requested trigger can work, else 1. */
int check_run(const struct options *opts);

#endif
