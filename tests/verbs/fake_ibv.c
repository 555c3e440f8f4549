/* SPDX-License-Identifier: BSD-3-Clause */
/* The fake RDMA NIC: see fake_ibv.h. Single-threaded, as its one user is. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hwdrv/soft/soft.h"
#include "hwdrv/verbs/verbs.h"
#include "tests/verbs/fake_ibv.h"
#include "tests/verbs/nic_model.h"

#define FAKE_FLOWS_MAX	 4096
#define FAKE_FAILS_MAX	 8
#define FAKE_WQS_MAX	 1024
#define FAKE_MASKS_MAX	 32
#define FAKE_MRS_MAX	 256
#define FAKE_LEVELS_MAX	 256  /* priority levels a fake device may have */
#define FAKE_PENDING_MAX 1024 /* CQ events a channel holds */

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
struct ibv_mr *__wrap_ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access);
int __wrap_ibv_dereg_mr(struct ibv_mr *mr);
struct ibv_comp_channel *__wrap_ibv_create_comp_channel(struct ibv_context *context);
int __wrap_ibv_destroy_comp_channel(struct ibv_comp_channel *channel);
int __wrap_ibv_get_cq_event(struct ibv_comp_channel *channel, struct ibv_cq **cq,
			    void **cq_context);
void __wrap_ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents);

struct fake_flow;
struct fake_mr;

/* One lock over the device: the primary's thread calls in while the wire
 * thread (a --source) receives frames. */
static pthread_mutex_t device_lock = PTHREAD_MUTEX_INITIALIZER;
#define LOCKED(expr)                                                                               \
	__extension__({                                                                            \
		pthread_mutex_lock(&device_lock);                                                  \
		__typeof__(expr) result_ = (expr);                                                 \
		pthread_mutex_unlock(&device_lock);                                                \
		result_;                                                                           \
	})

static struct {
	bool configured;
	int devices;
	bool infiniband;
	uint16_t levels;
	uint32_t refused; /* bit per spec type index, below */
	bool no_partial_masks, global_masks, no_dont_trap, no_egress, no_flow_tag;
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
	struct fake_wq *wqs[FAKE_WQS_MAX]; /* in creation order */
	unsigned n_wqs;
	/* Live flows in the order the NIC tries them: a list per priority,
	 * oldest first (the model's guess for a tie: mlx5 leaves it open). */
	struct fake_flow *steering[FAKE_LEVELS_MAX];
	struct fake_mr *mrs[FAKE_MRS_MAX];
	uint32_t next_key;
	uint64_t unsteered; /* frames no flow took (isolated, no default) */
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

/* A completion: what a receive into a posted buffer left. */
struct fake_cqe {
	uint64_t wr_id;
	enum ibv_wc_status status;
	uint32_t byte_len;
	uint32_t flow_tag;
	uint32_t qp_num;
};

struct fake_cq {
	struct ibv_cq_ex cq; /* first: ibv_cq_ex_to_cq() is a cast */
	bool armed;	     /* ibv_req_notify_cq() asked for an event */
	uint32_t size;
	struct fake_cqe *cqes;
	uint32_t head, count;
	struct fake_cqe current; /* the one a poll is on */
	uint64_t overruns;
};

struct fake_channel {
	struct ibv_comp_channel channel;
	int write_fd;
	struct fake_cq *pending[FAKE_PENDING_MAX];
	unsigned head, count;
};

struct fake_recv {
	uint64_t wr_id, addr;
	uint32_t length;
};

struct fake_wq {
	struct ibv_wq wq;
	uint32_t max_wr;
	struct fake_recv *posted;
	uint32_t head, count;
	uint64_t received, dropped;
};

struct fake_mr {
	struct ibv_mr mr;
};

struct fake_table {
	struct ibv_rwq_ind_table table;
	uint32_t size;
	int first_wq;
	struct fake_wq **wqs;
};

struct fake_qp {
	struct ibv_qp qp;
	uint64_t hash_fields;
	uint8_t key[40];
	uint32_t table_size;
	int first_wq;
	struct fake_table *table;
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
	/* What the NIC model runs. */
	struct fake_qp *qp;
	struct fake_flow *prev, *next; /* its priority's list (head's prev: tail) */
	struct ibv_flow_attr *attr;    /* a copy, with its specs */
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
	"open_device",	    "alloc_pd",	     "create_cq",   "create_wq",    "modify_wq",
	"create_ind_table", "create_qp",     "create_flow", "destroy_flow", "create_counters",
	"attach_counters",  "read_counters", "reg_mr",
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
		    sscanf(word, "max_objects=%d", &fake.max_objects) == 1)
			continue;
		if (sscanf(word, "levels=%hu", &fake.levels) == 1) {
			if (fake.levels > FAKE_LEVELS_MAX)
				return -EINVAL;
			continue;
		}
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
		else if (strcmp(word, "no_flow_tag") == 0)
			fake.no_flow_tag = true;
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

static int fake_post_wq_recv(struct ibv_wq *ibwq, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad);

static struct ibv_wq *create_wq(struct ibv_context *context, struct ibv_wq_init_attr *init)
{
	struct fake_wq *wq;
	int err = call(FAKE_CREATE_WQ);

