# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# loupe inspect: golden-test objects, `make docs` (developer notes of every
# gadget, generated from the built objects) and the inspect fuzz target's seeds.

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

# Seeds of the inspect fuzz target (fuzz/inspect_fuzz.c, mk/fuzz.mk): our own objects.
fuzz-seeds-inspect: $(INSPECT_TEST_OBJS) $(BPF_OBJS)
