/*
 * users.c - named users, their keys and rights (agorad --users FILE), and
 * the one check every request passes (ag_user_may()).
 *
 * The users file, one user a line ('#' begins a comment, blank lines are
 * skipped, fields are separated by blanks):
 *
 *     NAME key-file=PATH rights=read,write,create,admin names=jobs.*,res.*
 *     NAME key=HEX ...
 *
 * NAME is 1 to AG_USER_NAME_MAX bytes of [A-Za-z0-9_.@-]. The key is a key
 * file (read by the rules of the server's own key file, ag_keyfile.h; a
 * relative PATH is relative to the users file's directory) or hex digits
 * (at least AG_KEY_MIN bytes). rights= is required: a comma-separated list
 * of read, write, create and admin (or "all"). names= is a comma-separated
 * list of fnmatch(3) patterns, as ls takes them; absent, every name. The
 * file itself holds keys or says where they are: like a key file, it must
 * be a regular file that group and others cannot access.
 *
 * A connection's user (c->user) points into the server's current list;
 * ag_users_apply() moves every connection to the new list on a reload.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ag_keyfile.h"
#include "internal.h"

/* The largest users file. */
#define USERS_FILE_MAX ((size_t)1 << 20)

static const struct {
	const char *name;
	unsigned bit;
} RIGHTS[] = {
	{ "read", AG_RIGHT_READ },
	{ "write", AG_RIGHT_WRITE },
	{ "create", AG_RIGHT_CREATE },
	{ "admin", AG_RIGHT_ADMIN },
};

const char *ag_right_name(unsigned right)
{
	for (size_t i = 0; i < sizeof(RIGHTS) / sizeof(RIGHTS[0]); i++)
		if (RIGHTS[i].bit == right)
			return RIGHTS[i].name;
	return "none";
}

static void user_deinit(ag_user *u)
{
	free(u->name);
	ag_keyfile_free(u->key, u->keylen);
	for (size_t i = 0; i < u->nnames; i++)
		free(u->names[i]);
	free(u->names);
}

void ag_users_free(ag_users *us)
{
	if (us == NULL)
		return;
	for (size_t i = 0; i < us->n; i++)
		user_deinit(&us->v[i]);
	free(us->v);
	free(us->path);
	free(us);
}

const ag_user *ag_users_find(const ag_users *us, const char *name, size_t len)
{
	if (us == NULL)
		return NULL;
	for (size_t i = 0; i < us->n; i++)
		if (strlen(us->v[i].name) == len &&
		    memcmp(us->v[i].name, name, len) == 0)
			return &us->v[i];
	return NULL;
}