	if (err || init->wq_type != IBV_WQT_RQ || !init->pd || !init->cq || init->max_wr == 0 ||
	    init->max_wr > 32768 || init->max_sge != 1 || fake.n_wqs == FAKE_WQS_MAX) {
		errno = err ? err : EINVAL;
		return NULL;
	}
	wq = object(FAKE_WQ, sizeof(*wq) + init->max_wr * sizeof(struct fake_recv));
	wq->wq.context = context;
	wq->wq.pd = init->pd;
	wq->wq.cq = init->cq;
	wq->wq.state = IBV_WQS_RESET;
	wq->wq.wq_num = fake.n_wqs;
	wq->wq.post_recv = fake_post_wq_recv;
	wq->max_wr = init->max_wr;
	wq->posted = (struct fake_recv *)(void *)(wq + 1);
	fake.wqs[fake.n_wqs++] = wq;
	return &wq->wq;
}

static struct ibv_wq *fake_create_wq(struct ibv_context *context, struct ibv_wq_init_attr *init)
{
	return LOCKED(create_wq(context, init));
}

static int modify_wq(struct fake_wq *wq, struct ibv_wq_attr *attr)
{
	int err = call(FAKE_MODIFY_WQ);

	if (err)
		return err;
	if (!(attr->attr_mask & IBV_WQ_ATTR_STATE))
		return 0;
	/* RESET forgets the posted buffers (mlx5 frees an Ethernet RQ's
	 * descriptors in software; no completion flushes them). */
	if (attr->wq_state == IBV_WQS_RESET)
		wq->count = 0;
	wq->wq.state = attr->wq_state;
	return 0;
}

static int fake_modify_wq(struct ibv_wq *wq, struct ibv_wq_attr *attr)
{
	return LOCKED(modify_wq((struct fake_wq *)(void *)wq, attr));
}

static int destroy_wq(struct fake_wq *wq)
{
	fake.wqs[wq->wq.wq_num] = NULL;
	release(FAKE_WQ, wq);
	return 0;
}

static int fake_destroy_wq(struct ibv_wq *wq)
{
	return LOCKED(destroy_wq((struct fake_wq *)(void *)wq));
}

static struct fake_mr *mr_of(uint32_t lkey, uint64_t addr, uint32_t length)
{
	for (unsigned i = 0; i < FAKE_MRS_MAX; i++) {
		struct fake_mr *m = fake.mrs[i];

		if (m && m->mr.lkey == lkey && addr >= (uintptr_t)m->mr.addr &&
		    addr + length <= (uintptr_t)m->mr.addr + m->mr.length)
			return m;
	}
	return NULL;
}

static int post_wq_recv(struct fake_wq *wq, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	for (; wr; wr = wr->next) {
		struct fake_recv *r;

		/* One scatter entry inside a registered region, room left. */
		if (wr->num_sge != 1 ||
		    !mr_of(wr->sg_list[0].lkey, wr->sg_list[0].addr, wr->sg_list[0].length)) {
			*bad = wr;
			return EINVAL;
		}
		if (wq->count == wq->max_wr || wq->wq.state == IBV_WQS_RESET) {
			*bad = wr;
			return ENOMEM;
		}
		r = &wq->posted[(wq->head + wq->count++) % wq->max_wr];
		r->wr_id = wr->wr_id;
		r->addr = wr->sg_list[0].addr;
		r->length = wr->sg_list[0].length;
	}
	return 0;
}

static int fake_post_wq_recv(struct ibv_wq *ibwq, struct ibv_recv_wr *wr, struct ibv_recv_wr **bad)
{
	return LOCKED(post_wq_recv((struct fake_wq *)(void *)ibwq, wr, bad));
}

static struct ibv_rwq_ind_table *create_ind_table(struct ibv_context *context,
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
	t = object(FAKE_IND_TABLE, sizeof(*t) + size * sizeof(struct fake_wq *));
	t->table.context = context;
	t->size = size;
	t->first_wq = (int)init->ind_tbl[0]->wq_num;
	t->wqs = (struct fake_wq **)(void *)(t + 1);
	for (uint32_t i = 0; i < size; i++)
		t->wqs[i] = (struct fake_wq *)(void *)init->ind_tbl[i];
	return &t->table;
}

static struct ibv_rwq_ind_table *fake_create_ind_table(struct ibv_context *context,
						       struct ibv_rwq_ind_table_init_attr *init)
{
	return LOCKED(create_ind_table(context, init));
}

static int destroy_ind_table(struct fake_table *t)
{
	release(FAKE_IND_TABLE, t);
	return 0;
}

static int fake_destroy_ind_table(struct ibv_rwq_ind_table *table)
{
	return LOCKED(destroy_ind_table((struct fake_table *)(void *)table));
}

static struct ibv_qp *create_qp_ex(struct ibv_context *context, struct ibv_qp_init_attr_ex *init)
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
	memcpy(qp->key, init->rx_hash_conf.rx_hash_key, sizeof(qp->key));
	qp->table_size = t->size;
	qp->first_wq = t->first_wq;
	qp->table = t;
	return &qp->qp;
}

