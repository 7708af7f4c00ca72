/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * Finding USDT probes in ELF files: the SystemTap notes (section
 * .note.stapsdt, note name "stapsdt", type 3) that <sys/sdt.h> emits for each
 * probe, whether a file defines a symbol, and resolving a command name
 * through PATH as execvp(3) does.
 */
#ifndef SNAPTRIG_USDT_H
#define SNAPTRIG_USDT_H

#include <stddef.h>

/* Provider of the probes of include/snaptrig.h. */
#define USDT_PROVIDER "snaptrig"

/*
 * Scans the bytes of one SHT_NOTE section in host byte order. For each
 * stapsdt note of provider, sets bit i of *mask when the probe's name is
 * names[i] (count at most 32), and adds one to sites[i] unless sites is
 * NULL: the number of places in the code that fire the probe. is_elf64
 * selects 8-byte addresses in the note descriptor, else 4-byte ones. Returns
 * 0, or -EINVAL for a malformed note, with the bits found before it set.
 */
int usdt_notes_scan(const void *data, size_t size, int is_elf64, const char *provider,
		    const char *const *names, unsigned int count, unsigned int *mask,
		    unsigned int *sites);

/*
 * Reads the ELF file at path and sets *mask and sites (count entries, or
 * NULL) as usdt_notes_scan() does, over every .note.stapsdt section. Returns
 * 0 (with *mask 0 when the file has no such probe), -ENOEXEC when the file is
 * not ELF, or another -errno.
 */
int usdt_file_probes(const char *path, const char *provider, const char *const *names,
		     unsigned int count, unsigned int *mask, unsigned int *sites);

/* Presence of a symbol in an ELF file, from most to least usable for a uprobe. */
enum usdt_symbol_state {
	USDT_SYMBOL_DEFINED,	/* defined in the file, so a uprobe can attach */
	USDT_SYMBOL_IMPORTED,	/* only referenced, for another file to define */
	USDT_SYMBOL_MISSING,
};

/*
 * Looks symbol up in the .symtab and .dynsym of the ELF file at path, with or
 * without a version suffix. Returns an enum usdt_symbol_state, -ENOEXEC when
 * the file is not ELF, or another -errno.
 */
int usdt_file_symbol(const char *path, const char *symbol);

/*
 * Whether the ELF file at path names itself with DT_SONAME, as a shared
 * library does, the dynamic loader included. Returns 1, 0, -ENOEXEC when
 * it is not ELF, or another -errno.
 */
int elf_file_has_soname(const char *path);

/*
 * Resolves name as execvp(3) would: a name containing '/' is used as given;
 * otherwise each PATH entry is tried in order (PATH unset: "/bin:/usr/bin"; an
 * empty entry is the current directory) for an executable regular file.
 * Writes the path into out. Returns 0, -ENOENT when no file is found,
 * -EACCES when a file is found but none is an executable regular file (the
 * error of execvp(3)), or -ENAMETOOLONG.
 */
int usdt_resolve_command(const char *name, const char *path_env, char *out, size_t len);

/* Reason for an ENOENT from execve(2) of a file that exists. */
#define USDT_NO_INTERPRETER "the interpreter on its #! line or its dynamic loader was not found"

/*
 * Returns 1 when an execvp(3) of name failed with err ENOENT although name
 * resolves through PATH to a file, whose path it writes into out: then the
 * missing file is the one USDT_NO_INTERPRETER names. Returns 0 otherwise.
 */
int usdt_interpreter_missing(const char *name, int err, char *out, size_t len);

#endif
