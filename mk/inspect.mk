# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# loupe inspect: golden-test objects, `make docs` (developer notes of every
# gadget, generated from the built objects) and `make fuzz`.

INSPECT_TEST_SRCS := $(wildcard tests/inspect/*.bpf.c)
INSPECT_TEST_OBJS := $(patsubst tests/inspect/%.bpf.c,$(OUTPUT)/tests/inspect/%.bpf.o,$(INSPECT_TEST_SRCS))
TEST_DEPS += $(INSPECT_TEST_OBJS)

# Plain clang output, no `bpftool gen object`: the tests read what clang wrote.
$(OUTPUT)/tests/inspect/%.bpf.o: tests/inspect/%.bpf.c src/vmlinux/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# A gadget's notes are rewritten only when they change, so `make docs` on a
# clean tree leaves git status clean.
docs: loupe
	$(Q)mkdir -p docs/gadgets
	$(Q)set -e; for g in $(GADGETS); do \
		./loupe inspect --gadget $$g > docs/gadgets/$$g-dev.md.tmp; \
		if cmp -s docs/gadgets/$$g-dev.md.tmp docs/gadgets/$$g-dev.md; then \
			rm -f docs/gadgets/$$g-dev.md.tmp; \
		else \
			mv docs/gadgets/$$g-dev.md.tmp docs/gadgets/$$g-dev.md; \
			printf '  %-8s %s\n' GEN docs/gadgets/$$g-dev.md; \
		fi; \
	done

# --- fuzzing (not part of `make check`) ---------------------------------------
# libFuzzer with ASan/UBSan over inspect_analyze() and the renderers, seeded
# with our own objects.  FUZZ_TIME bounds the run; any crash fails the target.
FUZZ_TIME   ?= 60
FUZZ_DIR    := $(OUTPUT)/fuzz
FUZZ_BIN    := $(FUZZ_DIR)/inspect_fuzz
FUZZ_SRCS   := fuzz/inspect_fuzz.c src/inspect/analyze.c src/inspect/render.c
FUZZ_CFLAGS := -g -O1 -std=c11 -D_GNU_SOURCE -iquote src \
	       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

.PHONY: fuzz
$(FUZZ_BIN): $(FUZZ_SRCS) src/inspect/inspect.h
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(FUZZ_SRCS) -lelf -o $@

fuzz: $(FUZZ_BIN) $(INSPECT_TEST_OBJS) $(BPF_OBJS)
	$(Q)mkdir -p $(FUZZ_DIR)/corpus $(FUZZ_DIR)/artifacts
	$(Q)cp $(INSPECT_TEST_OBJS) $(BPF_OBJS) $(FUZZ_DIR)/corpus/
	$(Q)$(FUZZ_BIN) -max_total_time=$(FUZZ_TIME) -max_len=262144 -timeout=10 \
		-artifact_prefix=$(FUZZ_DIR)/artifacts/ -print_final_stats=1 \
		$(FUZZ_DIR)/corpus