static struct ibv_qp *fake_create_qp_ex(struct ibv_context *context,
					struct ibv_qp_init_attr_ex *init)
{
	return LOCKED(create_qp_ex(context, init));
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

/* Put `f` where the NIC tries it: after every flow of a higher or equal
 * priority (the tail of its priority's list). */
static void steering_insert(struct fake_flow *f)
{
	struct fake_flow **head = &fake.steering[f->attr->priority];

	f->next = NULL;
	f->prev = *head ? (*head)->prev : f; /* the head's prev is the tail */
	if (*head) {
		(*head)->prev->next = f;
		(*head)->prev = f;
	} else {
		*head = f;
	}
}

static void steering_remove(struct fake_flow *f)
{
	struct fake_flow **head = &fake.steering[f->attr->priority];

	if (*head == f) {
		*head = f->next;
		if (f->next)
			f->next->prev = f->prev;
	} else {
		f->prev->next = f->next;
		if (f->next)
			f->next->prev = f->prev;
		else
			(*head)->prev = f->prev;
	}
}

static struct ibv_flow *create_flow(struct ibv_qp *ibqp, struct ibv_flow_attr *attr)
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
	f = object(FAKE_FLOW, sizeof(*f) + attr->size);
	f->attr = (struct ibv_flow_attr *)(void *)(f + 1);
	memcpy(f->attr, attr, attr->size);
	f->qp = qp;
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
	steering_insert(f);
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

static struct ibv_flow *fake_create_flow(struct ibv_qp *ibqp, struct ibv_flow_attr *attr)
{
	return LOCKED(create_flow(ibqp, attr));
}

static int destroy_flow(struct ibv_flow *flow)
{
	struct fake_flow *f = (struct fake_flow *)(void *)flow;
	int err = call(FAKE_DESTROY_FLOW);

	if (err)
		return err;
	steering_remove(f);
	for (unsigned m = 0; m < f->n_masks; m++)
		fake.masks[f->mask_slots[m]].users--;
	if (f->counters)
		f->counters->bound = false;
	if (f->record)
		f->record->live = 0;
	release(FAKE_FLOW, f);
	return 0;
}

static int fake_destroy_flow(struct ibv_flow *flow)
{
	return LOCKED(destroy_flow(flow));
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

static int read_counters(struct ibv_counters *counters, uint64_t *values, uint32_t n,
			 uint32_t flags)
{
	struct fake_counters *c = (struct fake_counters *)(void *)counters;
	int err = call(FAKE_READ_COUNTERS);

	if (err)
		return err;
	fake.last_read_flags = flags;
	if (n > 0)
		values[0] = c->packets;
	if (n > 1)
		values[1] = c->bytes;
	return 0;
}

static int fake_read_counters(struct ibv_counters *counters, uint64_t *values, uint32_t n,
			      uint32_t flags)
{
	return LOCKED(read_counters(counters, values, n, flags));
}

/* --- completions: CQs, their channel --- */

static void cq_push(struct fake_cq *cq, const struct fake_cqe *cqe)
{
	struct fake_channel *ch = (struct fake_channel *)(void *)cq->cq.channel;

	if (cq->count == cq->size) {
		cq->overruns++; /* a real CQ would go to error; the backend sizes it */
		return;
	}
	cq->cqes[(cq->head + cq->count++) % cq->size] = *cqe;
	if (cq->armed && ch && ch->count < FAKE_PENDING_MAX) {
		cq->armed = false;
		ch->pending[(ch->head + ch->count++) % FAKE_PENDING_MAX] = cq;
		if (write(ch->write_fd, "", 1) != 1)
			abort(); /* a pipe of 64 KiB holds FAKE_PENDING_MAX bytes */
	}
}

/* One completion off the CQ into `current`: 0, or ENOENT when empty. The
 * lock is held only for that (a provider holds its CQ's lock from start
 * to end; the backend posts buffers between, which takes ours). */
static int poll_one(struct ibv_cq_ex *ibcq)
{
	struct fake_cq *cq = (struct fake_cq *)(void *)ibcq;
	int err = ENOENT;

	pthread_mutex_lock(&device_lock);
	if (cq->count) {
		cq->current = cq->cqes[cq->head];
		cq->head = (cq->head + 1) % cq->size;
		cq->count--;
		ibcq->wr_id = cq->current.wr_id;
		ibcq->status = cq->current.status;
		err = 0;
	}
	pthread_mutex_unlock(&device_lock);
	return err;
}

static int fake_start_poll(struct ibv_cq_ex *ibcq, struct ibv_poll_cq_attr *attr)
{
	(void)attr;
	return poll_one(ibcq);
}

static int fake_next_poll(struct ibv_cq_ex *ibcq)
{
	return poll_one(ibcq);
}

static void fake_end_poll(struct ibv_cq_ex *ibcq)
{
	(void)ibcq;
}

static enum ibv_wc_opcode fake_read_opcode(struct ibv_cq_ex *ibcq)
{
	(void)ibcq;
	return IBV_WC_RECV;
}

static uint32_t fake_read_byte_len(struct ibv_cq_ex *ibcq)
{
	return ((struct fake_cq *)(void *)ibcq)->current.byte_len;
}

static uint32_t fake_read_flow_tag(struct ibv_cq_ex *ibcq)
{
	return ((struct fake_cq *)(void *)ibcq)->current.flow_tag;
}

static uint32_t fake_read_qp_num(struct ibv_cq_ex *ibcq)
{
	return ((struct fake_cq *)(void *)ibcq)->current.qp_num;
}

static unsigned int fake_read_wc_flags(struct ibv_cq_ex *ibcq)
{
	(void)ibcq;
	return 0;
}

static uint32_t fake_read_vendor_err(struct ibv_cq_ex *ibcq)
{
	(void)ibcq;
	return 0;
}

static struct fake_cq *create_cq(struct ibv_context *context, int cqe, void *cq_context,
				 struct ibv_comp_channel *channel, uint64_t wc_flags)
{
	const uint64_t known =
		IBV_WC_EX_WITH_BYTE_LEN | IBV_WC_EX_WITH_FLOW_TAG | IBV_WC_EX_WITH_QP_NUM;
	struct fake_cq *cq;
	int err = call(FAKE_CREATE_CQ);

	if (!err && fake.no_flow_tag && (wc_flags & IBV_WC_EX_WITH_FLOW_TAG))
		err = EOPNOTSUPP;
	if (err || cqe < 1 || cqe > 65536 || (wc_flags & ~known)) {
		errno = err ? err : EINVAL;
		return NULL;
	}
	cq = object(FAKE_CQ, sizeof(*cq) + (size_t)cqe * sizeof(struct fake_cqe));
	cq->cq.context = context;
	cq->cq.channel = channel;
	cq->cq.cq_context = cq_context;
	cq->cq.cqe = cqe;
	cq->size = (uint32_t)cqe;
	cq->cqes = (struct fake_cqe *)(void *)(cq + 1);
	cq->cq.start_poll = fake_start_poll;
	cq->cq.next_poll = fake_next_poll;
	cq->cq.end_poll = fake_end_poll;
	cq->cq.read_opcode = fake_read_opcode;
	cq->cq.read_vendor_err = fake_read_vendor_err;
	cq->cq.read_wc_flags = fake_read_wc_flags;
	if (wc_flags & IBV_WC_EX_WITH_BYTE_LEN)
		cq->cq.read_byte_len = fake_read_byte_len;
	if (wc_flags & IBV_WC_EX_WITH_FLOW_TAG)
		cq->cq.read_flow_tag = fake_read_flow_tag;
	if (wc_flags & IBV_WC_EX_WITH_QP_NUM)
		cq->cq.read_qp_num = fake_read_qp_num;
	return cq;
}

static struct ibv_cq_ex *fake_create_cq_ex(struct ibv_context *context,
					   struct ibv_cq_init_attr_ex *init)
{
	struct fake_cq *cq;

	if (init->comp_mask) {
		errno = EINVAL;
		return NULL;
	}
	cq = LOCKED(create_cq(context, (int)init->cqe, init->cq_context, init->channel,
			      init->wc_flags));
	return cq ? &cq->cq : NULL;
}

static int fake_req_notify_cq(struct ibv_cq *ibcq, int solicited_only)
{
	struct fake_cq *cq = (struct fake_cq *)(void *)ibcq;

	(void)solicited_only;
	pthread_mutex_lock(&device_lock);
	cq->armed = true;
	pthread_mutex_unlock(&device_lock);
	return 0;
}

struct ibv_cq *__wrap_ibv_create_cq(struct ibv_context *context, int cqe, void *cq_context,
				    struct ibv_comp_channel *channel, int comp_vector)
{
	struct fake_cq *cq;

	(void)comp_vector;
	cq = LOCKED(create_cq(context, cqe, cq_context, channel, 0));
	return cq ? ibv_cq_ex_to_cq(&cq->cq) : NULL;
}

static int destroy_cq(struct fake_cq *cq)
{
	struct fake_channel *ch = (struct fake_channel *)(void *)cq->cq.channel;

	/* Events of a destroyed CQ are forgotten (the caller acked them). */
	for (unsigned i = 0; ch && i < ch->count; i++)
		if (ch->pending[(ch->head + i) % FAKE_PENDING_MAX] == cq)
			ch->pending[(ch->head + i) % FAKE_PENDING_MAX] = NULL;
	release(FAKE_CQ, cq);
	return 0;
}

int __wrap_ibv_destroy_cq(struct ibv_cq *cq)
{
	return LOCKED(destroy_cq((struct fake_cq *)(void *)cq));
}

struct ibv_comp_channel *__wrap_ibv_create_comp_channel(struct ibv_context *context)
{
	struct fake_channel *ch;
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) != 0)
		return NULL;
	ch = LOCKED(object(FAKE_CHANNEL, sizeof(*ch)));
	ch->channel.context = context;
	ch->channel.fd = fds[0];
	ch->write_fd = fds[1];
	return &ch->channel;
}

