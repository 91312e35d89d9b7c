/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <argon2.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wrapped.h"

static const uint8_t magic[8] = "keyturnW";

#define OFF_VERSION 8
#define OFF_T_COST 12
#define OFF_M_COST 16
#define OFF_PARALLELISM 20
#define OFF_LENGTH 24
#define OFF_SALT 28
#define OFF_NONCE (OFF_SALT + KT_WRAPPED_SALT_SIZE)
_Static_assert(OFF_NONCE + KT_WRAPPED_NONCE_SIZE == KT_WRAPPED_HEADER_SIZE,
	       "header layout");
_Static_assert(KT_WRAPPED_KEY_SIZE ==
		       crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	       "key size");
_Static_assert(KT_WRAPPED_NONCE_SIZE ==
		       crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
	       "nonce size");
_Static_assert(KT_WRAPPED_TAG_SIZE == crypto_aead_xchacha20poly1305_ietf_ABYTES,
	       "tag size");

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v;
	p[1] = v >> 8;
	p[2] = v >> 16;
	p[3] = v >> 24;
}

int kt_wrapped_params_check(const struct kt_wrapped_params *p)
{
	if (!p)
		return -EINVAL;
	if (p->t_cost < 1 || p->parallelism < 1)
		return -ERANGE;
	if (p->t_cost > KT_WRAPPED_T_COST_MAX ||
	    p->parallelism > KT_WRAPPED_PARALLELISM_MAX ||
	    p->m_cost_kib > KT_WRAPPED_M_COST_MAX)
		return -E2BIG;
	if (p->m_cost_kib < KT_WRAPPED_M_COST_MIN(p->parallelism))
		return -ERANGE;
	return 0;
}

int kt_wrapped_parse(const uint8_t *buf, size_t len,
		     struct kt_wrapped_header *ret)
{
	struct kt_wrapped_header h = { 0 };
	size_t want;
	int r;

	if (!buf && len > 0)
		return -EINVAL;
	if (len == 0)
		return -ENODATA;
	if (memcmp(buf, magic, len < sizeof(magic) ? len : sizeof(magic)))
		return -EMEDIUMTYPE;
	if (len < OFF_VERSION + 4)
		return -EINVAL;
	/* Before any other length: a later version may have another
	 * header. */
	h.version = get32(buf + OFF_VERSION);
	if (h.version != KT_WRAPPED_VERSION)
		return -ENOTSUP;
	if (len < KT_WRAPPED_HEADER_SIZE)
		return -EINVAL;

	h.params.t_cost = get32(buf + OFF_T_COST);
	h.params.m_cost_kib = get32(buf + OFF_M_COST);
	h.params.parallelism = get32(buf + OFF_PARALLELISM);
	r = kt_wrapped_params_check(&h.params);
	if (r < 0)
		return r;
	h.passphrase_len = get32(buf + OFF_LENGTH);
	if (h.passphrase_len == 0)
		return -ERANGE;
	if (h.passphrase_len > KT_PASSPHRASE_MAX)
		return -E2BIG;

	want = KT_WRAPPED_HEADER_SIZE + h.passphrase_len + KT_WRAPPED_TAG_SIZE;
	if (len < want)
		return -EINVAL;
	if (len > want)
		return -EBADMSG;

	h.salt = buf + OFF_SALT;
	h.nonce = buf + OFF_NONCE;
	h.ciphertext = buf + KT_WRAPPED_HEADER_SIZE;
	h.ciphertext_len = h.passphrase_len + KT_WRAPPED_TAG_SIZE;
	h.header_len = KT_WRAPPED_HEADER_SIZE;
	if (ret)
		*ret = h;
	return 0;
}

int kt_argon2_errno(int r)
{
	switch (r) {
	case ARGON2_OK:
		return 0;
	case ARGON2_MEMORY_ALLOCATION_ERROR:
		return -ENOMEM;
	case ARGON2_THREAD_FAIL:
		return -EAGAIN;
	default:
		return -EINVAL;
	}
}

