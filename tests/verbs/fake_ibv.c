/* SPDX-License-Identifier: BSD-3-Clause */
/* The fake RDMA NIC: see fake_ibv.h. Single-threaded, as its one user is. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/verbs/fake_ibv.h"

#define FAKE_FLOWS_MAX 4096
#define FAKE_FAILS_MAX 8
#define FAKE_WQS_MAX   1024
#define FAKE_MASKS_MAX 32

/* Wrapped exports (the real ones are never called). */
struct ibv_device **__wrap_ibv_get_device_list(int *num_devices);
void __wrap_ibv_free_device_list(struct ibv_device **list);
const char *__wrap_ibv_get_device_name(struct ibv_device *device);
struct ibv_context *__wrap_ibv_open_device(struct ibv_device *device);
int __wrap_ibv_close_device(struct ibv_context *context);
int __wrap_ibv_query_port(struct ibv_context *context, uint8_t port,
			  struct _compat_ibv_port_attr *attr);
int __wrap_ibv_query_device(struct ibv_context *context, struct ibv_device_attr *attr);
struct ibv_pd *__wrap_ibv_alloc_pd(struct ibv_context *context);
int __wrap_ibv_dealloc_pd(struct ibv_pd *pd);
struct ibv_cq *__wrap_ibv_create_cq(struct ibv_context *context, int cqe, void *cq_context,
				    struct ibv_comp_channel *channel, int comp_vector);
int __wrap_ibv_destroy_cq(struct ibv_cq *cq);
int __wrap_ibv_destroy_qp(struct ibv_qp *qp);

static struct {
	bool configured;
	int devices;
	bool infiniband;
	uint16_t levels;
	uint32_t refused; /* bit per spec type index, below */
	bool no_partial_masks, global_masks, no_dont_trap, no_egress;
	int max_objects; /* CQs and QPs, as ibv_query_device says */
	struct {
		enum fake_op op;
		unsigned nth; /* 0: always */
		int err;
	} fails[FAKE_FAILS_MAX];
	unsigned n_fails;
	bool armed; /* the backend is up: counted failures apply */
	unsigned calls[FAKE_OPS];
	unsigned live[FAKE_KINDS];
	struct fake_flow_record *flows[FAKE_FLOWS_MAX];
	unsigned n_flows;
	struct ibv_wq *wqs[FAKE_WQS_MAX]; /* in creation order */
	unsigned n_wqs;
	struct {
		uint32_t type;
		uint32_t users;
		uint8_t mask[128];
	} masks[FAKE_MASKS_MAX];
	uint32_t last_read_flags;
} fake;

struct fake_device {
	struct ibv_device device;
};
static struct fake_device devices[2];

struct fake_qp {
	struct ibv_qp qp;
	uint64_t hash_fields;
	uint32_t table_size;
	int first_wq;
};

struct fake_table {
	struct ibv_rwq_ind_table table;
	uint32_t size;
	int first_wq;
};

struct fake_counters {
	struct ibv_counters counters;
	uint32_t attached; /* bit 0: packets at index 0, bit 1: bytes at 1 */
	bool bound;	   /* used by a flow */
	uint64_t packets, bytes;
};

struct fake_flow {
	struct ibv_flow flow;
	struct fake_flow_record *record;
	struct fake_counters *counters;
	int mask_slots[32];
	unsigned n_masks;
};

static const struct {
	const char *name;
	uint32_t type;
} spec_types[] = {
	{"eth", IBV_FLOW_SPEC_ETH},
	{"ipv4", IBV_FLOW_SPEC_IPV4},
	{"ipv4_ext", IBV_FLOW_SPEC_IPV4_EXT},
	{"ipv6", IBV_FLOW_SPEC_IPV6},
	{"tcp", IBV_FLOW_SPEC_TCP},
	{"udp", IBV_FLOW_SPEC_UDP},
	{"vxlan", IBV_FLOW_SPEC_VXLAN_TUNNEL},
	{"gre", IBV_FLOW_SPEC_GRE},
	{"mpls", IBV_FLOW_SPEC_MPLS},
	{"esp", IBV_FLOW_SPEC_ESP},
	{"inner", IBV_FLOW_SPEC_INNER},
	{"drop", IBV_FLOW_SPEC_ACTION_DROP},
	{"tag", IBV_FLOW_SPEC_ACTION_TAG},
	{"count", IBV_FLOW_SPEC_ACTION_COUNT},
};
#define SPEC_TYPES (sizeof(spec_types) / sizeof(spec_types[0]))