int __wrap_ibv_destroy_comp_channel(struct ibv_comp_channel *channel)
{
	struct fake_channel *ch = (struct fake_channel *)(void *)channel;

	close(ch->channel.fd);
	close(ch->write_fd);
	pthread_mutex_lock(&device_lock);
	release(FAKE_CHANNEL, ch);
	pthread_mutex_unlock(&device_lock);
	return 0;
}

int __wrap_ibv_get_cq_event(struct ibv_comp_channel *channel, struct ibv_cq **cq, void **cq_context)
{
	struct fake_channel *ch = (struct fake_channel *)(void *)channel;
	struct fake_cq *got = NULL;
	char byte;

	/* The caller's blocking mode applies: read before taking the lock. */
	while (got == NULL) {
		if (read(ch->channel.fd, &byte, 1) != 1)
			return -1;
		pthread_mutex_lock(&device_lock);
		if (ch->count) {
			got = ch->pending[ch->head];
			ch->head = (ch->head + 1) % FAKE_PENDING_MAX;
			ch->count--;
		}
		pthread_mutex_unlock(&device_lock);
	}
	*cq = ibv_cq_ex_to_cq(&got->cq);
	*cq_context = got->cq.cq_context;
	return 0;
}

void __wrap_ibv_ack_cq_events(struct ibv_cq *cq, unsigned int nevents)
{
	(void)cq, (void)nevents;
}

