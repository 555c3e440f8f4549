/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Pattern items and actions as compound literals, for tests and benchmarks:
 *   ITEM(ETH), ITEM(IPV4, .spec = &ip, .mask = &mask), ACTION(QUEUE, &q)
 * ITEM forwards through ITEM_ so that ITEM(ETH) hands its variadic part an
 * empty argument, which C11 allows (no GNU extension, clang -pedantic clean).
 */
#ifndef MPFLOW_TESTS_RULE_LITERALS_H
#define MPFLOW_TESTS_RULE_LITERALS_H

#include <mpflow/flow.h>

#define ITEM(...)     ITEM_(__VA_ARGS__, )
#define ITEM_(t, ...) ((struct mpf_flow_item){.type = MPF_FLOW_ITEM_TYPE_##t, __VA_ARGS__})
#define ACTION(t, c)  ((struct mpf_flow_action){.type = MPF_FLOW_ACTION_TYPE_##t, .conf = (c)})

#endif
