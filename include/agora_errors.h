/*
 * agora_errors.h - the one list of Agora's error codes.
 *
 * AGORA_ERRORS(X) is an X-macro: X(NAME, CODE, TEXT). Codes 1..19 are the wire
 * codes of docs/protocol.md section 4; the name is the stable wire name.
 * Codes from 100 up are local to the client library and never sent.
 * The macro generates the C enum below (AGORA_E<NAME> == -CODE), the
 * strings of agora_strerror()/agora_errname() and the wire mapping.
 *
 * Public: installed beside agora.h, which includes it; proto/ag_proto.h
 * includes it too, for the wire mapping.
 */
#ifndef AGORA_ERRORS_H
#define AGORA_ERRORS_H

#define AGORA_ERRORS(X)                                        \
	X(PROTOCOL, 1, "protocol error")                       \
	X(AUTH, 2, "authentication failed")                    \
	X(VERSION, 3, "protocol version not spoken")           \
	X(NO_METHOD, 4, "unknown method")                      \
	X(ARGS, 5, "wrong arguments")                          \
	X(NO_OBJECT, 6, "no such object")                      \
	X(TYPE, 7, "wrong type")                               \
	X(KEY, 8, "key not found")                             \
	X(INDEX, 9, "index out of range")                      \
	X(VALUE, 10, "bad value")                              \
	X(EMPTY, 11, "queue empty")                            \
	X(FULL, 12, "queue full")                              \
	X(NOT_OWNER, 13, "not the owner")                      \
	X(BROKEN, 14, "barrier broken")                        \
	X(LIMIT, 15, "limit exceeded")                         \
	X(SHUTDOWN, 16, "server is shutting down")             \
	X(EXISTS, 17, "object exists")                         \
	X(DENIED, 18, "permission denied")                     \
	X(STORAGE, 19, "the change could not be made durable") \
	X(CANCELLED, 20, "the call was cancelled")             \
	X(IO, 100, "connection failed or lost")                \
	X(NOMEM, 101, "out of memory")                         \
	X(INVAL, 102, "invalid argument")                      \
	X(TIMEDOUT, 103, "no answer from the server in time")  \
	X(LOST, 104,                                           \
	  "connection lost before the answer: the call may "   \
	  "have been done")                                    \
	X(CERT, 105, "server's TLS certificate not verified")  \
	X(AGAIN, 106, "no answer yet")

/* The highest code that travels on the wire. */
#define AGORA_WIRE_ERROR_MAX 20

enum agora_error {
	AGORA_OK = 0,
#define AGORA_ERROR_ENUM_(name, code, text) AGORA_E##name = -(code),
	AGORA_ERRORS(AGORA_ERROR_ENUM_)
#undef AGORA_ERROR_ENUM_
};

#endif
