# Fuzzing and sanitized runs, included by the top Makefile.
#
#   make fuzz            each libFuzzer target for FUZZ_SECONDS (60) each
#   make check-fuzz      replay corpora and regression inputs, then a short
#                        pass (FUZZ_SECONDS=10) of each target
#   make check-asan      unit, PAM and host tests built with ASan+UBSan, in
#                        a copy of the tree (tests/fuzz/build/asan)
#   make check-valgrind  the PAM tests under valgrind
#
# Everything built here lives under tests/fuzz/build/, apart from the normal
# build. FUZZ_TARGETS selects targets: make fuzz FUZZ_TARGETS=config.

FUZZ_CC ?= $(shell command -v clang-14 || command -v clang)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= config wrapped protocol keydesc mount fscrypt_meta
FUZZ_DIR = tests/fuzz/build/fuzz
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_PKGS = libsodium libargon2 libkeyutils libcrypto
FUZZ_CFLAGS = -std=gnu11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer \
	-Wall -Wextra $(WERROR) -Wno-unused-parameter \
	-Ilib -Itests/fuzz $(shell $(PKG_CONFIG) --cflags $(FUZZ_PKGS))
FUZZ_LIBS = $(shell $(PKG_CONFIG) --libs $(FUZZ_PKGS))

# The real lib/ sources each target needs (no stubs).
FUZZ_LIB_config = config config_values config_expand config_load \
	volume_type mount_options user
FUZZ_LIB_wrapped = wrapped secret
FUZZ_LIB_protocol = protocol protocol_io volume_type secret stash keyring user
FUZZ_LIB_keydesc = keyring user secret
FUZZ_LIB_mount = mount_options
FUZZ_LIB_fscrypt_meta = fscrypt_meta fscrypt_import fscrypt mount wrapped \
	secret

FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)

$(FUZZ_DIR)/lib/%.o: lib/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer-no-link \
		-c -o $@ $<

define FUZZ_TARGET_RULE
$(FUZZ_DIR)/fuzz_$(1): tests/fuzz/fuzz_$(1).c tests/fuzz/fuzz.h \
		$(FUZZ_LIB_$(1):%=$(FUZZ_DIR)/lib/%.o)
	@mkdir -p $$(@D)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) $$(FUZZ_SAN) -fsanitize=fuzzer -o $$@ \
		$$< $(FUZZ_LIB_$(1):%=$(FUZZ_DIR)/lib/%.o) $$(FUZZ_LIBS)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_TARGET_RULE,$(t))))

fuzz-build: $(FUZZ_BINS)

fuzz:
	MAKE="$(MAKE)" FUZZ_CC="$(FUZZ_CC)" FUZZ_SECONDS=$(FUZZ_SECONDS) \
		FUZZ_TARGETS="$(FUZZ_TARGETS)" tests/fuzz/run.sh fuzz

check-fuzz:
	MAKE="$(MAKE)" FUZZ_CC="$(FUZZ_CC)" FUZZ_SECONDS=10 \
		FUZZ_TARGETS="$(FUZZ_TARGETS)" tests/fuzz/run.sh check

check-asan:
	MAKE="$(MAKE)" tests/fuzz/check-asan.sh

check-valgrind: all tests
	tests/fuzz/check-valgrind.sh

.PHONY: fuzz fuzz-build check-fuzz check-asan check-valgrind

# Regenerates corpus/wrapped (random salts: commit the result).
fuzz-seeds: lib/libkeyturn.a
	@mkdir -p $(FUZZ_DIR)
	$(CC) $(KT_CFLAGS) $(CFLAGS) -o $(FUZZ_DIR)/seed_wrapped \
		tests/fuzz/seed_wrapped.c lib/libkeyturn.a $(DEP_LIBS)
	$(FUZZ_DIR)/seed_wrapped tests/fuzz/corpus/wrapped
.PHONY: fuzz-seeds
