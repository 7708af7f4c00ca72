// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "usdt.h"

#define STAPSDT_NOTE_TYPE 3
#define STAPSDT_NOTE_NAME "stapsdt"
#define NOTE_ALIGN(n) (((n) + 3) & ~(size_t)3)

/* Matches one note descriptor: pc, base, semaphore, then three strings. */
static int scan_descriptor(const char *desc, size_t size, int is_elf64,
			   const char *provider, const char *const *names,
			   unsigned int count, unsigned int *mask, unsigned int *sites)
{
	size_t addrs = (is_elf64 ? 8 : 4) * 3;
	const char *prov, *name;
	size_t prov_len, name_len;
	unsigned int i;

	if (size < addrs)
		return -EINVAL;
	prov = desc + addrs;
	prov_len = strnlen(prov, size - addrs);
	if (prov_len == size - addrs)
		return -EINVAL;
	name = prov + prov_len + 1;
	name_len = strnlen(name, size - addrs - prov_len - 1);
	if (name_len == size - addrs - prov_len - 1)
		return -EINVAL;
	if (strcmp(prov, provider))
		return 0;
	for (i = 0; i < count && i < 32; i++) {
		if (strcmp(name, names[i]))
			continue;
		*mask |= 1u << i;
		if (sites)
			sites[i]++;
	}
	return 0;
}

int usdt_notes_scan(const void *data, size_t size, int is_elf64, const char *provider,
		    const char *const *names, unsigned int count, unsigned int *mask,
		    unsigned int *sites)
{
	const char *p = data;
	size_t off = 0;

	while (size - off >= 12) {
		uint32_t namesz, descsz, type;
		size_t name_end, desc_end;
		int err;

		memcpy(&namesz, p + off, 4);
		memcpy(&descsz, p + off + 4, 4);
		memcpy(&type, p + off + 8, 4);
		off += 12;
		name_end = off + NOTE_ALIGN((size_t)namesz);
		if (namesz > size || name_end > size)
			return -EINVAL;
		desc_end = name_end + NOTE_ALIGN((size_t)descsz);
		if (descsz > size || desc_end > size)
			return -EINVAL;
		if (type == STAPSDT_NOTE_TYPE && namesz == sizeof(STAPSDT_NOTE_NAME) &&
		    !memcmp(p + off, STAPSDT_NOTE_NAME, sizeof(STAPSDT_NOTE_NAME))) {
			err = scan_descriptor(p + name_end, descsz, is_elf64, provider, names,
					      count, mask, sites);
			if (err)
				return err;
		}
		off = desc_end;
	}
	return off == size ? 0 : -EINVAL;
}

static int scan_elf(Elf *elf, const char *provider, const char *const *names,
		    unsigned int count, unsigned int *mask, unsigned int *sites)
{
	int is_elf64 = gelf_getclass(elf) == ELFCLASS64;
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (gelf_getclass(elf) == ELFCLASSNONE || elf_getshdrstrndx(elf, &shstrndx))
		return -ENOEXEC;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *sec_name;
		Elf_Data *data;
		GElf_Shdr shdr;
		int err;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_NOTE)
			continue;
		sec_name = elf_strptr(elf, shstrndx, shdr.sh_name);
		if (!sec_name || strcmp(sec_name, ".note.stapsdt"))
			continue;
		data = elf_getdata(scn, NULL);
		if (!data || !data->d_buf)
			continue;
		err = usdt_notes_scan(data->d_buf, data->d_size, is_elf64, provider, names,
				      count, mask, sites);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Opens path for reading with libelf. Returns the file descriptor with *elf
 * set, -ENOEXEC when the file is not ELF, or another -errno.
 */
static int open_elf(const char *path, Elf **elf)
{
	int fd;

	if (elf_version(EV_CURRENT) == EV_NONE)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*elf = elf_begin(fd, ELF_C_READ, NULL);
	if (!*elf || elf_kind(*elf) != ELF_K_ELF) {
		elf_end(*elf);
		close(fd);
		return -ENOEXEC;
	}
	return fd;
}

int usdt_file_probes(const char *path, const char *provider, const char *const *names,
		     unsigned int count, unsigned int *mask, unsigned int *sites)
{
	Elf *elf;
	int fd, err;

	*mask = 0;
	if (sites)
		memset(sites, 0, count * sizeof(*sites));
	fd = open_elf(path, &elf);
	if (fd < 0)
		return fd;
	err = scan_elf(elf, provider, names, count, mask, sites);
	elf_end(elf);
	close(fd);
	return err;
}

