# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Go programs of ours for the Go backend of `loupe trace ssl` (tests/ssl/go/,
# bench/go_tls_loop.go), built with Debian's golang-go from the standard
# library only: GOPATH mode, no module download, caches under $(OUTPUT)/go.
# Variants of one client/server, as Go programs are shipped:
#   gotls            the Go linker, static, with .symtab
#   gotls-stripped   -s -w: functions from .gopclntab only
#   gotls-cgo        cgo, position-independent, linked by the system linker,
#                    stripped (as dockerd is): pclntab in .data.rel.ro, TLS block
#   gonotls          a Go program without crypto/tls
#   gotls-go115      Go 1.15 (fetched from Debian bullseye by scripts/go-old.sh):
#                    arguments and results on the stack, g in thread-local storage

GO        ?= go
GO_DIR    := $(abspath $(OUTPUT))/go
GO_ENV    := HOME=$(GO_DIR) GOCACHE=$(GO_DIR)/cache GOPATH=$(GO_DIR)/path GO111MODULE=off \
	     GOPROXY=off GOTOOLCHAIN=local GOFLAGS=-trimpath
GO_TESTS  := $(addprefix $(OUTPUT)/tests/go/,gotls gotls-stripped gotls-cgo gonotls gotls-go115)
TEST_DEPS += $(GO_TESTS) $(OUTPUT)/tests/gobin_dump

$(OUTPUT)/tests/go/gotls: tests/ssl/go/gotls.go
	$(call msg,GO,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(GO_ENV) CGO_ENABLED=0 $(GO) build -o $(abspath $@) $<

$(OUTPUT)/tests/go/gotls-stripped: tests/ssl/go/gotls.go
	$(call msg,GO,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(GO_ENV) CGO_ENABLED=0 $(GO) build -ldflags='-s -w' -o $(abspath $@) $<

$(OUTPUT)/tests/go/gotls-cgo: tests/ssl/go/gotls.go
	$(call msg,GO,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(GO_ENV) CGO_ENABLED=1 $(GO) build -buildmode=pie -ldflags='-s -w -linkmode=external' \
		-o $(abspath $@) $<

$(OUTPUT)/tests/go/gonotls: tests/ssl/go/gonotls.go
	$(call msg,GO,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(GO_ENV) CGO_ENABLED=0 $(GO) build -o $(abspath $@) $<

$(OUTPUT)/tests/go/gotls-go115: tests/ssl/go/gotls.go scripts/go-old.sh
	$(call msg,GO-1.15,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)goroot=$$(scripts/go-old.sh) && $(GO_ENV) GOCACHE=$(GO_DIR)/cache-1.15 GOROOT=$$goroot \
		CGO_ENABLED=0 $$goroot/bin/go build -o $(abspath $@) $<

# What loupe reads from a Go executable, for tests/ssl/test_go_decoder.py.
$(OUTPUT)/tests/gobin_dump: tests/ssl/gobin_dump.c $(OUTPUT)/libloupe.a
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $< $(OUTPUT)/libloupe.a $(LDLIBS) -o $@

# The Go TLS loop of bench/go_bench.py (a prerequisite more of bench-tools).
bench-tools: $(OUTPUT)/bench/go_tls_loop

$(OUTPUT)/bench/go_tls_loop: bench/go_tls_loop.go
	$(call msg,GO,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(GO_ENV) CGO_ENABLED=0 $(GO) build -o $(abspath $@) $<

# The kernel matrix's Go smoke test runs the static client and server in the VM.
$(OUTPUT)/kernels/helpers/gotls: $(OUTPUT)/tests/go/gotls
	$(Q)mkdir -p $(dir $@)
	$(Q)cp $< $@
