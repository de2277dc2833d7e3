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
 * message (an empty one aborts). On a server that started, a client (a
 * detached connection) opens a named list and appends to it, and opens an
 * anonymous list, whose id must be no other object's; then the server is
 * freed and started again on what it left, without repair: that must
 * succeed, hold as many objects and the named list (a start, a repair or
 * a torn tail dropped leaves a directory the next start loads the same,
 * the client's change included). ASan, LeakSanitizer and UBSan see the
 * rest.
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
				int dfd = dirfd(d);
				unlinkat(dfd, e->d_name, 0);
			}
		if (d != NULL)
			closedir(d);
		rmdir(data_dir);
	}
	rmdir(root);
}

/* The directories, once per process. */
static void make_dirs(void)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

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

/* Once per process: the directories, and a server that starts on the
 * empty one (else every input would fail to start, and test nothing). */
static void setup(void)
{
	static bool done;
	ag_server *s = NULL;
	char err[512];

	if (done)
		return;
	make_dirs();
	if (start(false, &s, err, sizeof(err)) < 0) {
		fprintf(stderr,
			"fuzz_journal: no server starts on the empty data "
			"directory %s: %s\n",
			data_dir, err);
		abort();
	}
	agora_server_free(s);
	done = true;
}

/* A client after the start, on a detached connection of its own. */
typedef struct client {
	ag_conn *c;
	ag_buf sink, req;
	msgpack_packer pk;
	msgpack_unpacked ans;
	uint32_t msgid;
} client;

/* Send request @method with the params packed already into cl->req
 * after its head (see begin()); the result, or NULL when it failed. Points
 * into cl->ans until the next call. */
static const msgpack_object *call(client *cl)
{
	uint32_t id;
	const msgpack_object *err, *res;
	size_t off = 0;

	cl->sink.len = 0;
	if (!ag_conn_feed(cl->c, cl->req.data, cl->req.len)) {
		fprintf(stderr,
			"fuzz_journal: a request ended the connection\n");
		abort();
	}
	cl->req.len = 0;
	/* a change is answered once the journal has it: a loop turn */
	ag_server_run_pending(ag_conn_server(cl->c));
	if (msgpack_unpack_next(&cl->ans, cl->sink.data, cl->sink.len, &off) !=
		MSGPACK_UNPACK_SUCCESS ||
	    ag_parse_response(&cl->ans.data, &id, &err, &res) < 0 ||
	    id != cl->msgid)
		return NULL;
	return err == NULL ? res : NULL;
}

static void begin(client *cl, const char *method, uint32_t nparams)
{
	ag_pack_request_head(&cl->pk, ++cl->msgid, method);
	msgpack_pack_array(&cl->pk, nparams);
}

/* open [type, name]: the handle, or 0. */
static uint64_t open_list(client *cl, const char *name)
{
	const msgpack_object *h;

	begin(cl, "open", 2);
	msgpack_pack_str_with_body(&cl->pk, "list", 4);
	if (name != NULL)
		msgpack_pack_str_with_body(&cl->pk, name, strlen(name));
	else
		msgpack_pack_nil(&cl->pk);
	h = call(cl);
	return h != NULL && h->type == MSGPACK_OBJECT_POSITIVE_INTEGER
		   ? h->via.u64
		   : 0;
}

#define AFTER_NAME "made after the start"

/* What a client does first after a start: opens a named list and appends
 * to it (a record of the new journal, which the next start replays), and
 * opens an anonymous list: a new object, whose id no loaded object may
 * have. True when the named list is there (it may be another type's name
 * already). */
static bool use(ag_server *s)
{
	client cl = { 0 };
	uint64_t h;
	ag_object *o;
	bool named = false;

	cl.c = ag_conn_new_detached(s, true);
	if (cl.c == NULL)
		return false;
	ag_buf_init(&cl.sink);
	ag_buf_init(&cl.req);
	msgpack_packer_init(&cl.pk, &cl.req, ag_buf_write);
	msgpack_unpacked_init(&cl.ans);
	ag_conn_capture(cl.c, &cl.sink);

	h = open_list(&cl, AFTER_NAME);
	if (h != 0) {
		begin(&cl, "list.append", 2);
		msgpack_pack_uint64(&cl.pk, h);
		msgpack_pack_true(&cl.pk);
		named = call(&cl) != NULL;
	}
	h = open_list(&cl, NULL);
	o = h != 0 ? ag_conn_handle_get(cl.c, h) : NULL;
	if (o != NULL && (o->id == 0 || ag_object_by_id(s, o->id) != o)) {
		fprintf(stderr,
			"fuzz_journal: a new object has id %llu, which "
			"another object has\n",
			(unsigned long long)o->id);
		abort();
	}
	ag_conn_free(cl.c); /* the anonymous list goes */
	ag_server_run_pending(s);
	msgpack_unpacked_destroy(&cl.ans);
	ag_buf_deinit(&cl.req);
	ag_buf_deinit(&cl.sink);
	return named;
}

static bool has_name(ag_server *s, const char *name)
{
	ag_val key = ag_val_view(name, (uint32_t)strlen(name), 0);

	return ag_table_find(&s->names, &key, ag_table_hash(&s->names, &key)) !=
	       NULL;
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
	bool named;

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
	named = use(s);
	nobjects = s->nobjects;
	agora_server_free(s);

	/* What a start left, the next one loads the same. */
	s = NULL;
	if (start(false, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz_journal: the second start failed: %s\n",
			err);
		abort();
	}
	if (named && !has_name(s, AFTER_NAME)) {
		fprintf(stderr, "fuzz_journal: the list made after the first "
				"start is gone\n");
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
