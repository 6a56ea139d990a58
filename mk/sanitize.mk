# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# make check SANITIZE=1: loupe, the unit tests and our test programs built
# with ASan and UBSan into .output-san/ (the Makefile sets OUTPUT and
# LOUPE_BIN), and the whole suite run against them; tests/run.sh fails a
# test whose programs reported anything (docs/development.md, "Sanitizers").

ifeq ($(SANITIZE),1)
# clang: GCC's separate UBSan runtime ignores log_path and reports only on stderr.
CC        := clang
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# What clang, not GCC, says of libbpf's printf callback and of records ending in data.
SAN_WARN  := -Wno-format-nonliteral -Wno-gnu-variable-sized-type-not-at-end
CFLAGS    += $(SAN_FLAGS) $(SAN_WARN)
LDFLAGS   += $(SAN_FLAGS)
endif
