/* kt-memscan: looks for a secret in the memory of processes, for keyturn's
 * VM tests.
 *
 *   kt-memscan PID|self...   the needle on stdin (never argv): every byte up
 *                            to EOF, one trailing newline dropped
 *   kt-memscan -f PATH...    the same needle in files: each regular file
 *                            under each PATH (symlinks not followed), read
 *                            whole, also binary ones; prints
 *                              found file PATH hits N
 *                            and a summary "scanned files: F files, B bytes"
 *   kt-memscan -x ...        any of these with the needle written in
 *                            hexadecimal on stdin (a binary key, NUL bytes
 *                            and all, as kt-unwrap prints one)
 *   kt-memscan -H            holds the needle of stdin in its heap, makes
 *                            itself non-dumpable (as keyturn-agent does),
 *                            prints "holding" and sleeps until killed: the
 *                            positive control of the tests
 *
 * For each PID, every readable mapping of /proc/PID/maps is read through
 * /proc/PID/mem (root reads non-dumpable processes with CAP_SYS_PTRACE) and
 * searched. Each mapping with a hit prints
 *   found PID START-END PERMS PATH hits N at +OFFSET[,+OFFSET...]
 * and each PID a summary
 *   scanned PID: M mappings, B bytes read, U unreadable, N hits
 * The secret itself, or any byte near it, is never printed.
 *
 * Exit: 0 nothing found, 1 found (in any PID), 2 a PID could not be scanned
 * (no maps, or not one byte of its memory readable).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define NEEDLE_MAX 4096
#define CHUNK (1024 * 1024)
#define OFFSETS_SHOWN 8

static char needle[NEEDLE_MAX];
static size_t needle_len;

/* Decodes the hexadecimal needle in place; -EINVAL unless it is whole
 * bytes of hex digits. */
static int unhex_needle(void)
{
	size_t n = 0;

	if (needle_len % 2)
		return -EINVAL;
	for (size_t i = 0; i < needle_len; i += 2) {
		unsigned v;

		if (sscanf(needle + i, "%2x", &v) != 1 ||
		    !isxdigit((unsigned char)needle[i]) ||
		    !isxdigit((unsigned char)needle[i + 1]))
			return -EINVAL;
		needle[n++] = (char)v;
	}
	needle_len = n;
	return n > 0 ? 0 : -EINVAL;
}

static int read_needle(void)
{
	ssize_t n;

	while (needle_len < sizeof(needle)) {
		n = read(0, needle + needle_len, sizeof(needle) - needle_len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		needle_len += (size_t)n;
	}
	if (needle_len > 0 && needle[needle_len - 1] == '\n')
		needle[--needle_len] = '\0';
	return needle_len > 0 ? 0 : -EINVAL;
}

struct scan {
	unsigned long mappings, unreadable, hits;
	unsigned long long bytes;
};

/* Searches [start, end) of mem; prints the mapping when found. The chunks
 * overlap by needle_len - 1 bytes, so no hit is lost at a boundary. */
static void scan_mapping(int mem, const char *pid, uint64_t start,
			 uint64_t end, const char *perms, const char *path,
			 char *buf, struct scan *s)
{
	uint64_t offs[OFFSETS_SHOWN], addr = start;
	unsigned long hits = 0;
	size_t keep = 0;
	int readable = 0;

	while (addr < end) {
		size_t want = CHUNK - keep;
		ssize_t n;

		if (want > end - addr)
			want = (size_t)(end - addr);
		n = pread(mem, buf + keep, want, (off_t)addr);
		if (n <= 0)
			break;
		readable = 1;
		s->bytes += (unsigned long long)n;
		size_t have = keep + (size_t)n;
		/* buf[0] is at address addr - keep */
		for (char *p = buf; p + needle_len <= buf + have;) {
			p = memmem(p, (size_t)(buf + have - p), needle,
				   needle_len);
			if (!p)
				break;
			if (hits < OFFSETS_SHOWN)
				offs[hits] = addr - keep +
					     (uint64_t)(p - buf) - start;
			hits++;
			p += needle_len;
		}
		addr += (uint64_t)n;
		keep = needle_len - 1 < have ? needle_len - 1 : have;
		memmove(buf, buf + have - keep, keep);
	}
	s->mappings++;
	if (!readable)
		s->unreadable++;
	if (!hits)
		return;
	s->hits += hits;
	printf("found %s %" PRIx64 "-%" PRIx64 " %s %s hits %lu at", pid,
	       start, end, perms, *path ? path : "[anon]", hits);
	for (unsigned long i = 0; i < hits && i < OFFSETS_SHOWN; i++)
		printf("%s+0x%" PRIx64, i ? "," : " ", offs[i]);
	printf("%s\n", hits > OFFSETS_SHOWN ? ",..." : "");
}

static int scan_pid(const char *pid, char *buf)
{
	char path[64], line[4096];
	struct scan s = { 0 };
	FILE *maps;
	int mem;

	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	maps = fopen(path, "re");
	snprintf(path, sizeof(path), "/proc/%s/mem", pid);
	mem = open(path, O_RDONLY | O_CLOEXEC);
	if (!maps || mem < 0) {
		fprintf(stderr, "kt-memscan: %s: %s\n", path, strerror(errno));
		if (maps)
			fclose(maps);
		if (mem >= 0)
			close(mem);
		return -1;
	}
	while (fgets(line, sizeof(line), maps)) {
		uint64_t start, end;
		char perms[8] = "", *name;
		int pos = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %*s %*s %*s %n",
			   &start, &end, perms, &pos) < 3 || pos == 0)
			continue;
		name = line + pos;
		name[strcspn(name, "\n")] = '\0';
		/* not memory of the process: the kernel's vsyscall page,
		 * vvar (reads fail) */
		if (perms[0] != 'r' || start >= (UINT64_C(1) << 63) ||
		    !strncmp(name, "[vvar", 5) || !strcmp(name, "[vsyscall]"))
			continue;
		scan_mapping(mem, pid, start, end, perms, name, buf, &s);
	}
	fclose(maps);
	close(mem);
	printf("scanned %s: %lu mappings, %llu bytes read, %lu unreadable, "
	       "%lu hits\n", pid, s.mappings, s.bytes, s.unreadable, s.hits);
	if (s.bytes == 0)
		return -1;
	return s.hits ? 1 : 0;
}

