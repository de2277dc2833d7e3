/*
 * fuzz_journal.c - libFuzzer target: loading a data directory at start
 * (server/recover.c, docs/protocol.md section 10.1): the file headers, the
 * records (length, CRC-32, a MessagePack-RPC request), the '@' records,
 * the calls replayed through ag_dispatch() on the loading connection, torn
 * tails, damage and --data-repair.
 *
 * Input: a flag byte F, then the bytes of the file(s) of generation G
 * (1; 2 with F & 32).
 *   F & 3   what the bytes are:
 *           0  journal G, the last journal
 *           1  the same, followed by journal G+1 (a file header alone):
 *              the journal is not the last one, its damage is no torn tail
 *           2  snapshot G (the server then starts journal G after it)
 *           3  a snapshot and a journal: a 2-byte big-endian length L,
 *              L bytes of snapshot G, the rest journal G (the last)
 *   F & 4   data_repair (agorad --data-repair)
 *   F & 8   every record gets its right CRC-32 (each file walked by its
 *           record lengths from offset 16, up to the first length that is
 *           0 or runs past the end), so that mutated payloads get past
 *           the checksum and into the replay
 *   F & 16  with F & 3 == 1: journal G+2 follows instead of G+1 (a
 *           journal missing)
 *   F & 32  an earlier generation is there: snapshot 1 and journal 1 (each
 *           a file header alone) and a snapshot-...ags.tmp never finished;
 *           G is 2: a journal is the second after a snapshot, a snapshot
 *           replaces an older one (which the start removes)
 * File names: journal-%016llx.agj, snapshot-%016llx.ags (section 10.1).
 *
 * Each input gets the same data directory (made once per process, 0700,
 * emptied between inputs) and a server made by agora_server_new() with
 * data_dir set and one Unix socket beside the directory (a server needs
 * an address; the detached constructor takes no config), fsync "no" (no
 * thread), its log at debug level into a callback that drops the lines
 * (FUZZ_JOURNAL_LOG=1 in the environment prints them).
 * Whatever the bytes: the server starts, or it fails with an error
 * message (an empty one aborts). A server that started is freed, and
 * started again on what it left, without repair: that must succeed and
 * hold as many objects (a start, a repair or a torn tail dropped leaves a
 * directory the next start loads the same). ASan, LeakSanitizer and UBSan
 * see the rest.
 *
 * The directory is /dev/shm when it is there (fsync is free on tmpfs),
 * else $TMPDIR or /tmp; it is removed at exit.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fuzz_support.h"
#include "internal.h"

int FUZZ_ENTRY(const uint8_t *data, size_t size);

#define HEADER_LEN 16 /* magic, u32 version, u32 zero */

static char root[256];      /* made by mkdtemp */
static char data_dir[300];  /* root/data */
static char sock_addr[320]; /* unix:root/s */

static void remove_root(void)
{
	char path[400];

	if (root[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/s", root);
	unlink(path);
	if (data_dir[0] != '\0') {
		DIR *d = opendir(data_dir);
		struct dirent *e;
		while (d != NULL && (e = readdir(d)) != NULL)
			if (e->d_name[0] != '.') {
				snprintf(path, sizeof(path), "%s/%s", data_dir,
					 e->d_name);
				unlink(path);
			}
		if (d != NULL)
			closedir(d);
		rmdir(data_dir);
	}
	rmdir(root);
}

/* The directories, once per process. */
static bool setup(void)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	if (root[0] != '\0')
		return true;
	if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) &&
	    access("/dev/shm", W_OK) == 0)
		tmp = "/dev/shm";
	else if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	snprintf(root, sizeof(root), "%s/agora-fuzz-journal-XXXXXX", tmp);
	if (mkdtemp(root) == NULL) {
		perror("fuzz_journal: mkdtemp");
		abort();
	}
	snprintf(data_dir, sizeof(data_dir), "%s/data", root);
	snprintf(sock_addr, sizeof(sock_addr), "unix:%s/s", root);
	if (mkdir(data_dir, 0700) < 0) {
		perror("fuzz_journal: mkdir");
		abort();
	}
	atexit(remove_root);
	return true;
}

