# keyturn: plain Makefile. Knobs are ?= so that they can be overridden.

PREFIX ?= /usr
BINDIR ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec/keyturn
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
MULTIARCH ?= $(shell $(CC) -print-multiarch 2>/dev/null)
SECUREDIR ?= /lib/$(MULTIARCH)/security
PAMCONFIGDIR ?= $(PREFIX)/share/pam-configs
RUNDIR ?= /run/keyturn
DESTDIR ?=

CC ?= cc
AR ?= ar
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
WERROR ?= -Werror
SANITIZE ?=

PKGS = pam libkeyutils libcryptsetup libsodium libargon2 libcrypto
DEP_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS))
DEP_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS))

KT_CFLAGS = -std=gnu11 -D_GNU_SOURCE -Wall -Wextra $(WERROR) -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wformat=2 -Wno-unused-parameter \
	-D_FORTIFY_SOURCE=2 -fstack-protector-strong -fPIC \
	-fvisibility=hidden $(SANITIZE) \
	-Ilib $(DEP_CFLAGS) \
	-DKT_CONFIG_PATH='"$(SYSCONFDIR)/security/keyturn.conf"' \
	-DKT_AGENT_PATH='"$(LIBEXECDIR)/keyturn-agent"' \
	-DKT_RUNDIR='"$(RUNDIR)"'
KT_LDFLAGS = -Wl,-z,relro,-z,now $(SANITIZE) $(LDFLAGS)

# Each program's sources, listed: what belongs to which program is read
# here, not worked out from globs.
# libkeyturn.a: what the programs share, by concern: config (parse,
# values, load, expand, edit), volume types and a user's volumes, users,
# the session keyring and the stash, secure memory, LUKS2 and dm,
# eCryptfs, fscrypt (ioctls, the tool's metadata, import, holders),
# mounts, the wrapped file, the wire formats and their I/O, the agent's
# start, session accounting, ordering, limits.
LIB_SRC = lib/config.c lib/config_values.c lib/config_load.c \
	lib/config_expand.c lib/config_edit.c lib/volume_type.c \
	lib/user_volumes.c lib/user.c lib/keyring.c lib/stash.c lib/secret.c \
	lib/luks.c lib/luks_rekey.c lib/dm.c lib/ecryptfs.c lib/fscrypt.c \
	lib/fscrypt_meta.c lib/fscrypt_import.c lib/fscrypt_locate.c \
	lib/holders.c lib/mount.c lib/mount_options.c lib/wrapped.c \
	lib/protocol.c lib/protocol_io.c lib/control.c lib/agent_spawn.c \
	lib/session.c lib/order.c lib/ratelimit.c lib/rlimit.c
LIB_OBJ = $(LIB_SRC:.c=.o)
# The PAM module: one file per hook, the spawn of the agent, the logging.
PAM_SRC = pam/auth.c pam/chauthtok.c pam/hook_session.c pam/log.c \
	pam/spawn.c
PAM_OBJ = $(PAM_SRC:.c=.o)
# keyturn-agent: main, the session's life (agent.c); loading, log and
# reports, opening and locking all, the unlock, one file per backend and
# their table, mounting and who holds a volume, the records, the control socket, the wait and
# the hand-over to keyturn-hold, the re-key mode, limits.
AGENT_SRC = agent/agent.c agent/load.c agent/log_report.c \
	agent/open_lock.c agent/unlock.c agent/backend.c \
	agent/backend_luks2.c agent/backend_ecryptfs.c agent/backend_fscrypt.c \
	agent/mount_volume.c agent/volume_holders.c \
	agent/record.c agent/control_server.c agent/wait_loop.c \
	agent/handover.c agent/rekey.c agent/limits.c
AGENT_OBJ = $(AGENT_SRC:.c=.o)
# keyturn-hold: what an idle agent execs into, libc alone.
HOLD_SRC = agent/hold.c
HOLD_OBJ = $(HOLD_SRC:.c=.o)
# keyturnctl: one file per command, plus its command-line helpers.
CTL_SRC = ctl/keyturnctl.c ctl/cli.c ctl/backend_output.c ctl/read_secret.c \
	ctl/enroll_luks.c ctl/pin_luks.c ctl/enroll_ecryptfs.c ctl/ecryptfs_place.c \
	ctl/enroll_fscrypt.c ctl/enroll_wrapped.c \
	ctl/rekey_user.c ctl/lock_unlock.c ctl/status.c ctl/check_config.c
