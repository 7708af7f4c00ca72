/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * snaptrig.h: mark points in an application for the snaptrig agent.
 *
 *   SNAPTRIG_SNAPSHOT();     request a snapshot here (the "explicit" trigger,
 *                            detail source "marker")
 *   SNAPTRIG_TRANSACTION();  a transaction was committed here (counted as the
 *                            call "marker" of the "transaction" trigger and
 *                            coalesced with it by --cooldown)
 *
 * Each macro is a statement, usable in C and C++, and takes no arguments. It
 * expands to a USDT probe of provider "snaptrig" (probe names "snapshot" and
 * "transaction") from <sys/sdt.h> (Debian: systemtap-sdt-dev): one nop
 * instruction and a .note.stapsdt ELF note. No semaphore is used, so with no
 * tracer attached the cost is that nop. Nothing of snaptrig is needed to
 * build or run the application. snaptrig finds the notes in the executable
 * and in the libraries that a traced process maps, and attaches to them.
 *
 * Without <sys/sdt.h> the macros expand to nothing, and the application
 * builds and runs without markers. Define SNAPTRIG_NO_MARKERS to get that on
 * purpose. The check uses __has_include; a compiler without it gets markers
 * only when SNAPTRIG_HAVE_SDT is defined to 1 before this header.
 *
 * The header includes no other header when <sys/sdt.h> is missing.
 */
#ifndef SNAPTRIG_H
#define SNAPTRIG_H

#ifndef SNAPTRIG_HAVE_SDT
#if defined(SNAPTRIG_NO_MARKERS)
#define SNAPTRIG_HAVE_SDT 0
#elif defined(__has_include)
#if __has_include(<sys/sdt.h>)
#define SNAPTRIG_HAVE_SDT 1
#else
#define SNAPTRIG_HAVE_SDT 0
#endif
#else
#define SNAPTRIG_HAVE_SDT 0
#endif
#endif

#if SNAPTRIG_HAVE_SDT
#include <sys/sdt.h>
#ifdef __clang__
/* sys/sdt.h passes no argument for a '...' parameter, which clang's -pedantic reports */
#define SNAPTRIG_PROBE(name)                                                         \
	_Pragma("clang diagnostic push")                                              \
	_Pragma("clang diagnostic ignored \"-Wgnu-zero-variadic-macro-arguments\"")  \
	STAP_PROBE(snaptrig, name)                                                   \
	_Pragma("clang diagnostic pop")
#else
#define SNAPTRIG_PROBE(name) STAP_PROBE(snaptrig, name)
#endif
#define SNAPTRIG_SNAPSHOT() SNAPTRIG_PROBE(snapshot)
#define SNAPTRIG_TRANSACTION() SNAPTRIG_PROBE(transaction)
#else
#define SNAPTRIG_SNAPSHOT() do { } while (0)
#define SNAPTRIG_TRANSACTION() do { } while (0)
#endif

#endif /* SNAPTRIG_H */