/* Empty the data directory: what the last input and its server left. */
static void clear_dir(void)
{
	DIR *d = opendir(data_dir);
	struct dirent *e;
	int dfd;

	if (d == NULL)
		abort();
	dfd = dirfd(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			unlinkat(dfd, e->d_name, 0);
	closedir(d);
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* F & 8: the right CRC-32 into every record @len bytes of @p hold. */
static void fix_crcs(uint8_t *p, size_t len)
{
	size_t off = HEADER_LEN;

	while (len >= off && len - off >= 8) {
		uint32_t n = be32(p + off);
		uint32_t crc;
		if (n == 0 || n > len - off - 8)
			break;
		crc = (uint32_t)crc32(0L, p + off + 8, (uInt)n);
		p[off + 4] = (uint8_t)(crc >> 24);
		p[off + 5] = (uint8_t)(crc >> 16);
		p[off + 6] = (uint8_t)(crc >> 8);
		p[off + 7] = (uint8_t)crc;
		off += 8 + (size_t)n;
	}
}

/* Write file @name of the data directory: @len bytes of @p, their CRCs
 * fixed first when @fix. */
static void put_file(const char *name, const uint8_t *p, size_t len, bool fix)
{
	char path[400];
	uint8_t *copy = NULL;
	int fd;

	if (fix && len > 0) {
		copy = malloc(len);
		if (copy == NULL)
			abort();
		memcpy(copy, p, len);
		fix_crcs(copy, len);
		p = copy;
	}
	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || (len > 0 && write(fd, p, len) != (ssize_t)len)) {
		perror("fuzz_journal: writing the input");
		abort();
	}
	close(fd);
	free(copy);
}

enum { JOURNAL, SNAPSHOT };

/* The name of file @kind of generation @gen, ending in .@ext. */
static const char *name_of(int kind, uint64_t gen, const char *ext)
{
	static char name[64];

	snprintf(name, sizeof(name), "%s-%016llx.%s",
		 kind == JOURNAL ? "journal" : "snapshot",
		 (unsigned long long)gen, ext);
	return name;
}

/* A file of @kind that holds its header alone: no record. */
static void put_header(int kind, uint64_t gen, const char *ext)
{
	uint8_t head[HEADER_LEN] = "AGORA-J\n\0\0\0\1\0\0\0\0";

	if (kind == SNAPSHOT)
		head[6] = 'S';
	put_file(name_of(kind, gen, ext), head, sizeof(head), false);
}

/* The server's log: dropped, or on stderr with FUZZ_JOURNAL_LOG set (to
 * see what an input does). */
static void log_line(void *ud, const char *line)
{
	if (ud != NULL)
		fprintf(stderr, "agorad: %s\n", line);
}

/* A server on the data directory: 0 and *ret, or the error (its message
 * must say something). */
static int start(bool repair, ag_server **ret, char *err, size_t errlen)
{
	const char *listen[1] = { sock_addr };
	agora_server_config cfg = { 0 };
	int rc;

	cfg.listen = listen;
	cfg.nlisten = 1;
	cfg.key = FUZZ_KEY;
	cfg.keylen = FUZZ_KEYLEN;
	cfg.log = log_line;
	cfg.log_ud = getenv("FUZZ_JOURNAL_LOG") ? (void *)"" : NULL;
	cfg.log_level = AGORA_LOG_DEBUG;
	cfg.data_dir = data_dir;
	cfg.fsync_policy = AGORA_FSYNC_NO;
	cfg.data_repair = repair;
	err[0] = '\0';
	rc = agora_server_new(&cfg, ret, err, errlen);
	if (rc < 0 && err[0] == '\0') {
		fprintf(stderr,
			"fuzz_journal: start failed (%d) with no "
			"message\n",
			rc);
		abort();
	}
	return rc;
}

int FUZZ_ENTRY(const uint8_t *data, size_t size)
{
	fz in = { data, size };
	uint8_t flags = fz_u8(&in);
	bool fix = flags & 8;
	uint64_t gen = flags & 32 ? 2 : 1;
	const uint8_t *p;
	ag_server *s = NULL;
	char err[512];
	uint64_t nobjects;
	size_t len;

	setup();
	clear_dir();
	if (flags & 32) {
		/* an earlier generation, and a snapshot never finished */
		put_header(SNAPSHOT, 1, "ags");
		put_header(JOURNAL, 1, "agj");
		put_header(SNAPSHOT, 3, "ags.tmp");
	}
	switch (flags & 3) {
	case 0:
	case 1:
		p = fz_take(&in, in.n, &len);
		put_file(name_of(JOURNAL, gen, "agj"), p, len, fix);
		if (flags & 3)
			put_header(JOURNAL, gen + (flags & 16 ? 2 : 1), "agj");
		break;
	case 2:
		p = fz_take(&in, in.n, &len);
		put_file(name_of(SNAPSHOT, gen, "ags"), p, len, fix);
		break;
	default: {
		size_t want = (size_t)fz_u8(&in) << 8;
		want |= fz_u8(&in);
		p = fz_take(&in, want, &len);
		put_file(name_of(SNAPSHOT, gen, "ags"), p, len, fix);
		p = fz_take(&in, in.n, &len);
		put_file(name_of(JOURNAL, gen, "agj"), p, len, fix);
		break;
	}
	}

	if (start(flags & 4, &s, err, sizeof(err)) < 0)
		return 0;
	nobjects = s->nobjects;
	agora_server_free(s);

	/* What a start left, the next one loads the same. */
	s = NULL;
	if (start(false, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_journal: the second start failed: %s\n",
			err);
		abort();
	}
	if (s->nobjects != nobjects) {
		fprintf(stderr,
			"fuzz_journal: %llu objects after the first start, "
			"%llu after the second\n",
			(unsigned long long)nobjects,
			(unsigned long long)s->nobjects);
		abort();
	}
	agora_server_free(s);
	return 0;
}