/* Classifies symbol in one symbol table, ignoring a version suffix ("@GLIBC_2.2.5"). */
static int scan_symbols(Elf *elf, Elf_Scn *scn, const GElf_Shdr *shdr, const char *symbol)
{
	size_t len = strlen(symbol), i, count;
	int state = USDT_SYMBOL_MISSING;
	Elf_Data *data = elf_getdata(scn, NULL);

	if (!data || !shdr->sh_entsize)
		return state;
	count = shdr->sh_size / shdr->sh_entsize;
	for (i = 0; i < count; i++) {
		const char *name;
		GElf_Sym sym;

		if (!gelf_getsym(data, (int)i, &sym))
			break;
		name = elf_strptr(elf, shdr->sh_link, sym.st_name);
		if (!name || strncmp(name, symbol, len) || (name[len] && name[len] != '@'))
			continue;
		if (sym.st_shndx != SHN_UNDEF)
			return USDT_SYMBOL_DEFINED;
		state = USDT_SYMBOL_IMPORTED;
	}
	return state;
}

int usdt_file_symbol(const char *path, const char *symbol)
{
	int state = USDT_SYMBOL_MISSING;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd;

	fd = open_elf(path, &elf);
	if (fd < 0)
		return fd;
	if (gelf_getclass(elf) == ELFCLASSNONE) {
		state = -ENOEXEC;
		goto out;
	}
	while (state != USDT_SYMBOL_DEFINED && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr shdr;
		int found;

		if (!gelf_getshdr(scn, &shdr) ||
		    (shdr.sh_type != SHT_SYMTAB && shdr.sh_type != SHT_DYNSYM))
			continue;
		found = scan_symbols(elf, scn, &shdr, symbol);
		if (found < state)
			state = found;
	}
out:
	elf_end(elf);
	close(fd);
	return state;
}

int elf_file_has_soname(const char *path)
{
	Elf_Scn *scn = NULL;
	int found = 0;
	Elf *elf;
	int fd;

	fd = open_elf(path, &elf);
	if (fd < 0)
		return fd;
	while (!found && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *data;
		GElf_Shdr shdr;
		size_t i;

		if (!gelf_getshdr(scn, &shdr) || shdr.sh_type != SHT_DYNAMIC || !shdr.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (i = 0; data && i < shdr.sh_size / shdr.sh_entsize; i++) {
			GElf_Dyn dyn;

			if (!gelf_getdyn(data, (int)i, &dyn) || dyn.d_tag == DT_NULL)
				break;
			if (dyn.d_tag == DT_SONAME) {
				found = 1;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return found;
}

/*
 * Returns 0 for an executable regular file, -EACCES (as execve(2) does) for
 * any other file and for a path through a directory without search
 * permission, and -ENOENT otherwise.
 */
static int check_executable(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return errno == EACCES ? -EACCES : -ENOENT;
	if (S_ISREG(st.st_mode) && access(path, X_OK) == 0)
		return 0;
	return -EACCES;
}

int usdt_resolve_command(const char *name, const char *path_env, char *out, size_t len)
{
	const char *dir, *end;
	int err = -ENOENT;

	if (!*name)
		return -ENOENT;
	if (strchr(name, '/')) {
		if (strlen(name) >= len)
			return -ENAMETOOLONG;
		strcpy(out, name);
		return check_executable(out);
	}
	if (!path_env)
		path_env = "/bin:/usr/bin";
	for (dir = path_env;; dir = end + 1) {
		size_t dir_len;
		int n;

		end = strchrnul(dir, ':');
		dir_len = end - dir;
		if (dir_len)
			n = snprintf(out, len, "%.*s/%s", (int)dir_len, dir, name);
		else
			n = snprintf(out, len, "%s", name);
		if (n >= 0 && (size_t)n < len) {
			/* as in execvp(3), one EACCES makes the search fail with it */
			int found = check_executable(out);

			if (found == 0)
				return 0;
			if (found == -EACCES)
				err = -EACCES;
		}
		if (!*end)
			break;
	}
	return err;
}

int usdt_interpreter_missing(const char *name, int err, char *out, size_t len)
{
	return err == ENOENT && usdt_resolve_command(name, getenv("PATH"), out, len) == 0;
}
