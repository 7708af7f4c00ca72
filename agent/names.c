// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include "names.h"

static const char *const call_names[ST_CALL_COUNT] = {
	[ST_CALL_GETRANDOM] = "getrandom",
	[ST_CALL_CLOCK_GETTIME] = "clock_gettime",
	[ST_CALL_GETTIMEOFDAY] = "gettimeofday",
	[ST_CALL_TIME] = "time",
	[ST_CALL_OPEN_RANDOM] = "open:/dev/random",
	[ST_CALL_OPEN_URANDOM] = "open:/dev/urandom",
	[ST_CALL_FSYNC] = "fsync",
	[ST_CALL_FDATASYNC] = "fdatasync",
	[ST_CALL_SYNC_FILE_RANGE] = "sync_file_range",
	[ST_CALL_MSYNC] = "msync",
	[ST_CALL_SYNCFS] = "syncfs",
	[ST_CALL_SYNC] = "sync",
	[ST_CALL_MARKER] = "marker",
	[ST_CALL_READ] = "read",
	[ST_CALL_READV] = "readv",
	[ST_CALL_PREAD64] = "pread64",
	[ST_CALL_PREADV] = "preadv",
	[ST_CALL_PREADV2] = "preadv2",
	[ST_CALL_RECVFROM] = "recvfrom",
	[ST_CALL_RECVMSG] = "recvmsg",
	[ST_CALL_RECVMMSG] = "recvmmsg",
	[ST_CALL_READ_FIXED] = "read_fixed",
	[ST_CALL_READ_MULTISHOT] = "read_multishot",
	[ST_CALL_RECV] = "recv",
	[ST_CALL_SPLICE] = "splice",
	[ST_CALL_TEE] = "tee",
	[ST_CALL_SENDFILE] = "sendfile",
	[ST_CALL_COPY_FILE_RANGE] = "copy_file_range",
};

static const char *const via_names[ST_VIA_COUNT] = {
	[ST_VIA_SYSCALL] = "syscall",
	[ST_VIA_IA32] = "ia32",
	[ST_VIA_IO_URING] = "io_uring",
	[ST_VIA_VDSO] = "vdso",
	[ST_VIA_STATIC] = "static",
};

static const char *const kind_names[ST_REC_KIND_COUNT] = {
	[ST_REC_LISTEN] = "listen",
	[ST_REC_STDIN] = "stdin",
	[ST_REC_SIGNAL] = "signal",
	[ST_REC_CALLS] = "calls",
	[ST_REC_EXEC] = "exec",
	[ST_REC_FORK] = "fork",
	[ST_REC_EXIT] = "exit",
	[ST_REC_ENVIRON] = "environ",
	[ST_REC_EXPLICIT] = "explicit",
	[ST_REC_IDLE] = "idle",
	[ST_REC_JOIN] = "join",
	[ST_REC_COVERAGE] = "coverage",
	[ST_REC_IMAGE] = "image",
};

const char *call_name(__u32 call)
{
	return call < ST_CALL_COUNT ? call_names[call] : NULL;
}

const char *via_name(__u32 via)
{
	return via < ST_VIA_COUNT ? via_names[via] : "unknown";
}

const char *record_kind_name(__u32 kind)
{
	return kind < ST_REC_KIND_COUNT ? kind_names[kind] : NULL;
}

const char *signal_name(int sig)
{
	static const char *const names[] = {
		[SIGHUP] = "SIGHUP", [SIGINT] = "SIGINT", [SIGQUIT] = "SIGQUIT",
		[SIGILL] = "SIGILL", [SIGTRAP] = "SIGTRAP", [SIGABRT] = "SIGABRT",
		[SIGBUS] = "SIGBUS", [SIGFPE] = "SIGFPE", [SIGKILL] = "SIGKILL",
		[SIGUSR1] = "SIGUSR1", [SIGSEGV] = "SIGSEGV", [SIGUSR2] = "SIGUSR2",
		[SIGPIPE] = "SIGPIPE", [SIGALRM] = "SIGALRM", [SIGTERM] = "SIGTERM",
		[SIGSTKFLT] = "SIGSTKFLT", [SIGCHLD] = "SIGCHLD", [SIGCONT] = "SIGCONT",
		[SIGSTOP] = "SIGSTOP", [SIGTSTP] = "SIGTSTP", [SIGTTIN] = "SIGTTIN",
		[SIGTTOU] = "SIGTTOU", [SIGURG] = "SIGURG", [SIGXCPU] = "SIGXCPU",
		[SIGXFSZ] = "SIGXFSZ", [SIGVTALRM] = "SIGVTALRM", [SIGPROF] = "SIGPROF",
		[SIGWINCH] = "SIGWINCH", [SIGIO] = "SIGIO", [SIGPWR] = "SIGPWR",
		[SIGSYS] = "SIGSYS",
	};

	if (sig <= 0 || (size_t)sig >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[sig];
}

const char *signal_result_name(__u32 result)
{
	switch (result) {
	case 0:
		return "delivered";
	case 1:
		return "ignored";
	case 2:
		return "pending";
	case 3:
		return "overflow";
	case 4:
		return "lost-info";
	}
	return "unknown";
}