struct ibv_mr *__wrap_ibv_reg_mr(struct ibv_pd *pd, void *addr, size_t length, int access)
{
	struct fake_mr *m = NULL;
	unsigned slot;

	pthread_mutex_lock(&device_lock);
	for (slot = 0; slot < FAKE_MRS_MAX && fake.mrs[slot]; slot++)
		;
	if (slot == FAKE_MRS_MAX || addr == NULL || length == 0 ||
	    !(access & IBV_ACCESS_LOCAL_WRITE)) {
		errno = slot == FAKE_MRS_MAX ? ENOMEM : EINVAL;
	} else if ((m = make(FAKE_REG_MR, FAKE_MR, sizeof(*m))) != NULL) {
		m->mr.context = pd->context;
		m->mr.pd = pd;
		m->mr.addr = addr;
		m->mr.length = length;
		m->mr.lkey = m->mr.rkey = ++fake.next_key;
		fake.mrs[slot] = m;
	}
	pthread_mutex_unlock(&device_lock);
	return m ? &m->mr : NULL;
}

int __wrap_ibv_dereg_mr(struct ibv_mr *mr)
{
	struct fake_mr *m = (struct fake_mr *)(void *)mr;

	pthread_mutex_lock(&device_lock);
	for (unsigned slot = 0; slot < FAKE_MRS_MAX; slot++)
		if (fake.mrs[slot] == m)
			fake.mrs[slot] = NULL;
	/* A buffer still posted in a ready WQ would be written after this:
	 * a real NIC would fault, the model aborts. */
	for (unsigned w = 0; w < fake.n_wqs; w++) {
		struct fake_wq *wq = fake.wqs[w];

		for (uint32_t i = 0; wq && i < wq->count; i++) {
			const struct fake_recv *r = &wq->posted[(wq->head + i) % wq->max_wr];

			if (r->addr >= (uintptr_t)mr->addr &&
			    r->addr < (uintptr_t)mr->addr + mr->length) {
				fprintf(stderr, "fake_ibv: MR deregistered with buffers posted\n");
				abort();
			}
		}
	}
	release(FAKE_MR, m);
	pthread_mutex_unlock(&device_lock);
	return 0;
}

