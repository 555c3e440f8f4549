/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdarg.h>
#include <stdio.h>

#include "shm/rule/rule.h"

int flow_error_set(struct mpf_flow_error *error, int code, enum mpf_flow_error_type type,
		   int32_t cause, const char *fmt, ...)
{
	if (error) {
		va_list ap;

		error->type = type;
		error->cause = cause;
		va_start(ap, fmt);
		vsnprintf(error->message, sizeof(error->message), fmt, ap);
		va_end(ap);
	}
	return -code;
}

static const char *const error_type_names[MPF_FLOW_ERROR_TYPES] = {
	[MPF_FLOW_ERROR_TYPE_NONE] = "none",
	[MPF_FLOW_ERROR_TYPE_UNSPECIFIED] = "unspecified",
	[MPF_FLOW_ERROR_TYPE_HANDLE] = "handle",
	[MPF_FLOW_ERROR_TYPE_ATTR_GROUP] = "attr_group",
	[MPF_FLOW_ERROR_TYPE_ATTR_PRIORITY] = "attr_priority",
	[MPF_FLOW_ERROR_TYPE_ATTR_INGRESS] = "attr_ingress",
	[MPF_FLOW_ERROR_TYPE_ATTR_EGRESS] = "attr_egress",
	[MPF_FLOW_ERROR_TYPE_ATTR] = "attr",
	[MPF_FLOW_ERROR_TYPE_ITEM_NUM] = "item_num",
	[MPF_FLOW_ERROR_TYPE_ITEM] = "item",
	[MPF_FLOW_ERROR_TYPE_ACTION_NUM] = "action_num",
	[MPF_FLOW_ERROR_TYPE_ACTION] = "action",
};

const char *mpf_flow_error_type_name(enum mpf_flow_error_type type)
{
	if ((int)type < 0 || type >= MPF_FLOW_ERROR_TYPES)
		return NULL;
	return error_type_names[type];
}