static struct {
	unsigned long files, hits;
	unsigned long long bytes;
	char *buf;
} fscan;

static int scan_file(const char *path, const struct stat *st, int type,
		     struct FTW *ftw)
{
	unsigned long hits = 0;
	size_t keep = 0;
	int fd;

	(void)st;
	(void)ftw;
	if (type != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return 0;
	for (;;) {
		ssize_t n = read(fd, fscan.buf + keep, CHUNK - keep);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		fscan.bytes += (unsigned long long)n;
		size_t have = keep + (size_t)n;
		for (char *p = fscan.buf; p + needle_len <= fscan.buf + have;) {
			p = memmem(p, (size_t)(fscan.buf + have - p), needle,
				   needle_len);
			if (!p)
				break;
			hits++;
			p += needle_len;
		}
		keep = needle_len - 1 < have ? needle_len - 1 : have;
		memmove(fscan.buf, fscan.buf + have - keep, keep);
	}
	close(fd);
	fscan.files++;
	if (hits) {
		printf("found file %s hits %lu\n", path, hits);
		fscan.hits += hits;
	}
	return 0;
}

static int scan_files(int n, char **paths, char *buf)
{
	fscan.buf = buf;
	for (int i = 0; i < n; i++)
		if (nftw(paths[i], scan_file, 16, FTW_PHYS) < 0)
			fprintf(stderr, "kt-memscan: %s: %s\n", paths[i],
				strerror(errno));
	printf("scanned files: %lu files, %llu bytes, %lu hits\n",
	       fscan.files, fscan.bytes, fscan.hits);
	return fscan.hits ? 1 : 0;
}

/* The positive control: the needle in a heap buffer of a non-dumpable
 * process. */
static int hold(void)
{
	char *copy = malloc(needle_len + 1);

	if (!copy)
		return 2;
	memcpy(copy, needle, needle_len + 1);
	explicit_bzero(needle, sizeof(needle));
	if (prctl(PR_SET_DUMPABLE, 0) < 0)
		return 2;
	printf("holding\n");
	fflush(stdout);
	for (;;)
		pause();
}

int main(int argc, char **argv)
{
	int worst = 0;
	char *buf;

	int hex = argc > 1 && !strcmp(argv[1], "-x");

	if (hex) {
		argc--;
		argv++;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: kt-memscan [-x] PID|self... | -f PATH... "
				"| -H (the needle on stdin, -x: in hex)\n");
		return 2;
	}
	if (read_needle() < 0 || (hex && unhex_needle() < 0)) {
		fprintf(stderr, "kt-memscan: no needle on stdin\n");
		return 2;
	}
	if (!strcmp(argv[1], "-H"))
		return hold();
	buf = malloc(CHUNK);
	if (!buf)
		return 2;
	if (!strcmp(argv[1], "-f"))
		return scan_files(argc - 2, argv + 2, buf);
	for (int i = 1; i < argc; i++) {
		int r = scan_pid(argv[i], buf);

		if (r < 0)
			worst = 2;
		else if (r > 0 && worst == 0)
			worst = 1;
	}
	fflush(stdout);
	return worst;
}
