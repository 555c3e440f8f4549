/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * JSON output for the tools: strings escaped per RFC 8259 (rule text,
 * client names and error messages come from other processes and may hold
 * anything), numbers written as they are.
 */
#ifndef MPFLOW_TOOLS_COMMON_JSON_H
#define MPFLOW_TOOLS_COMMON_JSON_H

#include <stdio.h>

/* Write `s` as a JSON string, quotes included. */
void json_string(FILE *out, const char *s);

#endif
