/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The journal's checksum (server/crc32c.c): RFC 3720's test vectors, and
 * the CPU's instructions and the table agreeing on every length and
 * alignment, so that a journal written on one machine reads on another.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/crc32c.h"

static void test_rfc_3720_vectors(void **state)
{
	uint8_t zeros[32] = {0}, ones[32], up[32], down[32];

	(void)state;
	memset(ones, 0xff, sizeof(ones));
	for (unsigned i = 0; i < 32; i++) {
		up[i] = (uint8_t)i;
		down[i] = (uint8_t)(31 - i);
	}
	/* RFC 3720, B.4, and the usual check value. */
	assert_int_equal(crc32c(0, zeros, 32), 0x8a9136aa);
	assert_int_equal(crc32c(0, ones, 32), 0x62a8ab43);
	assert_int_equal(crc32c(0, up, 32), 0x46dd794e);
	assert_int_equal(crc32c(0, down, 32), 0x113fdb5c);
	assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283);
	assert_int_equal(crc32c_portable(0, "123456789", 9), 0xe3069283);
}

static void test_the_cpu_and_the_table_agree(void **state)
{
	uint8_t bytes[600];

	(void)state;
	srand(7);
	for (unsigned i = 0; i < sizeof(bytes); i++)
		bytes[i] = (uint8_t)rand();
	for (size_t at = 0; at < 9; at++)
		for (size_t n = 0; n + at <= sizeof(bytes); n += 1 + n / 8)
			assert_int_equal(crc32c(0, bytes + at, n),
					 crc32c_portable(0, bytes + at, n));
	/* Continuing a CRC is the CRC of the whole. */
	assert_int_equal(crc32c(crc32c(0, bytes, 100), bytes + 100, 500), crc32c(0, bytes, 600));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc_3720_vectors),
		cmocka_unit_test(test_the_cpu_and_the_table_agree),
	};

	return cmocka_run_group_tests_name("crc32c", tests, NULL, NULL);
}
