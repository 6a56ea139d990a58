// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* `loupe inspect`: the command line around the analyzer. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "gadget.h"
#include "inspect/inspect.h"

#define MAX_OBJECT_SIZE (512u << 20)

enum inspect_out { INSPECT_MARKDOWN, INSPECT_FLOWCHART, INSPECT_SEQUENCE, INSPECT_JSON };

static const char usage_text[] =
	"Usage: loupe inspect [OPTIONS] FILE\n"
	"       loupe inspect [OPTIONS] --gadget NAME\n"
	"\n"
	"Show which BPF program looks up, updates, deletes or outputs to which map,\n"
	"read from a BPF object file without loading it (no root needed).  The\n"
	"default output is the developer-notes markdown with two mermaid diagrams.\n"
	"\n"
	"Options:\n"
	"  -g, --gadget NAME   inspect the object of a gadget built into loupe\n"
	"      --flowchart     print only the mermaid flowchart\n"
	"      --sequence      print only the mermaid sequence diagram\n"
	"  -o, --output FMT    markdown (default), flowchart, sequence or json\n"
	"      --precise       follow register copies and forget clobbered registers\n"
	"                      (Inspektor Gadget does not; diagrams may then differ)\n"
	"      --ig-compat     only the helpers Inspektor Gadget knows: no ring buffer\n"
	"                      output, no stack maps\n"
	"  -h, --help          show this help\n"
	"\n"
	"Examples:\n"
	"  loupe inspect --gadget ssl                 developer notes of the ssl gadget\n"
	"  loupe inspect --flowchart prog.bpf.o       just the flowchart\n"
	"  loupe inspect -o json prog.bpf.o | jq .edges\n"
	"\n"
	"Rules and differences from Inspektor Gadget: docs/inspect.md\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("loupe: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputs("; see 'loupe inspect --help'\n", stderr);
	va_end(ap);
	return 2;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* Whole file in memory; on failure prints the one error line. */
static void *read_file(const char *path, size_t *size)
{
	struct stat st;
	void *buf = NULL;
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "loupe: cannot open %s: %s; give the path of a BPF object file\n",
			path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		fprintf(stderr,
			"loupe: %s is not a regular file; give the path of a BPF object file\n",
			path);
		goto out;
	}
	if ((unsigned long long)st.st_size > MAX_OBJECT_SIZE) {
		fprintf(stderr, "loupe: %s is larger than %u MiB, too large for a BPF object\n",
			path, MAX_OBJECT_SIZE >> 20);
		goto out;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		fprintf(stderr, "loupe: out of memory reading %s\n", path);
		goto out;
	}
	n = fread(buf, 1, (size_t)st.st_size, f);
	if (n != (size_t)st.st_size || ferror(f)) {
		fprintf(stderr, "loupe: cannot read %s: %s\n", path,
			ferror(f) ? strerror(errno) : "file changed while reading");
		free(buf);
		buf = NULL;
		goto out;
	}
	*size = n;
out:
	fclose(f);
	return buf;
}

struct inspect_args {
	struct inspect_opts opts;
	enum inspect_out mode;
	int modes; /* output choices given: more than one is an error */
	const char *file, *gadget;
};

/* -o FORMAT: the value of argv[*i] (-oX, --output=X, or the next word). */
static int parse_output(const char *a, int argc, char **argv, int *i, struct inspect_args *ia)
{
	static const struct {
		const char *name;
		enum inspect_out mode;
	} formats[] = {
		{ "json", INSPECT_JSON },	  { "markdown", INSPECT_MARKDOWN },
		{ "md", INSPECT_MARKDOWN },	  { "flowchart", INSPECT_FLOWCHART },
		{ "sequence", INSPECT_SEQUENCE },
	};
	const char *val;

	if (!strncmp(a, "--output=", 9))
		val = a + 9;
	else if (a[1] == 'o' && a[2])
		val = a + 2;
	else if (*i + 1 < argc)
		val = argv[++*i];
	else
		return usage_error("%s needs a format: markdown, flowchart, sequence or json", a);
	for (size_t f = 0; f < sizeof(formats) / sizeof(formats[0]); f++) {
		if (!strcmp(val, formats[f].name)) {
			ia->mode = formats[f].mode;
			ia->modes++;
			return 0;
		}
	}
	return usage_error("unknown output format '%s'; use markdown, flowchart, sequence or json",
			   val);
}

