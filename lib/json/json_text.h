/* json_text: the inside of a JSON string, from bytes that need not be
 * UTF-8 (label values, pprof strings and error messages quoting them come
 * from the network).
 *
 * Every JSON profpipe writes goes through here, so every one is valid
 * UTF-8 (RFC 8259 section 8.1) whatever the input: well-formed UTF-8 is
 * copied as it is; each byte that does not belong to a well-formed
 * sequence (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF, nothing cut short) becomes U+FFFD, written `\ufffd`, one per
 * byte as Go's encoding/json does; `"`, `\` and the control characters
 * (below U+0020, and DEL) are escaped. NUL bytes are data: they come out
 * as `\u0000`. */
#ifndef PROFPIPE_JSON_TEXT_H
#define PROFPIPE_JSON_TEXT_H

#include <stddef.h>

/* Receives the escaped text piece by piece (each piece whole: an escape or
 * a character is never split between two calls). */
typedef void (*json_sink)(void *arg, const char *text, size_t len);

/* Escapes the len bytes at s into put. */
void json_escape_bytes(const char *s, size_t len, json_sink put, void *arg);

/* Escapes the C string s into out (outlen > 0 bytes): as many whole pieces
 * as fit, always NUL-terminated. Returns the length written. */
size_t json_escape_to(const char *s, char *out, size_t outlen);

#endif
