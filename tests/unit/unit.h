/*
 * unit.h - small helpers shared by the Check binaries in tests/unit.
 *
 * Each test binary builds one Suite and hands it to unit_run(), which runs
 * it with CK_NORMAL (so Check's "100%: Checks: N, Failures: 0, Errors: 0"
 * summary line is printed for CI) and turns failures into the exit status.
 * The decoding helpers turn literal MessagePack bytes into a msgpack_object
 * with msgpack-c alone, so that the code under test only sees objects that
 * an independent decoder produced.
 */
#ifndef AG_TESTS_UNIT_H
#define AG_TESTS_UNIT_H

#include <check.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* Run @s, print Check's summary, and return the process exit status. */
static inline int unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/*
 * Decode exactly one MessagePack value from @len bytes at @data into @u
 * (which the caller later frees with msgpack_unpacked_destroy()). Fails the
 * test if the bytes are not one complete value.
 */
static inline const msgpack_object *unit_unpack(msgpack_unpacked *u,
						const void *data, size_t len)
{
	size_t off = 0;
	msgpack_unpack_return ret;

	msgpack_unpacked_init(u);
	ret = msgpack_unpack_next(u, (const char *)data, len, &off);
	ck_assert_int_eq(ret, MSGPACK_UNPACK_SUCCESS);
	ck_assert_uint_eq(off, len);
	return &u->data;
}

#endif
