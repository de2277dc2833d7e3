/*
 * outside.c - a program built outside the tree against an installed
 * libagora (tests/install/install_test.sh). It connects from the
 * environment and uses a dict, a queue and a value, and checks an error
 * code and its text. Prints "outside: ok" and exits 0 when all is right.
 */
#include <stdio.h>
#include <string.h>

#include <agora.h>

#define CHECK(call)                                                      \
	do {                                                             \
		int rc_ = (call);                                        \
		if (rc_ < 0) {                                           \
			fprintf(stderr, "outside: %s: %s (%s)\n", #call, \
				agora_strerror(rc_), agora_errmsg(c));   \
			return 1;                                        \
		}                                                        \
	} while (0)

int main(void)
{
	agora_client *c = agora_client_new();
	agora_dict *d;
	agora_queue *q;
	agora_var *v;
	agora_value x;
	int64_t n;
	int rc;

	if (!c)
		return 1;
	CHECK(agora_client_connect_env(c));
	printf("outside: libagora %s, server %s\n", AGORA_VERSION,
	       agora_server_version(c));

	CHECK(agora_dict_open(c, "outside.dict", &d));
	CHECK(agora_dict_set(d, agora_str("answer"), agora_int(42)));
	CHECK(agora_dict_get_int(d, agora_str("answer"), &n));
	if (n != 42)
		return 1;
	rc = agora_dict_get(d, agora_str("missing"), &x);
	if (rc != AGORA_EKEY || strcmp(agora_errname(rc), "KEY") != 0)
		return 1;

	CHECK(agora_queue_open(c, "outside.queue", 0, &q));
	CHECK(agora_queue_put(q, agora_str("hello"), AGORA_FOREVER));
	CHECK(agora_queue_get(q, 0, &x));
	if (x.type != AGORA_STR || strcmp(x.via.str.ptr, "hello") != 0)
		return 1;
	agora_value_free(&x);

	CHECK(agora_var_open(c, "outside.var", agora_int(0), &v));
	CHECK(agora_var_set(v, agora_int(0)));
	CHECK(agora_var_add_int(v, 5, &n));
	if (n != 5)
		return 1;

	CHECK(agora_var_close(v));
	CHECK(agora_queue_close(q));
	CHECK(agora_dict_close(d));
	agora_client_free(c);
	printf("outside: ok\n");
	return 0;
}
