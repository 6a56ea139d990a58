# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Small test programs of ours, for paths no packaged program takes (see the
# comment at the top of each source).

TEST_PROGS := $(OUTPUT)/tests/gnutls_verify3
TEST_DEPS += $(TEST_PROGS)

$(OUTPUT)/tests/gnutls_verify3: tests/ssl/gnutls_verify3.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) -O2 -Wall -Wextra $(SAN_FLAGS) $< -lgnutls -o $@