/* --- the NIC model: frames in, flows evaluated, buffers written --- */

/* Into one of the QP's WQs (by RSS), a posted buffer, a completion. */
static void deliver(struct fake_qp *qp, const struct nic_frame *f, const uint8_t *data,
		    uint32_t length, const struct nic_actions *a)
{
	struct fake_table *t = qp->table;
	struct fake_wq *wq;
	struct fake_recv *r;
	struct fake_cqe cqe = {.flow_tag = a->tagged ? a->tag : 0};
	uint32_t hash;

	if (t == NULL)
		return;
	wq = t->wqs[0];
	if (qp->hash_fields && nic_rss_hash(f, qp->hash_fields, qp->key, &hash))
		wq = t->wqs[hash & (t->size - 1)];
	if (wq->wq.state != IBV_WQS_RDY || wq->count == 0) {
		wq->dropped++; /* out of buffers: what mlx5 counts as rx_out_of_buffer */
		return;
	}
	r = &wq->posted[wq->head];
	wq->head = (wq->head + 1) % wq->max_wr;
	wq->count--;
	cqe.wr_id = r->wr_id;
	cqe.qp_num = wq->wq.wq_num;
	if (length > r->length) {
		/* As mlx5: an error completion, and the WQ in ERR until the
		 * driver resets it. */
		cqe.status = IBV_WC_LOC_LEN_ERR;
		wq->dropped++;
		wq->wq.state = IBV_WQS_ERR;
	} else {
		memcpy((void *)(uintptr_t)r->addr, data, length);
		cqe.status = IBV_WC_SUCCESS;
		cqe.byte_len = length;
		wq->received++;
	}
	cq_push((struct fake_cq *)(void *)wq->wq.cq, &cqe);
}