/* A sentence about line @line of @path into @err; returns AGORA_EINVAL. */
static int line_err(char *err, size_t errlen, const char *path, unsigned line,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int line_err(char *err, size_t errlen, const char *path, unsigned line,
		    const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(err, errlen, "users file %s, line %u: %s", path, line, msg);
	return AGORA_EINVAL;
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool name_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
	       ch == '@' || ch == '-';
}

/* Split @s at commas into a NULL-free array of strdup'ed parts. */
static int split_commas(const char *s, char ***ret, size_t *ret_n)
{
	size_t n = 1;
	for (const char *p = s; *p; p++)
		n += *p == ',';
	char **v = calloc(n, sizeof(*v));
	if (v == NULL)
		return AGORA_ENOMEM;
	size_t i = 0;
	const char *start = s;
	for (const char *p = s;; p++) {
		if (*p == ',' || *p == '\0') {
			v[i] = strndup(start, (size_t)(p - start));
			if (v[i] == NULL) {
				for (size_t j = 0; j < i; j++)
					free(v[j]);
				free(v);
				return AGORA_ENOMEM;
			}
			i++;
			start = p + 1;
			if (*p == '\0')
				break;
		}
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

static void free_parts(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Parse one non-blank line (NUL-terminated, comment cut) into @u. */
static int parse_line(char *text, const char *path, const char *dir,
		      unsigned line, ag_user *u, char *err, size_t errlen)
{
	char *save = NULL;
	char *tok = strtok_r(text, " \t\r", &save);
	bool have_rights = false, have_names = false;
	int rc;

	size_t nl = strlen(tok);
	if (nl > AG_USER_NAME_MAX)
		return line_err(err, errlen, path, line,
				"the user name is %zu bytes, at most %d", nl,
				AG_USER_NAME_MAX);
	for (size_t i = 0; i < nl; i++)
		if (!name_char_ok(tok[i]))
			return line_err(err, errlen, path, line,
					"the user name \"%s\" has a character "
					"other than A-Z a-z 0-9 _ . @ -",
					tok);
	if (strchr(tok, '=') != NULL)
		return line_err(err, errlen, path, line,
				"a line begins with the user's name, not %s",
				tok);
	u->name = strdup(tok);
	if (u->name == NULL)
		return AGORA_ENOMEM;

	while ((tok = strtok_r(NULL, " \t\r", &save)) != NULL) {
		char *eq = strchr(tok, '=');
		if (eq == NULL)
			return line_err(err, errlen, path, line,
					"\"%s\": want key-file=PATH, key=HEX, "
					"rights=LIST or names=LIST",
					tok);
		*eq = '\0';
		const char *val = eq + 1;
		if (strcmp(tok, "key-file") == 0 || strcmp(tok, "key") == 0) {
			if (u->key != NULL)
				return line_err(err, errlen, path, line,
						"user %s has two keys (key= "
						"and key-file= name one each)",
						u->name);
		}
		if (strcmp(tok, "key-file") == 0) {
			char full[4096], kerr[512];
			if (val[0] == '/' || dir == NULL)
				snprintf(full, sizeof(full), "%s", val);
			else
				snprintf(full, sizeof(full), "%s/%s", dir, val);
			rc = ag_keyfile_read(full, AG_KEYFILE_SERVER, &u->key,
					     &u->keylen, kerr, sizeof(kerr));
			if (rc < 0) {
				line_err(err, errlen, path, line, "user %s: %s",
					 u->name, kerr);
				return rc;
			}
		} else if (strcmp(tok, "key") == 0) {
			size_t hl = strlen(val);
			if (hl % 2 != 0 || hl / 2 < AG_KEY_MIN)
				return line_err(err, errlen, path, line,
						"user %s: key= wants an even "
						"number of hex digits, at "
						"least %zu bytes (%zu digits)",
						u->name, AG_KEY_MIN,
						2 * AG_KEY_MIN);
			u->key = malloc(hl / 2);
			if (u->key == NULL)
				return AGORA_ENOMEM;
			u->keylen = hl / 2;
			for (size_t i = 0; i < hl / 2; i++) {
				int hi = hexval(val[2 * i]),
				    lo = hexval(val[2 * i + 1]);
				if (hi < 0 || lo < 0)
					return line_err(
					    err, errlen, path, line,
					    "user %s: key= holds a character "
					    "that is not a hex digit",
					    u->name);
				u->key[i] = (uint8_t)(hi << 4 | lo);
			}
		} else if (strcmp(tok, "rights") == 0) {
			char **parts;
			size_t n;
			if (have_rights)
				return line_err(err, errlen, path, line,
						"user %s: rights= given twice",
						u->name);
			have_rights = true;
			if ((rc = split_commas(val, &parts, &n)) < 0)
				return rc;
			for (size_t i = 0; i < n; i++) {
				unsigned bit = 0;
				if (strcmp(parts[i], "all") == 0)
					bit = AG_RIGHTS_ALL;
				for (size_t j = 0;
				     j < sizeof(RIGHTS) / sizeof(RIGHTS[0]);
				     j++)
					if (strcmp(parts[i], RIGHTS[j].name) ==
					    0)
						bit = RIGHTS[j].bit;
				if (bit == 0) {
					line_err(err, errlen, path, line,
						 "user %s: unknown right "
						 "\"%s\" (want read, write, "
						 "create, admin or all)",
						 u->name, parts[i]);
					free_parts(parts, n);
					return AGORA_EINVAL;
				}
				u->rights |= bit;
			}
			free_parts(parts, n);
		} else if (strcmp(tok, "names") == 0) {
			if (have_names)
				return line_err(err, errlen, path, line,
						"user %s: names= given twice",
						u->name);
			have_names = true;
			if ((rc = split_commas(val, &u->names, &u->nnames)) < 0)
				return rc;
			for (size_t i = 0; i < u->nnames; i++)
				if (u->names[i][0] == '\0')
					return line_err(
					    err, errlen, path, line,
					    "user %s: names= holds an empty "
					    "pattern",
					    u->name);
		} else {
			return line_err(err, errlen, path, line,
					"user %s: unknown field \"%s\" (want "
					"key-file, key, rights or names)",
					u->name, tok);
		}
	}
	if (u->key == NULL)
		return line_err(err, errlen, path, line,
				"user %s has no key (key-file=PATH or key=HEX)",
				u->name);
	if (!have_rights)
		return line_err(err, errlen, path, line,
				"user %s has no rights= (e.g. rights=read)",
				u->name);
	if (!have_names) {
		if ((rc = split_commas("*", &u->names, &u->nnames)) < 0)
			return rc;
	}
	return 0;
}

/* Read all of @path (checked as a key file is) into a NUL-terminated
 * malloc'ed buffer. */
static int read_file(const char *path, char **ret, size_t *ret_len, char *err,
		     size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0) {
		snprintf(err, errlen, "users file %s: %s", path,
			 strerror(errno));
		return AGORA_EIO;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "users file %s: not a regular file",
			 path);
		return AGORA_EIO;
	}
	if ((st.st_mode & 077) != 0) {
		close(fd);
		snprintf(err, errlen,
			 "users file %s: mode %04o lets group or others read "
			 "it; run chmod 600 %s",
			 path, (unsigned)(st.st_mode & 07777), path);
		return AGORA_EIO;
	}
	if ((size_t)st.st_size > USERS_FILE_MAX) {
		close(fd);
		snprintf(err, errlen, "users file %s: larger than %zu bytes",
			 path, USERS_FILE_MAX);
		return AGORA_EIO;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t len = 0;
	if (buf == NULL) {
		close(fd);
		return AGORA_ENOMEM;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

int ag_users_parse(const char *data, size_t len, const char *path,
		   ag_users **ret, char *err, size_t errlen)
{
	char *text = NULL, *dir = NULL;
	ag_users *us = calloc(1, sizeof(*us));
	int rc;

	if (us == NULL || (us->path = strdup(path)) == NULL ||
	    (text = malloc(len + 1)) == NULL) {
		rc = AGORA_ENOMEM;
		goto fail;
	}
	memcpy(text, data, len);
	text[len] = '\0';
	if (strlen(text) != len) {
		unsigned nul_line = 1;
		for (size_t i = 0; text[i] != '\0'; i++)
			nul_line += text[i] == '\n';
		rc = line_err(err, errlen, path, nul_line, "holds a NUL byte");
		goto fail;
	}
	const char *slash = strrchr(path, '/');
	if (slash != NULL &&
	    (dir = strndup(path, (size_t)(slash - path) + (slash == path))) ==
		NULL) {
		rc = AGORA_ENOMEM;
		goto fail;
	}

	unsigned line = 0;
	char *p = text;
	for (;;) {
		char *nl = strchr(p, '\n');
		line++;
		if (nl)
			*nl = '\0';
		char *hash = strchr(p, '#');
		if (hash)
			*hash = '\0';
		if (strspn(p, " \t\r") != strlen(p)) {
			ag_user *v = realloc(us->v, (us->n + 1) * sizeof(*v));
			if (v == NULL) {
				rc = AGORA_ENOMEM;
				goto fail;
			}
			us->v = v;
			ag_user *u = &us->v[us->n++];
			memset(u, 0, sizeof(*u));
			u->line = line;
			rc = parse_line(p, path, dir, line, u, err, errlen);
			if (rc < 0)
				goto fail;
			for (size_t i = 0; i + 1 < us->n; i++)
				if (strcmp(us->v[i].name, u->name) == 0) {
					rc = line_err(err, errlen, path, line,
						      "user %s is also on "
						      "line %u",
						      u->name, us->v[i].line);
					goto fail;
				}
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	free(text);
	free(dir);
	*ret = us;
	return 0;
fail:
	if (rc == AGORA_ENOMEM)
		snprintf(err, errlen, "users file %s: out of memory", path);
	free(text);
	free(dir);
	ag_users_free(us);
	return rc;
}

int ag_users_load(const char *path, ag_users **ret, char *err, size_t errlen)
{
	char *text = NULL;
	size_t len = 0;
	int rc = read_file(path, &text, &len, err, errlen);

	if (rc < 0)
		return rc;
	rc = ag_users_parse(text, len, path, ret, err, errlen);
	explicit_bzero(text, len);
	free(text);
	return rc;
}

/* ---- connections --------------------------------------------------------- */

int ag_conn_user_select(ag_conn *c, const msgpack_object *name)
{
	ag_server *s = c->srv;

	c->user = NULL;
	c->user_unknown = false;
	c->user_name[0] = '\0';
	if (name != NULL && name->type == MSGPACK_OBJECT_NIL)
		name = NULL;
	if (name != NULL && name->type != MSGPACK_OBJECT_STR)
		return AGORA_EARGS;
	if (name != NULL) {
		size_t n = name->via.str.size, j = 0;
		for (size_t i = 0; i < n && j + 5 < sizeof(c->user_name); i++) {
			unsigned char ch = (unsigned char)name->via.str.ptr[i];
			if (ch >= 0x20 && ch < 0x7f && ch != '\\')
				c->user_name[j++] = (char)ch;
			else
				j += (size_t)snprintf(c->user_name + j,
						      sizeof(c->user_name) - j,
						      "\\x%02x", ch);
		}
		c->user_name[j] = '\0';
		c->user = ag_users_find(s->users, name->via.str.ptr, n);
		if (c->user != NULL)
			return 0;
	} else if (s->key != NULL) {
		return 0; /* the default user */
	}
	/* No such user (or no default user): a key of its own, drawn for
	 * this connection, so that the answer looks as any other. */
	c->user_unknown = true;
	_Static_assert(sizeof(c->fake_key) == AG_NONCE_LEN, "fake key size");
	if (ag_nonce(c->fake_key) < 0)
		return AGORA_EIO;
	return 0;
}

void ag_conn_user_key(const ag_conn *c, const uint8_t **key, size_t *len)
{
	if (c->user_unknown) {
		*key = c->fake_key;
		*len = sizeof(c->fake_key);
	} else if (c->user != NULL) {
		*key = c->user->key;
		*len = c->user->keylen;
	} else {
		*key = c->srv->key;
		*len = c->srv->keylen;
	}
}

const char *ag_conn_user_label(const ag_conn *c)
{
	if (c->user != NULL)
		return c->user->name;
	if (c->user_unknown)
		return c->user_name;
	return "";
}

/* ---- rights -------------------------------------------------------------- */

bool ag_user_reaches(const ag_user *u, const char *name, size_t len)
{
	char buf[AG_NAME_MAX + 1];

	if (u == NULL)
		return true;
	if (len > AG_NAME_MAX)
		return false;
	memcpy(buf, name, len);
	buf[len] = '\0';
	for (size_t i = 0; i < u->nnames; i++)
		if (fnmatch(u->names[i], buf, 0) == 0)
			return true;
	return false;
}

bool ag_user_may(ag_req *r, unsigned right, const char *name, size_t len)
{
	const ag_user *u = r->to.conn->user;

	if (r->to.conn->user_unknown) { /* a user removed by a reload */
		ag_reply_error(&r->to, AGORA_EDENIED,
			       "%.*s: this connection's user was removed",
			       (int)r->methodlen, r->method);
		return false;
	}
	if (u == NULL || right == AG_RIGHT_ANY)
		return true;
	if ((u->rights & right) != right) {
		if (name != NULL)
			ag_reply_error(&r->to, AGORA_EDENIED,
				       "%.*s on \"%.*s\": user %s lacks the "
				       "right %s",
				       (int)r->methodlen, r->method, (int)len,
				       name, u->name, ag_right_name(right));
		else
			ag_reply_error(&r->to, AGORA_EDENIED,
				       "%.*s: user %s lacks the right %s",
				       (int)r->methodlen, r->method, u->name,
				       ag_right_name(right));
		return false;
	}
	if (name != NULL && !ag_user_reaches(u, name, len)) {
		ag_reply_error(&r->to, AGORA_EDENIED,
			       "%.*s on \"%.*s\": user %s may not reach that "
			       "name (names=)",
			       (int)r->methodlen, r->method, (int)len, name,
			       u->name);
		return false;
	}
	return true;
}

bool ag_user_may_obj(ag_req *r, unsigned right, const ag_object *o)
{
	if (r->to.conn->user == NULL && !r->to.conn->user_unknown)
		return true; /* the default user: every right, every name */
	return ag_user_may(r, right, o ? o->name : NULL,
			   o && o->name ? strlen(o->name) : 0);
}

void ag_users_apply(ag_server *s, ag_users *us)
{
	ag_conn *c, *next;

	for (c = TAILQ_FIRST(&s->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->user == NULL)
			continue;
		const ag_user *nu =
		    ag_users_find(us, c->user->name, strlen(c->user->name));
		if (nu != NULL && nu->keylen == c->user->keylen &&
		    CRYPTO_memcmp(nu->key, c->user->key, nu->keylen) == 0) {
			c->user = nu;
			continue;
		}
		ag_server_logf(s, AGORA_LOG_INFO,
			       "connection %llu from %s: closed: user %s %s "
			       "by the reload of the users file",
			       (unsigned long long)c->id, c->peer,
			       c->user->name,
			       nu ? "has a new key" : "was removed");
		c->user = NULL;
		c->user_unknown = true; /* no right until it is freed */
		ag_conn_end_why(c, "user removed or its key changed");
		ag_conn_kill(c, NULL);
	}
	ag_users_free(s->users);
	s->users = us;
}
