/*
 * guide_check.c - keeps docs/guide.md honest: every ```c block in the
 * guide must be copied verbatim from one of the example files given.
 *
 *     guide_check GUIDE.md EXAMPLE.c...
 *
 * A block may leave parts out: a line holding only an elision comment,
 * three dots between comment marks (with any indentation), splits it into
 * pieces, and the pieces must appear in that order in one file. Exits 0 when
 * every block is found, else prints the first line of each block that is not
 * and exits 1.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file @path, NUL-terminated; exits on error. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		perror(path);
		exit(2);
	}
	do {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap + 1);
			if (!buf) {
				perror("realloc");
				exit(2);
			}
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f)) {
		perror(path);
		exit(2);
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

/* Is the line at @p (up to its newline) an elision comment? */
static bool is_elision(const char *p)
{
	p += strspn(p, " \t");
	return strncmp(p, "/* ... */\n", 10) == 0;
}

/* Are the pieces of @block (split at elision lines) in @text, in order? */
static bool found_in(const char *block, const char *text)
{
	const char *at = text;
	char *copy = strdup(block), *piece = copy, *line = copy, *nl;
	bool ok = true;

	if (!copy) {
		perror("strdup");
		exit(2);
	}
	for (;;) {
		bool end = *line == '\0';

		if (end || is_elision(line)) {
			char *next = end ? line : strchr(line, '\n') + 1;

			*line = '\0';
			if (*piece) {
				const char *hit = strstr(at, piece);

				if (!hit) {
					ok = false;
					break;
				}
				at = hit + strlen(piece);
			}
			if (end)
				break;
			piece = line = next;
			continue;
		}
		nl = strchr(line, '\n');
		line = nl ? nl + 1 : line + strlen(line);
	}
	free(copy);
	return ok;
}

int main(int argc, char **argv)
{
	char *guide, *p;
	char **texts;
	int blocks = 0, bad = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: guide_check GUIDE.md EXAMPLE.c...\n");
		return 2;
	}
	guide = slurp(argv[1]);
	texts = calloc((size_t)argc, sizeof(*texts));
	if (!texts)
		return 2;
	for (int i = 2; i < argc; i++)
		texts[i] = slurp(argv[i]);

	p = guide;
	while ((p = strstr(p, "\n```c\n")) != NULL) {
		char *start = p + 6, *end = strstr(start, "\n```\n");
		bool ok = false;

		if (!end) {
			fprintf(stderr, "guide_check: unterminated block\n");
			return 1;
		}
		end[1] = '\0'; /* keep the block's last newline */
		for (int i = 2; i < argc && !ok; i++)
			ok = found_in(start, texts[i]);
		end[1] = '`';
		if (!ok) {
			fprintf(stderr,
				"guide_check: block %d is in no example: "
				"%.*s\n",
				blocks + 1, (int)strcspn(start, "\n"), start);
			bad++;
		}
		blocks++;
		p = end + 1;
	}
	printf("guide_check: %d C blocks, %d not found in the examples\n",
	       blocks, bad);
	for (int i = 2; i < argc; i++)
		free(texts[i]);
	free(texts);
	free(guide);
	return bad || blocks == 0 ? 1 : 0;
}
