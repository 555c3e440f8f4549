/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the primary's trust boundary: the request decoder,
 * the rule validator behind it, batch iteration and the completion decoder.
 * Any crash, sanitizer report or errno outside the documented set is a bug.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "shm/rule/rule.h"
#include "shm/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool documented(int rc)
{
	return rc == 0 || rc == -EBADMSG || rc == -EINVAL || rc == -ENOTSUP ||
	       rc == -EPROTONOSUPPORT;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct wire_request req, sub;
	struct mpf_flow_error error;
	struct wire_completion completion;
	int rc = wire_decode_request(data, size, &req, &error);

	if (!documented(rc))
		abort();
	if (rc == 0 && (req.header.op == WIRE_OP_CREATE || req.header.op == WIRE_OP_VALIDATE)) {
		rc = rule_validate(&req.rule.attr, req.rule.items, req.rule.actions, NULL, &error);
		if (rc != 0 && rc != -EINVAL && rc != -ENOTSUP)
			abort();
	}
	if (rc == 0 && req.header.op == WIRE_OP_BATCH) {
		struct wire_batch_iter it;

		wire_batch_iter_init(&it, &req);
		while ((rc = wire_batch_next(&it, &sub, &error)) != 0)
			if (!documented(rc < 0 ? rc : 0))
				abort();
	}
	rc = wire_decode_completion(data, size, &completion);
	if (rc != 0 && rc != -EBADMSG)
		abort();
	return 0;
}