static void count(const struct nic_actions *a, uint32_t wire_length)
{
	struct fake_counters *c = (struct fake_counters *)(void *)a->counters;

	if (c) {
		c->packets++;
		c->bytes += wire_length;
	}
}

static void receive(const uint8_t *data, uint32_t length, uint32_t wire_length)
{
	struct nic_frame f;
	struct nic_actions a;
	bool trapped = false;

	nic_parse(data, length, &f);
	/* Normal flows by priority, at each the DONT_TRAP ones first (mlx5
	 * gives them the higher half of the level): a match delivers (or
	 * drops) and ends the walk unless the flow lets the packet go on. */
	for (unsigned p = 0; p < fake.levels && !trapped; p++)
		for (int pass = 0; pass < 2 && !trapped; pass++)
			for (struct fake_flow *fl = fake.steering[p]; fl && !trapped;
			     fl = fl->next) {
				bool dont_trap = fl->attr->flags & IBV_FLOW_ATTR_FLAGS_DONT_TRAP;

				if (dont_trap != (pass == 0) ||
				    fl->attr->type != IBV_FLOW_ATTR_NORMAL ||
				    (fl->attr->flags & IBV_FLOW_ATTR_FLAGS_EGRESS) ||
				    !nic_flow_matches(fl->attr, &f, &a))
					continue;
				count(&a, wire_length);
				if (!a.drop)
					deliver(fl->qp, &f, data, length, &a);
				trapped = !dont_trap;
			}
	if (trapped)
		return;
	/* What no flow trapped goes to the default flows (multicast to
	 * MC_DEFAULT, if there is one). */
	for (int pass = 0; pass < 2 && !trapped; pass++)
		for (unsigned p = 0; p < fake.levels && !trapped; p++)
			for (struct fake_flow *fl = fake.steering[p]; fl && !trapped;
			     fl = fl->next) {
				if (fl->attr->type != (pass == 0 && f.multicast
							       ? IBV_FLOW_ATTR_MC_DEFAULT
							       : IBV_FLOW_ATTR_ALL_DEFAULT))
					continue;
				nic_flow_matches(fl->attr, &f, &a);
				count(&a, wire_length);
				deliver(fl->qp, &f, data, length, &a);
				trapped = true;
			}
	if (!trapped)
		fake.unsteered++;
}

