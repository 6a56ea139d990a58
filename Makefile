# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# loupe: one binary, BPF objects embedded through bpftool skeletons.
# Everything is built out of tree in .output/.  `make V=1` shows commands.

# `make check SANITIZE=1`: a build with ASan and UBSan in a directory of its
# own, and the suite run against it (mk/sanitize.mk).
ifeq ($(SANITIZE),1)
OUTPUT    ?= .output-san
LOUPE_BIN := $(OUTPUT)/loupe
endif
OUTPUT    ?= .output
LOUPE_BIN ?= loupe
CLANG     ?= clang
BPFTOOL   ?= bpftool
CC        ?= cc
ARCH      := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
VERSION   := 0.1.0
GIT_REV   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# Gadgets are discovered from the tree: src/gadgets/<name>/<name>.bpf.c.
GADGETS      := $(sort $(notdir $(wildcard src/gadgets/*)))
BPF_OBJS     := $(foreach g,$(GADGETS),$(OUTPUT)/gadgets/$(g).bpf.o)
SKELS        := $(foreach g,$(GADGETS),$(OUTPUT)/gadgets/$(g).skel.h)
BPF_HDRS     := $(wildcard src/bpf/*.h) $(wildcard src/gadgets/*/*.h)

# User-space sources: the runtime, the gadgets' glue, and sub-commands.
RUNTIME_SRCS := $(filter-out src/main.c,$(wildcard src/*.c)) \
		$(filter-out %.bpf.c,$(wildcard src/gadgets/*/*.c)) \
		$(wildcard src/inspect/*.c)
RUNTIME_OBJS := $(patsubst src/%.c,$(OUTPUT)/obj/%.o,$(RUNTIME_SRCS))
MAIN_OBJ     := $(OUTPUT)/obj/main.o

WARNINGS  := -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers \
	     -Wstrict-prototypes -Wmissing-prototypes -Wformat=2
CFLAGS    ?= -O2 -g
CFLAGS    += -std=c11 -D_GNU_SOURCE $(WARNINGS) -Isrc -Isrc/bpf -I$(OUTPUT)/gadgets \
	     -DLOUPE_VERSION='"$(VERSION)"' -DLOUPE_GIT_REV='"$(GIT_REV)"'
LDLIBS    += -lbpf -lelf -lz -lnghttp2 -ljansson -lcrypto
# loupe itself is linked statically, from the Debian packages' archives: one
# file that runs on any x86_64 Linux with BTF, in a FROM scratch image or an
# initramfs (docs/install.md).  static-pie: a root agent that parses untrusted
# bytes keeps its address randomization.  STATIC=0 links it against the
# shared libraries; a sanitizer build must (ASan does not link statically).
STATIC    ?= $(if $(filter 1,$(SANITIZE)),0,1)
LOUPE_LDFLAGS := $(if $(filter 1,$(STATIC)),-static-pie)

# Kernel headers come from the vendored vmlinux.h, never the build host.
CLANG_BPF_SYS_INCLUDES := $(shell $(CLANG) -v -E - </dev/null 2>&1 \
	| sed -n '/<...> search starts here:/,/End of search list./{ s| \(/.*\)|-idirafter \1|p }')
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wno-unused-function \
	      -Isrc/vmlinux -Isrc/bpf -Isrc $(CLANG_BPF_SYS_INCLUDES)

.PHONY: all deps demo check unit integration clean format docs bench soak
.DELETE_ON_ERROR:
.SECONDARY:

all: loupe

# Plain `make` on a machine without the build packages stops with one line
# naming the script to run, not a compiler error about a missing header.
# (Checked again when the script or the installed packages change.)
DEPS_OK := $(OUTPUT)/.deps-ok
DEPS_MISSING = $(shell scripts/install-deps.sh --check 2>&1)
$(DEPS_OK): scripts/install-deps.sh $(wildcard /var/lib/dpkg/status)
	$(if $(DEPS_MISSING),$(error $(DEPS_MISSING)))
	$(Q)mkdir -p $(dir $@) && touch $@

# --- BPF objects and skeletons -------------------------------------------
define gadget_rules
$(OUTPUT)/gadgets/$(1).bpf.o: src/gadgets/$(1)/$(1).bpf.c $(BPF_HDRS) src/vmlinux/vmlinux.h | $(OUTPUT)/gadgets
	$$(call msg,BPF,$$@)
	$$(Q)$$(CLANG) $$(BPF_CFLAGS) -c $$< -o $$@.tmp
	$$(Q)$$(BPFTOOL) gen object $$@ $$@.tmp && rm -f $$@.tmp

$(OUTPUT)/gadgets/$(1).skel.h: $(OUTPUT)/gadgets/$(1).bpf.o
	$$(call msg,GEN-SKEL,$$@)
	$$(Q)$$(BPFTOOL) gen skeleton $$< name $(1)_bpf > $$@
endef
$(foreach g,$(GADGETS),$(eval $(call gadget_rules,$(g))))

# --- user space -----------------------------------------------------------
$(OUTPUT)/obj/%.o: src/%.c $(SKELS) | $(OUTPUT)/gadgets
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(OUTPUT)/libloupe.a: $(RUNTIME_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# Objects, not the archive: gadgets register through a linker section that
# nothing references by name.
$(LOUPE_BIN): $(MAIN_OBJ) $(RUNTIME_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(LOUPE_LDFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/gadgets: | $(DEPS_OK)
	$(Q)mkdir -p $@

-include $(RUNTIME_OBJS:.o=.d) $(MAIN_OBJ:.o=.d)

# --- tests ------------------------------------------------------------------
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/%,$(UNIT_SRCS))

$(OUTPUT)/tests/%: tests/unit/%.c $(OUTPUT)/libloupe.a
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $< $(OUTPUT)/libloupe.a $(LDLIBS) -lcmocka $(TEST_LDLIBS) -o $@

# libpcap reads back what our own pcap writer wrote: a reader we did not write.
$(OUTPUT)/tests/test_ssl_pcap: TEST_LDLIBS += -lpcap

# Sub-systems add their own test artefacts and targets here.
TEST_DEPS :=
-include mk/*.mk

deps:
	$(Q)scripts/install-deps.sh

# The README's two commands.  Both install what is missing first.
demo: deps
	$(Q)$(MAKE) --no-print-directory loupe
	$(Q)scripts/demo.sh

# What the tests are pointed at: this build's directory and binary.
RUN_TESTS = OUTPUT=$(abspath $(OUTPUT)) LOUPE=$(abspath $(LOUPE_BIN)) SANITIZE=$(SANITIZE) \
	    SAN_CC=$(CC) SAN_FLAGS="$(SAN_FLAGS)" tests/run.sh

check: deps
	$(Q)$(MAKE) --no-print-directory $(LOUPE_BIN) $(UNIT_BINS) $(TEST_DEPS) bench-tools
	$(Q)$(RUN_TESTS)

unit: $(LOUPE_BIN) $(UNIT_BINS)
	$(Q)$(RUN_TESTS) unit

integration: $(LOUPE_BIN) $(TEST_DEPS) bench-tools
	$(Q)$(RUN_TESTS) integration

# Helper programs used by tests and benchmarks (our own TLS workloads).
BENCH_BINS := $(OUTPUT)/bench/tls_loop $(OUTPUT)/bench/empty_probes $(OUTPUT)/bench/sysloop
bench-tools: $(BENCH_BINS)

$(OUTPUT)/bench/tls_loop: bench/tls_loop.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $< -lssl -lcrypto -o $@

$(OUTPUT)/bench/sysloop: bench/sysloop.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $< -o $@

$(OUTPUT)/bench/empty_probes.bpf.o: bench/empty_probes.bpf.c | $(OUTPUT)/gadgets
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(OUTPUT)/bench/empty_probes.skel.h: $(OUTPUT)/bench/empty_probes.bpf.o
	$(Q)$(BPFTOOL) gen skeleton $< name empty_probes_bpf > $@

$(OUTPUT)/bench/empty_probes: bench/empty_probes.c $(OUTPUT)/bench/empty_probes.skel.h \
			       $(OUTPUT)/libloupe.a
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -I$(OUTPUT)/bench $< $(OUTPUT)/libloupe.a $(LDLIBS) -o $@

# Benchmarks (root): the ssl capture cost, then the capability gadget's.
bench: loupe bench-tools
	$(Q)bench/ssl_bench.py --rounds 5
	$(Q)bench/ssl_bench.py --go --rounds 5
	$(Q)bench/capabilities/run.sh 5
	$(Q)bench/endpoints_tax.py --rounds 5
	$(Q)bench/scale.py --rounds 3

# The soak (root, 30 minutes; SOAK_SECONDS=N for another length): mixed
# traffic under `trace ssl tcp`, RSS, descriptors and losses (bench/soak.py).
soak: $(LOUPE_BIN)
	$(Q)LOUPE=$(abspath $(LOUPE_BIN)) bench/soak.py --summary $(OUTPUT)/soak.json

format:
	$(Q)clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'bench/*.c' | grep -v vmlinux.h)

clean:
	$(call msg,CLEAN)
	$(Q)rm -rf $(OUTPUT) $(LOUPE_BIN)
