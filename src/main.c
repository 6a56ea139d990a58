// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* loupe: look inside running processes with eBPF gadgets. */
#include <stdio.h>
#include <string.h>

#include "gadget.h"
#include "inspect/inspect.h"

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
} cmds[] = {
	{ "trace", cmd_trace, "run a gadget: loupe trace GADGET [OPTIONS]" },
	{ "list", cmd_list, "list the gadgets (-v: the hook each uses on this kernel)" },
	{ "inspect", cmd_inspect, "program-to-map diagrams of a BPF object or a gadget" },
	{ "version", cmd_version, "print the version" },
	{ "help", cmd_help, "help on a command: loupe help [COMMAND]" },
	{},
};

static void usage(FILE *fp)
{
	fprintf(fp, "Usage: loupe COMMAND [ARGS]\n\n"
		    "Look inside running processes with eBPF gadgets.\n\nCommands:\n");
	for (const struct cmd *c = cmds; c->name; c++)
		fprintf(fp, "  %-10s %s\n", c->name, c->summary);
	fprintf(fp, "\nGadgets (loupe trace GADGET --help):\n");
	gadgets_print(fp);
	fprintf(fp, "\nExamples:\n"
		    "  sudo loupe trace ssl                 TLS plaintext of every OpenSSL user\n"
		    "  sudo loupe trace ssl -o json --comm curl\n"
		    "  loupe inspect --gadget ssl           how the ssl gadget's programs use maps\n"
		    "\nExit status: 0 success, 1 runtime failure (privileges, kernel, I/O),\n"
		    "2 bad command line.\n");
}

static int cmd_version(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("Usage: loupe version\n\nPrint loupe's version and the commit it was "
		       "built from.\n\nExamples:\n  loupe version\n  loupe --version\n");
		return EXIT_OK;
	}
	printf("loupe %s (%s)\n", LOUPE_VERSION, LOUPE_GIT_REV);
	return EXIT_OK;
}

static const struct cmd *find_cmd(const char *name)
{
	for (const struct cmd *c = cmds; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static int cmd_help(int argc, char **argv)
{
	const struct cmd *c;
	char *help_argv[3];

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return EXIT_OK;
	}
	c = find_cmd(argv[1]);
	if (!c) {
		loupe_err("no command '%s' (see 'loupe help')", argv[1]);
		return EXIT_USAGE;
	}
	if (c->fn == cmd_help) {
		printf("Usage: loupe help [COMMAND [GADGET]]\n\nExamples:\n"
		       "  loupe help                 the commands and gadgets\n"
		       "  loupe help trace ssl       every flag and field of the ssl gadget\n"
		       "  loupe help inspect\n");
		return EXIT_OK;
	}
	/* `loupe help trace ssl` is `loupe trace ssl --help`. */
	help_argv[0] = argv[1];
	help_argv[1] = argc > 2 ? argv[2] : "--help";
	help_argv[2] = "--help";
	return c->fn(argc > 2 ? 3 : 2, help_argv);
}

int main(int argc, char **argv)
{
	const struct cmd *c;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return cmd_help(1, argv);
	if (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))
		return cmd_version(argc - 1, argv + 1);
	c = find_cmd(argv[1]);
	if (!c) {
		loupe_err("unknown command '%s' (see 'loupe help')", argv[1]);
		return EXIT_USAGE;
	}
	return c->fn(argc - 1, argv + 1);
}