static const char *const op_names[FAKE_OPS] = {
	"open_device",	"alloc_pd",	    "create_cq",       "create_wq",
	"modify_wq",	"create_ind_table", "create_qp",       "create_flow",
	"destroy_flow", "create_counters",  "attach_counters", "read_counters",
};

/* Every live object is on one list, so that a configure frees what a test
 * left on the device on purpose (a flow the device would not destroy). */
struct object_header {
	struct object_header *prev, *next;
	enum fake_kind kind;
	_Alignas(16) unsigned char body[];
};
static struct object_header objects = {&objects, &objects, FAKE_KINDS};

static void forget(void)
{
	while (objects.next != &objects) {
		struct object_header *h = objects.next;

		objects.next = h->next;
		free(h);
	}
	objects.prev = &objects;
	for (unsigned i = 0; i < fake.n_flows; i++)
		free(fake.flows[i]);
	memset(&fake, 0, sizeof(fake));
	fake.configured = true;
	fake.devices = 1;
	fake.levels = 16;
	fake.max_objects = 1024;
}

int fake_ibv_configure(const char *config)
{
	char copy[512], *save = NULL;

	forget();
	if (config == NULL)
		return 0;
	snprintf(copy, sizeof(copy), "%s", config);
	for (char *word = strtok_r(copy, ",", &save); word; word = strtok_r(NULL, ",", &save)) {
		unsigned op, nth;
		int err;
		char name[32];

		if (sscanf(word, "devices=%d", &fake.devices) == 1 ||
		    sscanf(word, "max_objects=%d", &fake.max_objects) == 1 ||
		    sscanf(word, "levels=%hu", &fake.levels) == 1)
			continue;
		if (strcmp(word, "link=ib") == 0)
			fake.infiniband = true;
		else if (strcmp(word, "no_partial_masks") == 0)
			fake.no_partial_masks = true;
		else if (strcmp(word, "global_masks") == 0)
			fake.global_masks = true;
		else if (strcmp(word, "no_dont_trap") == 0)
			fake.no_dont_trap = true;
		else if (strcmp(word, "no_egress") == 0)
			fake.no_egress = true;
		else if (strncmp(word, "refuse=", 7) == 0) {
			char *inner = NULL;

			for (char *s = strtok_r(word + 7, "+", &inner); s;
			     s = strtok_r(NULL, "+", &inner)) {
				unsigned i;

				for (i = 0; i < SPEC_TYPES && strcmp(spec_types[i].name, s); i++)
					;
				if (i == SPEC_TYPES)
					return -EINVAL;
				fake.refused |= 1u << i;
			}
		} else if (sscanf(word, "fail=%31[a-z_]:%u:%d", name, &nth, &err) == 3) {
			for (op = 0; op < FAKE_OPS && strcmp(op_names[op], name); op++)
				;
			if (op == FAKE_OPS || fake.n_fails == FAKE_FAILS_MAX)
				return -EINVAL;
			fake.fails[fake.n_fails].op = (enum fake_op)op;
			fake.fails[fake.n_fails].nth = nth;
			fake.fails[fake.n_fails].err = err;
			fake.n_fails++;
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

static void configure_once(void)
{
	if (!fake.configured && fake_ibv_configure(getenv("MPFLOW_FAKE_IBV")) != 0) {
		fprintf(stderr, "fake_ibv: MPFLOW_FAKE_IBV='%s' is not a configuration\n",
			getenv("MPFLOW_FAKE_IBV"));
		abort();
	}
}

void fake_ibv_fail(enum fake_op op, unsigned nth, int err)
{
	configure_once();
	fake.fails[fake.n_fails].op = op;
	fake.fails[fake.n_fails].nth = nth ? fake.calls[op] + nth : 0;
	fake.fails[fake.n_fails].err = err;
	fake.n_fails++;
}

/* Count a call of `op`: 0, or the errno it must fail with. */
static int call(enum fake_op op)
{
	configure_once();
	if (fake.armed)
		fake.calls[op]++;
	for (unsigned i = 0; i < fake.n_fails; i++)
		if (fake.fails[i].op == op &&
		    (fake.fails[i].nth == 0 || (fake.armed && fake.fails[i].nth == fake.calls[op])))
			return fake.fails[i].err;
	return 0;
}

static void *object(enum fake_kind kind, size_t size)
{
	struct object_header *h = calloc(1, sizeof(*h) + size);

	if (h == NULL)
		return NULL;
	h->kind = kind;
	h->next = objects.next;
	h->prev = &objects;
	objects.next->prev = h;
	objects.next = h;
	fake.live[kind]++;
	return h->body;
}

static void release(enum fake_kind kind, void *p)
{
	struct object_header *h =
		(struct object_header *)((char *)p - offsetof(struct object_header, body));

	h->prev->next = h->next;
	h->next->prev = h->prev;
	fake.live[kind]--;
	free(h);
}

/* A call of `op` that makes an object of `kind`: NULL with errno set when
 * the call must fail, else the object, zeroed. */
static void *make(enum fake_op op, enum fake_kind kind, size_t size)
{
	int err = call(op);

	if (err) {
		errno = err;
		return NULL;
	}
	return object(kind, size);
}

unsigned fake_ibv_live(enum fake_kind kind)
{
	return fake.live[kind];
}

unsigned fake_ibv_live_total(void)
{
	unsigned n = 0;

	for (int k = 0; k < FAKE_KINDS; k++)
		n += fake.live[k];
	return n;
}

const struct fake_flow_record *fake_ibv_flow(unsigned index)
{
	return index < fake.n_flows ? fake.flows[index] : NULL;
}

unsigned fake_ibv_flows(void)
{
	return fake.n_flows;
}

uint32_t fake_ibv_last_read_flags(void)
{
	return fake.last_read_flags;
}

/* --- the context's ops: the static inline verbs land here --- */

static int fake_query_port(struct ibv_context *context, uint8_t port, struct ibv_port_attr *attr,
			   size_t size)
{
	(void)context;
	memset(attr, 0, size);
	if (port != 1)
		return EINVAL;
	attr->state = IBV_PORT_ACTIVE;
	attr->link_layer = fake.infiniband ? IBV_LINK_LAYER_INFINIBAND : IBV_LINK_LAYER_ETHERNET;
	return 0;
}

static struct ibv_wq *fake_create_wq(struct ibv_context *context, struct ibv_wq_init_attr *init)
{
	struct ibv_wq *wq;
	int err = call(FAKE_CREATE_WQ);

	if (err || init->wq_type != IBV_WQT_RQ || !init->pd || !init->cq ||
	    fake.n_wqs == FAKE_WQS_MAX) {
		errno = err ? err : EINVAL;
		return NULL;
	}
	wq = object(FAKE_WQ, sizeof(*wq));
	wq->context = context;
	wq->pd = init->pd;
	wq->cq = init->cq;
	wq->state = IBV_WQS_RESET;
	wq->wq_num = fake.n_wqs;
	fake.wqs[fake.n_wqs++] = wq;
	return wq;
}

static int fake_modify_wq(struct ibv_wq *wq, struct ibv_wq_attr *attr)
{
	int err = call(FAKE_MODIFY_WQ);

	if (err)
		return err;
	if (attr->attr_mask & IBV_WQ_ATTR_STATE)
		wq->state = attr->wq_state;
	return 0;
}

static int fake_destroy_wq(struct ibv_wq *wq)
{
	fake.wqs[wq->wq_num] = NULL;
	release(FAKE_WQ, wq);
	return 0;
}

static struct ibv_rwq_ind_table *fake_create_ind_table(struct ibv_context *context,
						       struct ibv_rwq_ind_table_init_attr *init)
{
	struct fake_table *t;
	int err = call(FAKE_CREATE_IND_TABLE);
	uint32_t size = 1u << init->log_ind_tbl_size;

	if (err || init->log_ind_tbl_size > 10) {
		errno = err ? err : EINVAL;
		return NULL;
	}
	for (uint32_t i = 0; i < size; i++)
		if (init->ind_tbl[i] == NULL || init->ind_tbl[i]->state != IBV_WQS_RDY) {
			errno = EINVAL; /* a WQ must exist and be ready */
			return NULL;
		}
	t = object(FAKE_IND_TABLE, sizeof(*t));
	t->table.context = context;
	t->size = size;
	t->first_wq = (int)init->ind_tbl[0]->wq_num;
	return &t->table;
}

static int fake_destroy_ind_table(struct ibv_rwq_ind_table *table)
{
	release(FAKE_IND_TABLE, (struct fake_table *)(void *)table);
	return 0;
}

static struct ibv_qp *fake_create_qp_ex(struct ibv_context *context,
					struct ibv_qp_init_attr_ex *init)
{
	const uint32_t needed =
		IBV_QP_INIT_ATTR_PD | IBV_QP_INIT_ATTR_IND_TABLE | IBV_QP_INIT_ATTR_RX_HASH;
	struct fake_table *t = (struct fake_table *)(void *)init->rwq_ind_tbl;
	struct fake_qp *qp;
	int err = call(FAKE_CREATE_QP);

	if (err || init->qp_type != IBV_QPT_RAW_PACKET || (init->comp_mask & needed) != needed ||
	    t == NULL || init->rx_hash_conf.rx_hash_function != IBV_RX_HASH_FUNC_TOEPLITZ ||
	    init->rx_hash_conf.rx_hash_key_len != 40 || init->rx_hash_conf.rx_hash_key == NULL) {
		errno = err ? err : EINVAL;
		return NULL;
	}
	qp = object(FAKE_QP, sizeof(*qp));
	qp->qp.context = context;
	qp->qp.pd = init->pd;
	qp->qp.qp_type = IBV_QPT_RAW_PACKET;
	qp->hash_fields = init->rx_hash_conf.rx_hash_fields_mask;
	qp->table_size = t->size;
	qp->first_wq = t->first_wq;
	return &qp->qp;
}

/* The size each spec type must have. */
static size_t spec_size(uint32_t type)
{
	switch (type & ~(uint32_t)IBV_FLOW_SPEC_INNER) {
	case IBV_FLOW_SPEC_ETH:
		return sizeof(struct ibv_flow_spec_eth);
	case IBV_FLOW_SPEC_IPV4:
		return sizeof(struct ibv_flow_spec_ipv4);
	case IBV_FLOW_SPEC_IPV4_EXT:
		return sizeof(struct ibv_flow_spec_ipv4_ext);
	case IBV_FLOW_SPEC_IPV6:
		return sizeof(struct ibv_flow_spec_ipv6);
	case IBV_FLOW_SPEC_TCP:
	case IBV_FLOW_SPEC_UDP:
		return sizeof(struct ibv_flow_spec_tcp_udp);
	case IBV_FLOW_SPEC_VXLAN_TUNNEL:
		return sizeof(struct ibv_flow_spec_tunnel);
	case IBV_FLOW_SPEC_GRE:
		return sizeof(struct ibv_flow_spec_gre);
	case IBV_FLOW_SPEC_MPLS:
		return sizeof(struct ibv_flow_spec_mpls);
	case IBV_FLOW_SPEC_ESP:
		return sizeof(struct ibv_flow_spec_esp);
	case IBV_FLOW_SPEC_ACTION_TAG:
		return sizeof(struct ibv_flow_spec_action_tag);
	case IBV_FLOW_SPEC_ACTION_DROP:
		return sizeof(struct ibv_flow_spec_action_drop);
	case IBV_FLOW_SPEC_ACTION_COUNT:
		return sizeof(struct ibv_flow_spec_counter_action);
	default:
		return 0;
	}
}

static bool refused(uint32_t type)
{
	for (unsigned i = 0; i < SPEC_TYPES; i++)
		if ((fake.refused & (1u << i)) &&
		    (spec_types[i].type == (type & ~(uint32_t)IBV_FLOW_SPEC_INNER) ||
		     (spec_types[i].type == IBV_FLOW_SPEC_INNER && (type & IBV_FLOW_SPEC_INNER))))
			return true;
	return false;
}

static bool is_match_spec(uint32_t type)
{
	return (type & ~(uint32_t)IBV_FLOW_SPEC_INNER) < IBV_FLOW_SPEC_ACTION_TAG;
}

/* Where a matching spec's mask filter sits, and its size. */
static void filters(uint32_t type, size_t *mask, size_t *filter)
{
#define FILTER(spec) *mask = offsetof(struct spec, mask), *filter = sizeof(((struct spec *)0)->mask)
	switch (type & ~(uint32_t)IBV_FLOW_SPEC_INNER) {
	case IBV_FLOW_SPEC_ETH:
		FILTER(ibv_flow_spec_eth);
		break;
	case IBV_FLOW_SPEC_IPV4:
		FILTER(ibv_flow_spec_ipv4);
		break;
	case IBV_FLOW_SPEC_IPV4_EXT:
		FILTER(ibv_flow_spec_ipv4_ext);
		break;
	case IBV_FLOW_SPEC_IPV6:
		FILTER(ibv_flow_spec_ipv6);
		break;
	case IBV_FLOW_SPEC_VXLAN_TUNNEL:
		FILTER(ibv_flow_spec_tunnel);
		break;
	case IBV_FLOW_SPEC_GRE:
		FILTER(ibv_flow_spec_gre);
		break;
	case IBV_FLOW_SPEC_MPLS:
		FILTER(ibv_flow_spec_mpls);
		break;
	case IBV_FLOW_SPEC_ESP:
		FILTER(ibv_flow_spec_esp);
		break;
	default:
		FILTER(ibv_flow_spec_tcp_udp);
		break;
	}
#undef FILTER
}

static struct ibv_flow *flow_fail(struct fake_flow *f, int err)
{
	if (f)
		release(FAKE_FLOW, f);
	errno = err;
	return NULL;
}

static struct ibv_flow *fake_create_flow(struct ibv_qp *ibqp, struct ibv_flow_attr *attr)
{
	struct fake_qp *qp = (struct fake_qp *)(void *)ibqp;
	const uint8_t *bytes = (const uint8_t *)attr;
	struct fake_counters *counters = NULL;
	struct fake_flow *f;
	size_t at = sizeof(*attr);
	int err = call(FAKE_CREATE_FLOW);

	if (err)
		return flow_fail(NULL, err);
	if (attr->comp_mask || attr->size < sizeof(*attr) ||
	    attr->size > sizeof(f->record->bytes) || attr->port != 1 ||
	    qp->qp.qp_type != IBV_QPT_RAW_PACKET)
		return flow_fail(NULL, EINVAL);
	if (attr->priority >= fake.levels)
		return flow_fail(NULL, EINVAL);
	if ((attr->flags & IBV_FLOW_ATTR_FLAGS_DONT_TRAP && fake.no_dont_trap) ||
	    (attr->flags & IBV_FLOW_ATTR_FLAGS_EGRESS && fake.no_egress) ||
	    (attr->flags & ~(uint32_t)(IBV_FLOW_ATTR_FLAGS_DONT_TRAP | IBV_FLOW_ATTR_FLAGS_EGRESS)))
		return flow_fail(NULL, EOPNOTSUPP);
	f = object(FAKE_FLOW, sizeof(*f));
	for (unsigned i = 0; i < attr->num_of_specs; i++) {
		uint32_t type;
		uint16_t size;

		if (at + 6 > attr->size)
			return flow_fail(f, EINVAL);
		memcpy(&type, bytes + at, sizeof(type));
		memcpy(&size, bytes + at + 4, sizeof(size));
		if (size == 0 || size != spec_size(type) || at + size > attr->size)
			return flow_fail(f, EINVAL);
		if (refused(type))
			return flow_fail(f, EOPNOTSUPP);
		if (type == IBV_FLOW_SPEC_ACTION_COUNT) {
			struct ibv_flow_spec_counter_action count;

			memcpy(&count, bytes + at, sizeof(count));
			counters = (struct fake_counters *)(void *)count.counters;
			if (counters == NULL || counters->attached != 3 || counters->bound)
				return flow_fail(f, EINVAL);
		}
		if (is_match_spec(type)) {
			const uint8_t *mask;
			size_t offset, filter;

			filters(type, &offset, &filter);
			mask = bytes + at + offset;
			for (size_t b = 0; b < filter; b++)
				if (fake.no_partial_masks && mask[b] != 0 && mask[b] != 0xff)
					return flow_fail(f, EINVAL);
			if (fake.global_masks) {
				unsigned m, free_slot = FAKE_MASKS_MAX;

				for (m = 0; m < FAKE_MASKS_MAX; m++) {
					if (!fake.masks[m].users && free_slot == FAKE_MASKS_MAX)
						free_slot = m;
					if (fake.masks[m].users && fake.masks[m].type == type)
						break;
				}
				if (m < FAKE_MASKS_MAX && memcmp(fake.masks[m].mask, mask, filter))
					return flow_fail(f, EEXIST);
				if (m == FAKE_MASKS_MAX) {
					m = free_slot;
					fake.masks[m].type = type;
					memcpy(fake.masks[m].mask, mask, filter);
				}
				f->mask_slots[f->n_masks++] = (int)m;
			}
		}
		at += size;
	}
	if (at != attr->size)
		return flow_fail(f, EINVAL);
	for (unsigned m = 0; m < f->n_masks; m++)
		fake.masks[f->mask_slots[m]].users++;
	if (attr->type == IBV_FLOW_ATTR_ALL_DEFAULT)
		fake.armed = true; /* start-up is over */
	if (counters)
		counters->bound = true;
	f->counters = counters;
	f->flow.context = ibqp->context;
	if (fake.n_flows < FAKE_FLOWS_MAX) {
		struct fake_flow_record *r = calloc(1, sizeof(*r));

		memcpy(r->bytes, attr, attr->size);
		r->length = attr->size;
		r->qp_hash_fields = (uint32_t)qp->hash_fields;
		r->qp_queues = qp->table_size;
		r->qp_first_wq = qp->first_wq;
		r->live = 1;
		f->record = r;
		fake.flows[fake.n_flows++] = r;
	}
	return &f->flow;
}

static int fake_destroy_flow(struct ibv_flow *flow)
{
	struct fake_flow *f = (struct fake_flow *)(void *)flow;
	int err = call(FAKE_DESTROY_FLOW);

	if (err)
		return err;
	for (unsigned m = 0; m < f->n_masks; m++)
		fake.masks[f->mask_slots[m]].users--;
	if (f->counters)
		f->counters->bound = false;
	if (f->record)
		f->record->live = 0;
	release(FAKE_FLOW, f);
	return 0;
}

static struct ibv_counters *fake_create_counters(struct ibv_context *context,
						 struct ibv_counters_init_attr *init)
{
	struct fake_counters *c;
	int err = call(FAKE_CREATE_COUNTERS);

	if (!err && refused(IBV_FLOW_SPEC_ACTION_COUNT))
		err = EOPNOTSUPP;
	if (err || init->comp_mask) {
		errno = err ? err : EINVAL;
		return NULL;
	}
	c = object(FAKE_COUNTERS, sizeof(*c));
	c->counters.context = context;
	return &c->counters;
}

static int fake_destroy_counters(struct ibv_counters *counters)
{
	struct fake_counters *c = (struct fake_counters *)(void *)counters;

	if (c->bound)
		return EBUSY; /* a flow still counts into it */
	release(FAKE_COUNTERS, c);
	return 0;
}

static int fake_attach_counters(struct ibv_counters *counters, struct ibv_counter_attach_attr *attr,
				struct ibv_flow *flow)
{
	struct fake_counters *c = (struct fake_counters *)(void *)counters;
	int err = call(FAKE_ATTACH_COUNTERS);

	if (err)
		return err;
	if (flow != NULL || attr->index > 1 ||
	    attr->counter_desc != (attr->index ? IBV_COUNTER_BYTES : IBV_COUNTER_PACKETS))
		return EINVAL;
	c->attached |= 1u << attr->index;
	return 0;
}

static int fake_read_counters(struct ibv_counters *counters, uint64_t *values, uint32_t n,
			      uint32_t flags)
{
	struct fake_counters *c = (struct fake_counters *)(void *)counters;
	int err = call(FAKE_READ_COUNTERS);

	if (err)
		return err;
	fake.last_read_flags = flags;
	/* Traffic: a bound counter sees one more 100-byte packet per read. */
	if (c->bound) {
		c->packets++;
		c->bytes += 100;
	}
	if (n > 0)
		values[0] = c->packets;
	if (n > 1)
		values[1] = c->bytes;
	return 0;
}

/* --- the wrapped exports --- */

struct ibv_device **__wrap_ibv_get_device_list(int *num_devices)
{
	struct ibv_device **list;

	configure_once();
	list = calloc((size_t)fake.devices + 1, sizeof(*list));
	for (int i = 0; i < fake.devices && i < 2; i++) {
		snprintf(devices[i].device.name, sizeof(devices[i].device.name), "fake%d", i);
		list[i] = &devices[i].device;
	}
	if (num_devices)
		*num_devices = fake.devices < 2 ? fake.devices : 2;
	return list;
}

void __wrap_ibv_free_device_list(struct ibv_device **list)
{
	free(list);
}

const char *__wrap_ibv_get_device_name(struct ibv_device *device)
{
	return device->name;
}

struct ibv_context *__wrap_ibv_open_device(struct ibv_device *device)
{
	struct verbs_context *v = make(FAKE_OPEN_DEVICE, FAKE_CONTEXT, sizeof(*v));

	if (v == NULL)
		return NULL;
	v->sz = sizeof(*v);
	v->context.device = device;
	v->context.abi_compat = __VERBS_ABI_IS_EXTENDED;
	v->query_port = fake_query_port;
	v->create_wq = fake_create_wq;
	v->modify_wq = fake_modify_wq;
	v->destroy_wq = fake_destroy_wq;
	v->create_rwq_ind_table = fake_create_ind_table;
	v->destroy_rwq_ind_table = fake_destroy_ind_table;
	v->create_qp_ex = fake_create_qp_ex;
	v->ibv_create_flow = fake_create_flow;
	v->ibv_destroy_flow = fake_destroy_flow;
	v->create_counters = fake_create_counters;
	v->destroy_counters = fake_destroy_counters;
	v->attach_counters_point_flow = fake_attach_counters;
	v->read_counters = fake_read_counters;
	return &v->context;
}

int __wrap_ibv_close_device(struct ibv_context *context)
{
	release(FAKE_CONTEXT, verbs_get_ctx(context));
	return 0;
}

int __wrap_ibv_query_port(struct ibv_context *context, uint8_t port,
			  struct _compat_ibv_port_attr *attr)
{
	return fake_query_port(context, port, (struct ibv_port_attr *)(void *)attr,
			       sizeof(struct ibv_port_attr));
}

int __wrap_ibv_query_device(struct ibv_context *context, struct ibv_device_attr *attr)
{
	(void)context;
	memset(attr, 0, sizeof(*attr));
	snprintf(attr->fw_ver, sizeof(attr->fw_ver), "fake");
	attr->max_qp = attr->max_cq = fake.max_objects;
	attr->phys_port_cnt = 1;
	return 0;
}

struct ibv_pd *__wrap_ibv_alloc_pd(struct ibv_context *context)
{
	struct ibv_pd *pd = make(FAKE_ALLOC_PD, FAKE_PD, sizeof(*pd));

	if (pd == NULL)
		return NULL;
	pd->context = context;
	return pd;
}

int __wrap_ibv_dealloc_pd(struct ibv_pd *pd)
{
	release(FAKE_PD, pd);
	return 0;
}

struct ibv_cq *__wrap_ibv_create_cq(struct ibv_context *context, int cqe, void *cq_context,
				    struct ibv_comp_channel *channel, int comp_vector)
{
	struct ibv_cq *cq;
	int err = call(FAKE_CREATE_CQ);

	(void)cq_context, (void)channel, (void)comp_vector;
	if (err || cqe < 1) {
		errno = err ? err : EINVAL;
		return NULL;
	}
	cq = object(FAKE_CQ, sizeof(*cq));
	cq->context = context;
	cq->cqe = cqe;
	return cq;
}

int __wrap_ibv_destroy_cq(struct ibv_cq *cq)
{
	release(FAKE_CQ, cq);
	return 0;
}

int __wrap_ibv_destroy_qp(struct ibv_qp *qp)
{
	release(FAKE_QP, (struct fake_qp *)(void *)qp);
	return 0;
}
