/* SPDX-License-Identifier: BSD-3-Clause */
/* CRC-32C, with the CPU's instructions where it has them (crc32c.h). */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "server/crc32c.h"

#define POLY 0x82f63b78u /* reflected */

static uint32_t table[256];

static uint32_t by_table(uint32_t crc, const uint8_t *p, size_t length)
{
	while (length--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t by_cpu(uint32_t crc, const uint8_t *p,
							 size_t length)
{
	uint64_t c = crc;

	for (; length >= 8; p += 8, length -= 8) {
		uint64_t word;

		memcpy(&word, p, 8);
		c = __builtin_ia32_crc32di(c, word);
	}
	crc = (uint32_t)c;
	for (; length; p++, length--)
		crc = __builtin_ia32_crc32qi(crc, *p);
	return crc;
}
#define CPU_HAS_CRC32C() __builtin_cpu_supports("sse4.2")
#elif defined(__aarch64__) && defined(__ARM_FEATURE_CRC32)
#include <arm_acle.h>
static uint32_t by_cpu(uint32_t crc, const uint8_t *p, size_t length)
{
	for (; length >= 8; p += 8, length -= 8) {
		uint64_t word;

		memcpy(&word, p, 8);
		crc = __crc32cd(crc, word);
	}
	for (; length; p++, length--)
		crc = __crc32cb(crc, *p);
	return crc;
}
#define CPU_HAS_CRC32C() true
#else
#define by_cpu		 by_table
#define CPU_HAS_CRC32C() false
#endif

static uint32_t (*step)(uint32_t crc, const uint8_t *p, size_t length);
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		table[i] = c;
	}
	step = CPU_HAS_CRC32C() ? by_cpu : by_table;
}

uint32_t crc32c(uint32_t crc, const void *data, size_t length)
{
	pthread_once(&once, init);
	return ~step(~crc, data, length);
}

uint32_t crc32c_portable(uint32_t crc, const void *data, size_t length)
{
	pthread_once(&once, init);
	return ~by_table(~crc, data, length);
}