static int derive_key(const struct kt_secret *login,
		      const struct kt_wrapped_params *p, const uint8_t *salt,
		      struct kt_secret **ret_key)
{
	_cleanup_secret_ struct kt_secret *key = NULL;
	int r;

	r = kt_wrapped_params_check(p);
	if (r < 0)
		return r;
	key = kt_secret_new(KT_WRAPPED_KEY_SIZE);
	if (!key)
		return kt_negerrno();
	/* libargon2 wipes its working memory when it frees it. */
	r = argon2id_hash_raw(p->t_cost, p->m_cost_kib, p->parallelism,
			      login->data, login->len, salt,
			      KT_WRAPPED_SALT_SIZE, key->data, key->len);
	r = kt_argon2_errno(r);
	if (r < 0)
		return r;
	*ret_key = TAKE_PTR(key);
	return 0;
}

static int check_login(const struct kt_secret *login)
{
	if (!login || login->len > KT_PASSPHRASE_MAX)
		return -EINVAL;
	return 0;
}

int kt_wrapped_seal(const struct kt_secret *login,
		    const struct kt_secret *mount_passphrase,
		    const struct kt_wrapped_params *p,
		    uint8_t **ret_buf, size_t *ret_len)
{
	_cleanup_secret_ struct kt_secret *key = NULL;
	_cleanup_free_ uint8_t *buf = NULL;
	unsigned long long clen = 0;
	size_t len;
	int r;

	if (!ret_buf || !ret_len)
		return -EINVAL;
	r = check_login(login);
	if (r < 0)
		return r;
	if (!mount_passphrase || mount_passphrase->len == 0 ||
	    mount_passphrase->len > KT_PASSPHRASE_MAX)
		return -EINVAL;
	r = kt_wrapped_params_check(p);
	if (r < 0)
		return r;
	if (sodium_init() < 0)
		return -EIO;

	len = KT_WRAPPED_HEADER_SIZE + mount_passphrase->len +
	      KT_WRAPPED_TAG_SIZE;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, magic, sizeof(magic));
	put32(buf + OFF_VERSION, KT_WRAPPED_VERSION);
	put32(buf + OFF_T_COST, p->t_cost);
	put32(buf + OFF_M_COST, p->m_cost_kib);
	put32(buf + OFF_PARALLELISM, p->parallelism);
	put32(buf + OFF_LENGTH, mount_passphrase->len);
	randombytes_buf(buf + OFF_SALT, KT_WRAPPED_SALT_SIZE);
	randombytes_buf(buf + OFF_NONCE, KT_WRAPPED_NONCE_SIZE);

	r = derive_key(login, p, buf + OFF_SALT, &key);
	if (r < 0)
		return r;
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(
		    buf + KT_WRAPPED_HEADER_SIZE, &clen,
		    mount_passphrase->data, mount_passphrase->len,
		    buf, KT_WRAPPED_HEADER_SIZE, NULL,
		    buf + OFF_NONCE, key->data) != 0)
		return -EIO;
	if (clen != mount_passphrase->len + KT_WRAPPED_TAG_SIZE)
		return -EIO;

	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

int kt_wrapped_open(const uint8_t *buf, size_t len,
		    const struct kt_secret *login,
		    struct kt_secret **ret_mount_passphrase)
{
	_cleanup_secret_ struct kt_secret *key = NULL, *plain = NULL;
	struct kt_wrapped_header h;
	unsigned long long plen = 0;
	int r;

	if (!ret_mount_passphrase)
		return -EINVAL;
	r = check_login(login);
	if (r < 0)
		return r;
	r = kt_wrapped_parse(buf, len, &h);
	if (r < 0)
		return r;
	if (sodium_init() < 0)
		return -EIO;

	r = derive_key(login, &h.params, h.salt, &key);
	if (r < 0)
		return r;
	plain = kt_secret_new(h.passphrase_len);
	if (!plain)
		return kt_negerrno();
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    plain->data, &plen, NULL, h.ciphertext, h.ciphertext_len,
		    buf, h.header_len, h.nonce, key->data) != 0)
		return -EBADMSG;
	if (plen != h.passphrase_len)
		return -EBADMSG;

	*ret_mount_passphrase = TAKE_PTR(plain);
	return 0;
}

