# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# Installing loupe the way operators expect (docs/install.md):
#   make install [PREFIX=/usr/local] [DESTDIR=...]   loupe, loupe(8), bash completion
#   make uninstall                                   the same files removed
#   make deb                                         a Debian package of them
# The man page and the completion are generated from the built loupe's own
# help (scripts/helpdoc.py), so they say what the program says.

PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions
INSTALL     ?= install

# The page's date: the commit's, so that a rebuild of one commit is the same file.
DOC_DATE    := $(shell git log -1 --format=%cs 2>/dev/null || date +%F)
MAN_PAGE    := $(OUTPUT)/doc/loupe.8
COMPLETION  := $(OUTPUT)/doc/loupe.bash

.PHONY: install uninstall man deb

$(MAN_PAGE): loupe scripts/helpdoc.py
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)scripts/helpdoc.py man ./loupe $(DOC_DATE) > $@

$(COMPLETION): loupe scripts/helpdoc.py
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)scripts/helpdoc.py bash ./loupe > $@

man: $(MAN_PAGE) $(COMPLETION)

install: loupe $(MAN_PAGE) $(COMPLETION)
	$(call msg,INSTALL,$(DESTDIR)$(PREFIX))
	$(Q)$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(BASHCOMPDIR)
	$(Q)$(INSTALL) -m 0755 loupe $(DESTDIR)$(SBINDIR)/loupe
	$(Q)$(INSTALL) -m 0644 $(MAN_PAGE) $(DESTDIR)$(MANDIR)/man8/loupe.8
	$(Q)$(INSTALL) -m 0644 $(COMPLETION) $(DESTDIR)$(BASHCOMPDIR)/loupe

uninstall:
	$(call msg,UNINSTALL,$(DESTDIR)$(PREFIX))
	$(Q)rm -f $(DESTDIR)$(SBINDIR)/loupe $(DESTDIR)$(MANDIR)/man8/loupe.8 \
		$(DESTDIR)$(BASHCOMPDIR)/loupe

# --- the Debian package -----------------------------------------------------
DEB_ARCH := $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB      := $(OUTPUT)/loupe_$(VERSION)_$(DEB_ARCH).deb
DEB_ROOT := $(OUTPUT)/deb/root

deb: $(DEB)

$(DEB): loupe $(MAN_PAGE) $(COMPLETION) scripts/mkdeb.sh deploy/debian/copyright README.md
	$(call msg,DEB,$@)
	$(Q)rm -rf $(DEB_ROOT)
	$(Q)$(MAKE) --no-print-directory install DESTDIR=$(abspath $(DEB_ROOT)) PREFIX=/usr >/dev/null
	$(Q)CC="$(CC)" scripts/mkdeb.sh $(DEB_ROOT) $(VERSION) $(DEB_ARCH) $@ "$(LDLIBS)"
