/* RFC 5321 paths and host names for the LMTP command parser; internal to
 * lmtp/ (lmtp_parse.h is the interface). */
#ifndef HAVEN_LMTP_ADDR_H
#define HAVEN_LMTP_ADDR_H
#include <stddef.h>

enum lmtp_path_result {
	LMTP_PATH_OK = 0,
	LMTP_PATH_SYNTAX = -1,   /* not an RFC 5321 Path */
	LMTP_PATH_LONG = -2,     /* a Path, but its canonical form does not fit */
};

/* The Path at *p (its '<') before end: the canonical address (see
 * lmtp_cmd.addr) into out[outlen], *p moved past the '>'. forward (RCPT):
 * a bare local part is accepted, "<>" is not; else (MAIL) the reverse.
 * *nonascii tells whether the path held UTF-8; the caller decides whether
 * that is allowed and has checked the line is valid UTF-8 without
 * control characters. */
enum lmtp_path_result lmtp_path_parse(const char **p, const char *end, int forward,
				      char *out, size_t outlen, int *nonascii);
/* Length of the Domain or address-literal at p before end, 0 if there is
 * none. UTF-8 octets count as letters (RFC 6531 U-labels). */
size_t lmtp_host_len(const char *p, const char *end);

#endif