int kt_wrapped_rewrap(const uint8_t *buf, size_t len,
		      const struct kt_secret *old_login,
		      const struct kt_secret *new_login,
		      const struct kt_wrapped_params *p,
		      uint8_t **ret_buf, size_t *ret_len)
{
	_cleanup_secret_ struct kt_secret *mount_passphrase = NULL;
	struct kt_wrapped_header h;
	int r;

	r = kt_wrapped_parse(buf, len, &h);
	if (r < 0)
		return r;
	r = kt_wrapped_open(buf, len, old_login, &mount_passphrase);
	if (r < 0)
		return r;
	return kt_wrapped_seal(new_login, mount_passphrase, p ? p : &h.params,
			       ret_buf, ret_len);
}

/* ---- files --------------------------------------------------------- */

static bool name_is_plain(const char *name)
{
	return name && name[0] && !strchr(name, '/') && strcmp(name, ".") &&
	       strcmp(name, "..") && strlen(name) <= 200;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kt_negerrno();
		}
		if (n == 0)
			return -EIO;
		buf += n;
		len -= n;
	}
	return 0;
}

static int fsync_dir(int dirfd)
{
	_cleanup_close_ int fd = -1;

	/* dirfd may be O_PATH, which fsync() refuses. */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return kt_negerrno();
	if (fsync(fd) < 0)
		return kt_negerrno();
	return 0;
}

static int create_temporary(int dirfd, const char *name, char *tmp,
			    size_t tmp_size)
{
	for (int attempt = 0; attempt < 16; attempt++) {
		uint8_t rnd[6];
		char hex[sizeof(rnd) * 2 + 1];
		int fd;

		randombytes_buf(rnd, sizeof(rnd));
		sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
		snprintf(tmp, tmp_size, ".%s.%s~", name, hex);
		fd = openat(dirfd, tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC | O_NOCTTY,
			    0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return kt_negerrno();
	}
	return -EEXIST;
}

/* A temporary of create_temporary() for name: ".NAME.<12 hex>~". */
static bool is_temporary_of(const char *entry, const char *name)
{
	size_t n = strlen(name), e = strlen(entry);

	return e == n + 15 && entry[0] == '.' &&
	       strncmp(entry + 1, name, n) == 0 && entry[n + 1] == '.' &&
	       strspn(entry + n + 2, "0123456789abcdef") == 12 &&
	       entry[e - 1] == '~';
}

/*
 * Removes what writes of name killed before their rename left beside it:
 * regular files (never following a link) of the new file's owner, or of
 * this writer's (killed before its fchown), named as create_temporary()
 * names them. Re-keys, the writers that replace a file, hold the user's
 * session lock, so none of them is in flight. An enroll (no lock: it
 * writes only a file that is not there yet) racing with another writer
 * of the same name can lose its temporary here: its rename then fails
 * and it says so, where it would otherwise have replaced the file just
 * written. Best effort: the new file is in place either way.
 */
static void remove_stale_temporaries(int dirfd, const char *name,
				     uid_t owner)
{
	struct dirent *de;
	struct stat st;
	DIR *d;
	int fd;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((de = readdir(d)))
		if (is_temporary_of(de->d_name, name) &&
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) &&
		    (st.st_uid == owner || st.st_uid == geteuid()))
			(void)unlinkat(dirfd, de->d_name, 0);
	closedir(d);
}

