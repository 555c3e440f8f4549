/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CRC-32C (Castagnoli, RFC 3720), the journal's record checksum: none of
 * our dependencies has a checksum, and this one catches every burst error
 * up to 32 bits. x86's SSE4.2 and ARMv8's CRC extension compute exactly
 * this polynomial 8 bytes at a time, where the CPU has them; elsewhere a
 * table does it a byte at a time. Both give the same value: a journal
 * written on one machine reads on any other.
 */
#ifndef MPFLOW_SERVER_CRC32C_H
#define MPFLOW_SERVER_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* The CRC of `data` continuing `crc` (0 to start). */
uint32_t crc32c(uint32_t crc, const void *data, size_t length);
/* The same, by the table alone (for the tests that compare them). */
uint32_t crc32c_portable(uint32_t crc, const void *data, size_t length);

#endif
