/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Public constants and sizes (libclient/include/mpflow/) and their twins in
 * shared memory and on the wire (shm/): equal by construction, checked
 * here at compile time, not by coincidence. Code that copies one into the
 * other (libclient/handshake.c: directory entries; libclient/rxq.c:
 * descriptors; wire.c: meter statistics) relies on each line below.
 * Nothing here runs.
 */
#include <stddef.h>

#include <mpflow/mpflow.h>

#include "shm/handshake.h"
#include "shm/region.h"
#include "shm/rxq.h"
#include "shm/wire.h"

/* The rule directory (region.h) and struct mpf_flow_info. */
_Static_assert(sizeof(((struct mpf_flow_info *)0)->text) == REGION_TEXT_MAX,
	       "a rule's text: the directory's size is the API's");
_Static_assert(sizeof(((struct mpf_flow_info *)0)->owner_name) == REGION_NAME_MAX,
	       "a client's name in the directory");
_Static_assert(REGION_NAME_MAX == HANDSHAKE_NAME_MAX, "a client's name in its hello");
_Static_assert(MPF_FLOW_INFO_INGRESS == REGION_ENTRY_INGRESS &&
		       MPF_FLOW_INFO_EGRESS == REGION_ENTRY_EGRESS &&
		       MPF_FLOW_INFO_PERSISTENT == REGION_ENTRY_PERSISTENT &&
		       MPF_FLOW_INFO_COUNTED == REGION_ENTRY_COUNT &&
		       MPF_FLOW_INFO_TEXT_TRUNCATED == REGION_ENTRY_TEXT_TRUNCATED &&
		       MPF_FLOW_INFO_UNRESTORED == REGION_ENTRY_UNRESTORED,
	       "rule flags: the directory's bits are the API's");

/* RX queues (rxq.h) and struct mpf_packet. */
_Static_assert(MPF_RXQ_VF(0) == RXQ_VF_BASE, "a VF's queue numbers");
_Static_assert(MPF_PACKET_MARK == RXQ_DESC_MARK && MPF_PACKET_FLAG == RXQ_DESC_FLAG &&
		       MPF_PACKET_RSS == RXQ_DESC_RSS &&
		       MPF_PACKET_TRUNCATED == RXQ_DESC_TRUNCATED &&
		       MPF_PACKET_DEFAULT == RXQ_DESC_DEFAULT,
	       "packet flags: the descriptor's bits are the API's");

_Static_assert(MPF_RXQ_PACKET_MAX == sizeof(struct rxq_desc) + RXQ_FRAME_MAX &&
		       MPF_RXQ_PACKET_MAX % 8 == 0,
	       "a packet in the caller's buffer: the record a ring carries");

/* Meters (wire.h) and the API's colors and drop bits. */
_Static_assert(MPF_COLOR_GREEN == 0 && MPF_COLOR_YELLOW == 1 && MPF_COLOR_RED == 2 &&
		       MPF_COLORS == 3,
	       "colors index the statistics in this order");
_Static_assert(sizeof(((struct wire_meter_stats *)0)->packets) ==
			       sizeof(((struct mpf_meter_stats *)0)->packets) &&
		       sizeof(((struct wire_meter_stats *)0)->bytes) ==
			       sizeof(((struct mpf_meter_stats *)0)->bytes),
	       "a meter's statistics by color");
_Static_assert(MPF_METER_DROP_GREEN == 1u << MPF_COLOR_GREEN &&
		       MPF_METER_DROP_YELLOW == 1u << MPF_COLOR_YELLOW &&
		       MPF_METER_DROP_RED == 1u << MPF_COLOR_RED,
	       "drop bits: one per color, as the wire's meter `drop` carries them");

/* The wire's structs, each a fixed layout. */
_Static_assert(sizeof(struct wire_vf) == 8, "wire vf");
_Static_assert(sizeof(struct wire_destroy) == 8, "wire destroy");
_Static_assert(sizeof(struct wire_flush) == 8, "wire flush");
_Static_assert(sizeof(struct wire_query) == 16, "wire query");
_Static_assert(sizeof(struct wire_isolate) == 8, "wire isolate");
_Static_assert(sizeof(struct wire_port_ref) == 8, "wire port reference");
_Static_assert(sizeof(struct wire_rxq) == 8, "wire rxq");
_Static_assert(sizeof(struct wire_meter_ref) == 8, "wire meter ref");
_Static_assert(sizeof(struct wire_audit) == 8, "wire audit");
_Static_assert(sizeof(struct wire_batch) == 8, "wire batch");
_Static_assert(sizeof(struct wire_count) == 24, "wire count");
_Static_assert(sizeof(struct wire_meter_stats) == 48, "wire meter stats");
_Static_assert(sizeof(struct handshake_hello) == 40 && sizeof(struct handshake_welcome) == 184,
	       "handshake messages");