int kt_wrapped_write_at(int dirfd, const char *name, uid_t owner,
			gid_t group, const uint8_t *buf, size_t len)
{
	_cleanup_close_ int fd = -1;
	char tmp[256];
	int r;

	if (!name_is_plain(name) || (!buf && len > 0))
		return -EINVAL;
	if (sodium_init() < 0)
		return -EIO;
	fd = create_temporary(dirfd, name, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;

	if ((owner != (uid_t)-1 || group != (gid_t)-1) &&
	    fchown(fd, owner, group) < 0) {
		r = kt_negerrno();
		goto fail;
	}
	/* After fchown: the umask, or a chown, must not leave it open. */
	if (fchmod(fd, 0600) < 0) {
		r = kt_negerrno();
		goto fail;
	}
	r = write_all(fd, buf, len);
	if (r < 0)
		goto fail;
	if (fsync(fd) < 0) {
		r = kt_negerrno();
		goto fail;
	}
	if (close(TAKE_FD(fd)) < 0) {
		r = kt_negerrno();
		goto fail;
	}
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		r = kt_negerrno();
		goto fail;
	}
	remove_stale_temporaries(dirfd, name,
				 owner != (uid_t)-1 ? owner : geteuid());
	/* The rename is done; a failed directory sync only weakens its
	 * durability, and the caller should hear of it. */
	return fsync_dir(dirfd);

fail:
	(void)unlinkat(dirfd, tmp, 0);
	return r;
}

static int check_type(const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return -ELOOP;
	if (S_ISDIR(st->st_mode))
		return -EISDIR;
	if (!S_ISREG(st->st_mode))
		return -EBADFD;
	return 0;
}

