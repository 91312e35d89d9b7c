# keyturn: plain Makefile. Knobs are ?= so that they can be overridden.

PREFIX ?= /usr
SBINDIR ?= $(PREFIX)/sbin
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

LIB_SRC = $(sort $(wildcard lib/*.c))
LIB_OBJ = $(LIB_SRC:.c=.o)
PAM_SRC = $(sort $(wildcard pam/*.c))
PAM_OBJ = $(PAM_SRC:.c=.o)
AGENT_SRC = $(filter-out agent/ctl%.c agent/keyturnctl.c agent/hold.c,\
	$(sort $(wildcard agent/*.c)))
AGENT_OBJ = $(AGENT_SRC:.c=.o)
CTL_SRC = $(sort $(wildcard agent/ctl*.c agent/keyturnctl.c))
CTL_OBJ = $(CTL_SRC:.c=.o)
HEADERS = $(wildcard lib/*.h pam/*.h agent/*.h)

BINS = pam/pam_keyturn.so agent/keyturn-agent agent/keyturn-hold \
	agent/keyturnctl
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
agent/keyturn-hold: agent/hold.o
	$(CC) -pie $(KT_LDFLAGS) -o $@ agent/hold.o

agent/keyturnctl: $(CTL_OBJ) lib/libkeyturn.a
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
		$(shell $(PKG_CONFIG) --libs libpamtest)

tests: $(UNIT_TESTS) $(HOST_TESTS) $(PAM_TESTS)

# 'make check' is what CI runs: it installs what is missing (Debian 12),
# then builds and runs every suite. Suites that cannot run here say SKIP.
check: deps
	$(MAKE) check-all

check-all: all tests
	tests/run-suites.sh unit pam host man fuzz valgrind asan vm

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

deps:
	tests/deps.sh

demo: deps
	$(MAKE) all
	tests/vm/run.sh demo

install: all
	install -d $(DESTDIR)$(SECUREDIR) $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 \
		$(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSCONFDIR)/security \
		$(DESTDIR)$(PAMCONFIGDIR)
	install -m 0644 pam/pam_keyturn.so $(DESTDIR)$(SECUREDIR)/
	install -m 0755 agent/keyturn-agent agent/keyturn-hold \
		$(DESTDIR)$(LIBEXECDIR)/
	install -m 0755 agent/keyturnctl $(DESTDIR)$(SBINDIR)/
	for m in $(MANS); do \
		install -m 0644 $$m $(DESTDIR)$(MANDIR)/man$${m##*.}/; done
	[ -e $(DESTDIR)$(SYSCONFDIR)/security/keyturn.conf ] || \
		install -m 0644 conf/keyturn.conf $(DESTDIR)$(SYSCONFDIR)/security/
	install -m 0644 conf/pam-configs/keyturn $(DESTDIR)$(PAMCONFIGDIR)/keyturn

clean:
	rm -f lib/*.o lib/*.a pam/*.o agent/*.o $(BINS) \
		$(UNIT_TESTS) $(HOST_TESTS) $(PAM_TESTS)
	rm -rf tests/vm/build

bench: all
	tests/bench/run.sh

.PHONY: all tests check check-all check-unit check-pam check-host check-vm \
	check-man deps demo install clean bench
.DELETE_ON_ERROR:

# Fuzzing and sanitized runs (tests/fuzz/fuzz.mk): make fuzz, check-fuzz,
# check-asan, check-valgrind.
-include tests/fuzz/fuzz.mk
