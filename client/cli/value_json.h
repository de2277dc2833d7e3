/*
 * value_json.h - agora values as JSON and back, for the agora tool.
 *
 * The mapping (agora(1), section VALUES AS JSON):
 *   nil, bool, int, float, str, array, map  <->  null, true/false, number,
 *   number with a '.' or an exponent, string, array, object.
 * What JSON has no form for is written as a tagged object, one key that
 * starts with '$':
 *   bin                         {"$bin": "BASE64"}
 *   ext                         {"$ext": TYPE, "data": "BASE64"}
 *   a map with a non-str key    {"$map": [[KEY, VALUE], ...]}
 *   an int above 2^63-1         {"$uint": "DIGITS"}
 *   a float nan, inf, -inf      {"$float": "nan"}
 *   a str that is not UTF-8     {"$str64": "BASE64"}
 * A map whose keys include one of those tag names is also written in the
 * "$map" form, so that every object read back means what was written.
 */
#ifndef AGORA_CLI_VALUE_JSON_H
#define AGORA_CLI_VALUE_JSON_H

#include <jansson.h>

#include "agora.h"

/*
 * Memory for the values built from JSON: everything cli_json_to_value()
 * allocates hangs off a pool and goes with cli_pool_free(). Strings of the
 * built values may also point into the json_t they came from, which must
 * outlive them.
 */
typedef struct cli_pool {
	void **ptrs;
	size_t len, cap;
} cli_pool;

void cli_pool_free(cli_pool *p);

/*
 * JSON for @v. *prec is raised to the number of significant digits the
 * floats in @v need to read back exactly (pass it to cli_json_dump()).
 * Returns a new reference, or NULL when out of memory.
 */
json_t *cli_value_to_json(const agora_value *v, int *prec);

/*
 * The value @j describes, built in @pool. Returns 0, or -1 with a sentence
 * in @err (a malformed tag, bad base64); nothing is sent anywhere.
 */
int cli_json_to_value(json_t *j, cli_pool *pool, agora_value *ret, char *err,
		      size_t errlen);

/*
 * Parse @text as one JSON document of any kind (a bare number or string
 * too). Returns a new reference, or NULL with jansson's reason in @err.
 */
json_t *cli_json_parse(const char *text, char *err, size_t errlen);

/* @j as one line of JSON text (malloc'ed, no newline), floats written with
 * @prec significant digits (0: jansson's default). NULL when out of memory. */
char *cli_json_dump(const json_t *j, int prec);

/* @v as one line of JSON text, as cli_json_dump() of cli_value_to_json(). */
char *cli_value_dump(const agora_value *v);

#endif