CTL_OBJ = $(CTL_SRC:.c=.o)
HEADERS = $(wildcard lib/*.h pam/*.h agent/*.h ctl/*.h)

BINS = pam/pam_keyturn.so agent/keyturn-agent agent/keyturn-hold \
	ctl/keyturnctl
MANS = $(wildcard man/*.[58])

all: $(BINS)

%.o: %.c $(HEADERS)
	$(CC) $(KT_CFLAGS) $(CFLAGS) -c -o $@ $<

lib/libkeyturn.a: $(LIB_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

pam/pam_keyturn.so: $(PAM_OBJ) lib/libkeyturn.a pam/pam_keyturn.map
	$(CC) -shared -Wl,--version-script=pam/pam_keyturn.map $(KT_LDFLAGS) \
		-o $@ $(PAM_OBJ) lib/libkeyturn.a $(DEP_LIBS)

agent/keyturn-agent: $(AGENT_OBJ) lib/libkeyturn.a
	$(CC) -pie $(KT_LDFLAGS) -o $@ $(AGENT_OBJ) lib/libkeyturn.a $(DEP_LIBS) -lpthread

# What an idle agent execs into: libc alone (agent/hold.c).
agent/keyturn-hold: $(HOLD_OBJ)
	$(CC) -pie $(KT_LDFLAGS) -o $@ $(HOLD_OBJ)

ctl/keyturnctl: $(CTL_OBJ) lib/libkeyturn.a
	$(CC) -pie $(KT_LDFLAGS) -o $@ $(CTL_OBJ) lib/libkeyturn.a $(DEP_LIBS)

# ---- tests ---------------------------------------------------------------
# Every tests/{unit,host,pam}/test_*.c is one cmocka program. unit: no root;
# host: root, real kernel keyring and LUKS2 image files; pam: pam_wrapper.
UNIT_TESTS = $(patsubst %.c,%,$(sort $(wildcard tests/unit/test_*.c)))
HOST_TESTS = $(patsubst %.c,%,$(sort $(wildcard tests/host/test_*.c)))
PAM_TESTS = $(patsubst %.c,%,$(sort $(wildcard tests/pam/test_*.c)))
TEST_CFLAGS = $(KT_CFLAGS) $(CFLAGS) -Wno-missing-prototypes -Itests \
	$(shell $(PKG_CONFIG) --cflags cmocka) \
	-DKT_BUILDDIR='"$(CURDIR)"'
TEST_HEADERS = $(wildcard tests/*.h)
TEST_LIBS = lib/libkeyturn.a $(DEP_LIBS) $(shell $(PKG_CONFIG) --libs cmocka)

tests/unit/test_%: tests/unit/test_%.c lib/libkeyturn.a $(HEADERS) $(TEST_HEADERS)
	$(CC) $(TEST_CFLAGS) $(KT_LDFLAGS) -o $@ $< $(TEST_LIBS)
tests/host/test_%: tests/host/test_%.c lib/libkeyturn.a $(HEADERS) $(TEST_HEADERS)
	$(CC) $(TEST_CFLAGS) $(KT_LDFLAGS) -o $@ $< $(TEST_LIBS)
tests/pam/test_%: tests/pam/test_%.c lib/libkeyturn.a $(HEADERS) $(TEST_HEADERS)
	$(CC) $(TEST_CFLAGS) $(KT_LDFLAGS) -o $@ $< $(TEST_LIBS) \
		$(shell $(PKG_CONFIG) --libs libpamtest) -lpthread

tests: $(UNIT_TESTS) $(HOST_TESTS) $(PAM_TESTS)

# 'make check' is what CI runs: it installs what is missing (Debian 12),
# then builds and runs every suite. Suites that cannot run here say SKIP.
check: deps
	$(MAKE) check-all

# The Debian tier's images and packages are made in the background while
# the other suites run (mostly the mirror's and dpkg's time); its run takes
# them from the cache, waiting on their lock if they are not ready yet.
check-all: all tests
	mkdir -p tests/debian/build
	if [ "$$(id -u)" = 0 ] && command -v mmdebstrap >/dev/null; then \
		tests/debian/run.sh --prepare \
			>tests/debian/build/prepare.log 2>&1 & fi; \
	tests/run-suites.sh unit pam host man fuzz valgrind asan vm debian

check-unit: all tests
	tests/run-suites.sh unit
check-pam: all tests
	tests/run-suites.sh pam
check-host: all tests
	tests/run-suites.sh host
check-vm: all tests
	tests/run-suites.sh vm
check-man:
	tests/run-suites.sh man
# the package built for Debian 12 and 13, tested on systems of each
check-debian:
	tests/run-suites.sh debian

deps:
	tests/deps.sh

demo: deps
	$(MAKE) all
	tests/vm/run.sh demo

install: all
	install -d $(DESTDIR)$(SECUREDIR) $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/security \
		$(DESTDIR)$(PAMCONFIGDIR)
	install -m 0644 pam/pam_keyturn.so $(DESTDIR)$(SECUREDIR)/
	install -m 0755 agent/keyturn-agent agent/keyturn-hold \
		$(DESTDIR)$(LIBEXECDIR)/
	install -m 0755 ctl/keyturnctl $(DESTDIR)$(BINDIR)/
	for m in $(MANS); do \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/; done
	[ -e $(DESTDIR)$(SYSCONFDIR)/security/keyturn.conf ] || \
		install -m 0644 conf/keyturn.conf $(DESTDIR)$(SYSCONFDIR)/security/
	install -m 0644 conf/pam-configs/keyturn $(DESTDIR)$(PAMCONFIGDIR)/keyturn

clean:
	rm -f lib/*.o lib/*.a pam/*.o agent/*.o ctl/*.o $(BINS) \
		$(UNIT_TESTS) $(HOST_TESTS) $(PAM_TESTS)
	rm -rf tests/vm/build tests/debian/build build/deb

# ---- Debian package --------------------------------------------------------
# 'make deb' builds keyturn_VERSION_ARCH.deb for the release it runs on, in a
# copy of the tree (build/deb/keyturn-VERSION: the build's files and
# dpkg-buildpackage's outputs stay out of the worktree), and leaves it in
# build/. lintian checks it when it is installed.
DEB_VERSION = $(shell dpkg-parsechangelog -l debian/changelog -SVersion)
DEB_ARCH = $(shell dpkg --print-architecture)
DEB_SRC = build/deb/keyturn-$(DEB_VERSION)

deb:
	rm -rf build/deb
	mkdir -p $(DEB_SRC)
	$(MAKE) -s srctree SRCTREE=$(DEB_SRC)
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b
	cp build/deb/keyturn_$(DEB_VERSION)_$(DEB_ARCH).deb build/
	@echo "build/keyturn_$(DEB_VERSION)_$(DEB_ARCH).deb"
	if command -v lintian >/dev/null; then \
		lintian --fail-on error --info \
			build/deb/keyturn_$(DEB_VERSION)_$(DEB_ARCH).changes; fi

# The files of the tree (tracked, or new and not ignored) copied to SRCTREE.
srctree:
	test -n "$(SRCTREE)"
	mkdir -p $(SRCTREE)
	git ls-files -co --exclude-standard | while read -r f; do \
		[ -e "$$f" ] && echo "$$f"; done | tar -cf - -T - | \
		tar -xf - -C $(SRCTREE)

bench: all
	tests/bench/run.sh

.PHONY: all tests check check-all check-unit check-pam check-host check-vm \
	check-man check-debian deps demo install clean bench deb srctree
.DELETE_ON_ERROR:

# Fuzzing and sanitized runs (tests/fuzz/fuzz.mk): make fuzz, check-fuzz,
# check-asan, check-valgrind.
-include tests/fuzz/fuzz.mk