void fake_ibv_receive(const uint8_t *frame, uint32_t length, uint32_t wire_length)
{
	pthread_mutex_lock(&device_lock);
	receive(frame, length, wire_length);
	pthread_mutex_unlock(&device_lock);
}

int fake_ibv_wq_stats(unsigned index, uint64_t *received, uint64_t *dropped)
{
	int err = -ENOENT;

	pthread_mutex_lock(&device_lock);
	if (index < fake.n_wqs && fake.wqs[index]) {
		*received = fake.wqs[index]->received;
		*dropped = fake.wqs[index]->dropped;
		err = 0;
	}
	pthread_mutex_unlock(&device_lock);
	return err;
}

/* The wire: a soft packet source replayed into the model by a thread. */
static struct {
	bool running;
	bool stop;
	pthread_t thread;
	struct soft_source source;
} wire;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *wire_run(void *arg)
{
	struct packet pkts[32];

	(void)arg;
	while (!__atomic_load_n(&wire.stop, __ATOMIC_ACQUIRE)) {
		uint64_t now = now_ns();
		unsigned n = soft_source_burst(&wire.source, pkts, 32, now);

		pthread_mutex_lock(&device_lock);
		for (unsigned i = 0; i < n; i++)
			receive(pkts[i].data, pkts[i].length, pkts[i].wire_length);
		pthread_mutex_unlock(&device_lock);
		soft_source_release(&wire.source);
		if (n == 0) {
			uint64_t due = soft_source_due(&wire.source, now);
			struct timespec ts = {.tv_nsec = due < 1000000 ? (long)due : 1000000};

			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

static void wire_stop(void)
{
	if (!wire.running)
		return;
	__atomic_store_n(&wire.stop, true, __ATOMIC_RELEASE);
	pthread_join(wire.thread, NULL);
	soft_source_close(&wire.source);
	wire.running = false;
}

int verbs_model_source(struct ibv_context *context, const char *spec, struct mpf_flow_error *error)
{
	uint16_t fanout = 0;
	int err;

	(void)context;
	if (wire.running)
		return flow_error_set(error, EBUSY, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the model has one wire");
	err = soft_source_open(&wire.source, spec, 0, 1, &fanout, error);
	if (err)
		return err;
	wire.stop = false;
	err = pthread_create(&wire.thread, NULL, wire_run, NULL);
	if (err) {
		soft_source_close(&wire.source);
		return flow_error_set(error, err, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the model's wire thread: %s", strerror(err));
	}
	wire.running = true;
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
	v->create_cq_ex = fake_create_cq_ex;
	v->context.ops.req_notify_cq = fake_req_notify_cq;
	return &v->context;
}

int __wrap_ibv_close_device(struct ibv_context *context)
{
	wire_stop();
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
	attr->max_qp_wr = 32768;
	attr->max_cqe = 65536;
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

int __wrap_ibv_destroy_qp(struct ibv_qp *qp)
{
	release(FAKE_QP, (struct fake_qp *)(void *)qp);
	return 0;
}
