# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# The kernel matrix (docs/kernels.md): every gadget's smoke test on Debian's
# 5.10, 6.1 and 6.12 kernels under qemu and on this machine's kernel.
#   make check-kernels                         all four
#   make check-kernels KERNELS="5.10 host"     some of them (docs/kernels.md untouched)
# Kernels are cached in /var/cache/loupe-kernels (KERNELS_CACHE=...).

KERNELS         ?=
KT_HELPERS_DIR  := $(OUTPUT)/kernels/helpers
KT_HELPERS      := $(KT_HELPERS_DIR)/caphelp $(KT_HELPERS_DIR)/fdhelp $(KT_HELPERS_DIR)/cert.pem \
		   $(KT_HELPERS_DIR)/gotls

.PHONY: check-kernels kernel-helpers

# Static: the VM has busybox's libc-less world plus the libraries of loupe and openssl only.
$(KT_HELPERS_DIR)/%: tests/kernels/%.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -Wall -Wextra -static $< -o $@

# A throwaway self-signed P-256 certificate for openssl s_server in the VM.
$(KT_HELPERS_DIR)/cert.pem:
	$(call msg,CERT,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout $(KT_HELPERS_DIR)/key.pem -out $@ -days 36500 -subj /CN=localhost 2>/dev/null

kernel-helpers: $(KT_HELPERS)

check-kernels: deps
	$(Q)$(MAKE) --no-print-directory loupe kernel-helpers
	$(Q)OUTPUT=$(abspath $(OUTPUT)) LOUPE=$(CURDIR)/loupe KT_HELPERS=$(abspath $(KT_HELPERS_DIR)) \
		scripts/kernels/check.sh $(KERNELS)