int kt_wrapped_read_at(int dirfd, const char *name, uid_t owner,
		       uint8_t **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int path_fd = -1, fd = -1;
	_cleanup_free_ uint8_t *buf = NULL;
	struct stat st1, st2;
	size_t len = 0;
	int r;

	if (!name_is_plain(name) || !ret_buf || !ret_len)
		return -EINVAL;

	/* Look first, without opening: O_PATH opens neither FIFOs nor
	 * devices, and with O_NOFOLLOW it yields the symlink itself. */
	path_fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (path_fd < 0)
		return kt_negerrno();
	if (fstat(path_fd, &st1) < 0)
		return kt_negerrno();
	r = check_type(&st1);
	if (r < 0)
		return r;

	/* Then open for reading; O_NONBLOCK so that even a FIFO swapped in
	 * meanwhile can't block, and check what was opened. */
	fd = openat(dirfd, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return kt_negerrno();
	if (fstat(fd, &st2) < 0)
		return kt_negerrno();
	r = check_type(&st2);
	if (r < 0)
		return r;
	if (st1.st_dev != st2.st_dev || st1.st_ino != st2.st_ino)
		return -ESTALE;
	if (st2.st_uid != owner)
		return -EPERM;
	if (st2.st_mode & (S_IRWXG | S_IRWXO))
		return -EACCES;
	if (st2.st_size == 0)
		return -ENODATA;
	if (st2.st_size > KT_WRAPPED_SIZE_MAX)
		return -EFBIG;

	/* Read to EOF but no more than the bound (+1 to notice growth). */
	buf = malloc(KT_WRAPPED_SIZE_MAX + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read(fd, buf + len, KT_WRAPPED_SIZE_MAX + 1 - len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return kt_negerrno();
		}
		if (n == 0)
			break;
		len += n;
		if (len > KT_WRAPPED_SIZE_MAX)
			return -EFBIG;
	}
	if (len == 0)
		return -ENODATA;

	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* ---- calibration ----------------------------------------------------- */

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Microseconds one derivation at p takes here: the faster of two runs, so
 * that a moment of load elsewhere does not make the cost too low.
 */
static int measure(const struct kt_wrapped_params *p, uint64_t *ret_us)
{
	static const uint8_t salt[KT_WRAPPED_SALT_SIZE] = "keyturn-bench";
	uint8_t out[KT_WRAPPED_KEY_SIZE];
	uint64_t best = UINT64_MAX;

	for (int run = 0; run < 2; run++) {
		uint64_t start = now_us(), us;
		int r;

		r = argon2id_hash_raw(p->t_cost, p->m_cost_kib, p->parallelism,
				      "benchmark", 9, salt, sizeof(salt), out,
				      sizeof(out));
		if (r != ARGON2_OK)
			return kt_argon2_errno(r);
		us = now_us() - start;
		if (us < best)
			best = us;
	}
	*ret_us = best > 0 ? best : 1;
	return 0;
}

#define CALIBRATE_T_MIN 3
#define CALIBRATE_M_START 4096u     /* KiB */
#define CALIBRATE_PROBE_US 50000    /* long enough to measure */

static uint32_t clamp32(uint64_t v, uint32_t lo, uint32_t hi)
{
	return v < lo ? lo : v > hi ? hi : (uint32_t)v;
}

int kt_wrapped_calibrate(unsigned target_ms, uint32_t max_m_cost_kib,
			 uint32_t max_t_cost, struct kt_wrapped_params *ret)
{
	struct kt_wrapped_params p;
	uint64_t target_us, us, work;
	long cpus, pages, page_size;
	uint32_t m_min, t_min;
	int r;

	if (!ret)
		return -EINVAL;
	if (target_ms == 0)
		target_ms = KT_WRAPPED_TARGET_MS_DEFAULT;
	if (max_m_cost_kib == 0) {
		max_m_cost_kib = KT_WRAPPED_M_COST_DEFAULT;
		pages = sysconf(_SC_PHYS_PAGES);
		page_size = sysconf(_SC_PAGESIZE);
		if (pages > 0 && page_size > 0 &&
		    (uint64_t)pages * (uint64_t)page_size / 2048 <
			    max_m_cost_kib)
			max_m_cost_kib = (uint64_t)pages * page_size / 2048;
	}
	if (max_m_cost_kib > KT_WRAPPED_M_COST_MAX ||
	    max_t_cost > KT_WRAPPED_T_COST_MAX)
		return -E2BIG;
	if (max_t_cost == 0)
		max_t_cost = KT_WRAPPED_T_COST_MAX;
	t_min = max_t_cost < CALIBRATE_T_MIN ? max_t_cost : CALIBRATE_T_MIN;
	target_us = (uint64_t)target_ms * 1000;

	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	p.parallelism = clamp32(cpus > 0 ? (uint64_t)cpus : 1, 1, 4);
	while (p.parallelism > 1 &&
	       KT_WRAPPED_M_COST_MIN(p.parallelism) > max_m_cost_kib)
		p.parallelism--;
	m_min = KT_WRAPPED_M_COST_MIN(p.parallelism);
	if (max_m_cost_kib < m_min)
		return -ERANGE;

	/* Probe until a run is long enough to time, memory growing. */
	p.t_cost = t_min;
	p.m_cost_kib = clamp32(CALIBRATE_M_START, m_min, max_m_cost_kib);
	for (;;) {
		r = measure(&p, &us);
		if (r < 0)
			return r;
		if (us >= CALIBRATE_PROBE_US || us >= target_us ||
		    p.m_cost_kib >= max_m_cost_kib)
			break;
		p.m_cost_kib = clamp32((uint64_t)p.m_cost_kib * 4, m_min,
				       max_m_cost_kib);
	}

	/* Time is about linear in t * m: spend the target on memory up to
	 * its bound, then on iterations; below the minimum iterations
	 * shrink memory instead. */
	for (int round = 0; round < 2; round++) {
		work = (uint64_t)p.t_cost * p.m_cost_kib * target_us / us;
		if (work / t_min <= max_m_cost_kib) {
			p.t_cost = t_min;
			p.m_cost_kib = clamp32(work / t_min, m_min,
					       max_m_cost_kib);
		} else {
			p.m_cost_kib = max_m_cost_kib;
			p.t_cost = clamp32(work / max_m_cost_kib, t_min,
					   max_t_cost);
		}
		/* One more run at the chosen cost corrects the estimate. */
		if (round == 0) {
			r = measure(&p, &us);
			if (r < 0)
				return r;
			if (us > target_us * 8 / 10 &&
			    us < target_us * 12 / 10)
				break;
		}
	}

	r = kt_wrapped_params_check(&p);
	if (r < 0)
		return r;
	*ret = p;
	return 0;
}
