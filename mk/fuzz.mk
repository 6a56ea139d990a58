# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# libFuzzer targets, found in the tree: fuzz/<name>_fuzz.c, whose comment
# lines name what it is built from (docs/development.md, "Fuzzing"):
#   // FUZZ_SRCS: src/gadgets/ssl/http.c src/gadgets/ssl/redact.c
#   // FUZZ_LIBS: -lnghttp2                       (optional)
#   // FUZZ_CFLAGS: -DMAX_FLOWS=8                 (optional)
#   // FUZZ_ARGS: -max_len=65536                  (optional, libFuzzer flags)
# Seeds: fuzz/corpus/<name>/ (committed), plus built files that a .mk adds
# as prerequisites of fuzz-seeds-<name>.  Every target has ASan and UBSan.
#   make fuzz                  each target for FUZZ_TIME seconds (default 60)
#   make fuzz FUZZ=http        one of them
# `make check` runs each for a short time (tests/fuzz/test_fuzz.sh).

FUZZ_TIME    ?= 60
FUZZ_DIR     := $(OUTPUT)/fuzz
FUZZ_NAMES   := $(sort $(patsubst fuzz/%_fuzz.c,%,$(wildcard fuzz/*_fuzz.c)))
FUZZ         ?= $(FUZZ_NAMES)
FUZZ_BINS    := $(foreach n,$(FUZZ_NAMES),$(FUZZ_DIR)/$(n)_fuzz)
FUZZ_HDRS    := $(wildcard src/*.h src/*/*.h src/gadgets/*/*.h fuzz/*.h fuzz/*/*.h)
FUZZ_CFLAGS  := -g -O1 -std=c11 -D_GNU_SOURCE -Isrc -Isrc/bpf -I$(OUTPUT)/gadgets \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-fno-omit-frame-pointer
TEST_DEPS    += $(FUZZ_BINS) fuzz-seeds

# A target's comment line, or nothing: $(call fuzz_tag,name,TAG).
fuzz_tag = $(shell sed -n 's|^// $(2):||p' fuzz/$(1)_fuzz.c)

define fuzz_rules
$(FUZZ_DIR)/$(1)_fuzz: fuzz/$(1)_fuzz.c $(call fuzz_tag,$(1),FUZZ_SRCS) $$(FUZZ_HDRS) | $(SKELS)
	$$(call msg,FUZZ-CC,$$@)
	$$(Q)mkdir -p $$(dir $$@)
	$$(Q)$$(CLANG) $$(FUZZ_CFLAGS) $(call fuzz_tag,$(1),FUZZ_CFLAGS) $$(filter %.c,$$^) \
		$(call fuzz_tag,$(1),FUZZ_LIBS) -o $$@

# Built seeds (prerequisites added by other .mk files) go where the runner looks.
fuzz-seeds-$(1):
	$$(Q)rm -rf $(FUZZ_DIR)/seeds/$(1) && mkdir -p $(FUZZ_DIR)/seeds/$(1)
	$$(Q)$$(if $$^,cp $$^ $(FUZZ_DIR)/seeds/$(1)/)
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call fuzz_rules,$(n))))

.PHONY: fuzz fuzz-seeds $(foreach n,$(FUZZ_NAMES),fuzz-seeds-$(n))
fuzz-seeds: $(foreach n,$(FUZZ_NAMES),fuzz-seeds-$(n))

fuzz: $(foreach n,$(FUZZ),$(FUZZ_DIR)/$(n)_fuzz) fuzz-seeds
	$(Q)OUTPUT=$(abspath $(OUTPUT)) fuzz/run.sh -t $(FUZZ_TIME) $(FUZZ)