static int parse_gadget(const char *a, int argc, char **argv, int *i, struct inspect_args *ia)
{
	if (ia->gadget)
		return usage_error("%s given twice; inspect one gadget at a time", a);
	if (a[1] == '-' && a[8] == '=')
		ia->gadget = a + 9;
	else if (*i + 1 < argc)
		ia->gadget = argv[++*i];
	else
		return usage_error("%s needs a gadget name", a);
	return 0;
}

/* One argument (and its value); 0, 2 (usage, said), or -1: --help was printed. */
static int parse_arg(int argc, char **argv, int *i, struct inspect_args *ia)
{
	const char *a = argv[*i];

	if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
		fputs(usage_text, stdout);
		return -1;
	}
	if (!strcmp(a, "--flowchart") || !strcmp(a, "--sequence")) {
		ia->mode = a[2] == 'f' ? INSPECT_FLOWCHART : INSPECT_SEQUENCE;
		ia->modes++;
	} else if (!strcmp(a, "--precise")) {
		ia->opts.precise = true;
	} else if (!strcmp(a, "--ig-compat")) {
		ia->opts.ig_compat = true;
	} else if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strncmp(a, "--output=", 9) ||
		   !strncmp(a, "-o", 2)) {
		return parse_output(a, argc, argv, i, ia);
	} else if (!strcmp(a, "-g") || !strcmp(a, "--gadget") || !strncmp(a, "--gadget=", 9)) {
		return parse_gadget(a, argc, argv, i, ia);
	} else if (!strcmp(a, "--")) {
		if (*i + 1 < argc && !ia->file)
			ia->file = argv[++*i];
		if (*i + 1 < argc)
			return usage_error("unexpected argument '%s'", argv[*i + 1]);
	} else if (a[0] == '-' && a[1]) {
		return usage_error("unknown option '%s'", a);
	} else if (ia->file) {
		return usage_error("unexpected argument '%s'; inspect one file at a time", a);
	} else {
		ia->file = a;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct inspect_args *ia)
{
	int err;

	for (int i = 1; i < argc; i++)
		if ((err = parse_arg(argc, argv, &i, ia)))
			return err;
	if (ia->modes > 1)
		return usage_error("choose one output: --flowchart, --sequence or -o FORMAT");
	if (ia->file && ia->gadget)
		return usage_error("give either FILE or --gadget %s, not both", ia->gadget);
	if (!ia->file && !ia->gadget)
		return usage_error("missing FILE or --gadget NAME");
	return 0;
}

static void render(const struct inspect_args *ia, const void *obj, size_t size,
		   struct inspect_result *res)
{
	char cmdline[256] = "loupe inspect";

	switch (ia->mode) {
	case INSPECT_FLOWCHART:
		inspect_flowchart(stdout, res);
		break;
	case INSPECT_SEQUENCE:
		inspect_sequence(stdout, res);
		break;
	case INSPECT_JSON:
		inspect_add_meta(obj, size, ia->gadget ? ia->gadget : base_name(ia->file), res);
		inspect_json(stdout, res, ia->gadget ? ia->gadget : ia->file);
		break;
	case INSPECT_MARKDOWN:
		if (ia->gadget)
			snprintf(cmdline, sizeof(cmdline), "loupe inspect --gadget %s", ia->gadget);
		inspect_markdown(stdout, res, ia->gadget,
				 ia->gadget ? gadget_description(ia->gadget) : NULL, cmdline);
		break;
	}
}

int cmd_inspect(int argc, char **argv)
{
	struct inspect_args ia = { .mode = INSPECT_MARKDOWN };
	struct inspect_result res;
	const void *obj;
	void *owned = NULL;
	size_t size = 0;
	int ret = 0;

	if ((ret = parse_args(argc, argv, &ia)))
		return ret < 0 ? 0 : ret;
	if (ia.gadget) {
		obj = gadget_object_bytes(ia.gadget, &size);
		if (!obj)
			return usage_error("unknown gadget '%s'; 'loupe list' shows the gadgets",
					   ia.gadget);
	} else if (!(obj = owned = read_file(ia.file, &size))) {
		return 1;
	}
	if (inspect_analyze(obj, size, &ia.opts, &res)) {
		fprintf(stderr, "loupe: %s: %s\n", ia.gadget ? ia.gadget : ia.file, res.err);
		ret = 1;
	} else {
		render(&ia, obj, size, &res);
		if (fflush(stdout) || ferror(stdout)) {
			fprintf(stderr, "loupe: cannot write the output: %s\n", strerror(errno));
			ret = 1;
		}
	}
	inspect_free(&res);
	free(owned);
	return ret;
}
