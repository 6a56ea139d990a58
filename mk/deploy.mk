# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# loupe for a cluster (docs/deploy.md):
#   make image [IMAGE=localhost/loupe:VERSION]   a FROM scratch image of the static binary
# deploy/kubernetes/daemonset.yaml runs that image on every node.
# podman reads $CONTAINERS_CONF (this kind of host needs runc and cgroupfs:
# tests/lib/podman.py).

IMAGE     ?= localhost/loupe:$(VERSION)
IMAGE_DIR := $(OUTPUT)/image

.PHONY: image

# Stripped: the image is the binary, and debug sections are half of it.
$(IMAGE_DIR)/loupe: loupe
	$(call msg,STRIP,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)strip -o $@ loupe

image: $(IMAGE_DIR)/loupe deploy/container/Containerfile
	$(call msg,IMAGE,$(IMAGE))
	$(Q)podman build -q -t $(IMAGE) --label org.opencontainers.image.version=$(VERSION) \
		--label org.opencontainers.image.revision=$(GIT_REV) \
		-f deploy/container/Containerfile $(IMAGE_DIR)
