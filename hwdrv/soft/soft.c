/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The soft backend: the default, needing no hardware. A software datapath:
 * packet sources per port, a parser, an rte_flow classifier, the actions,
 * RX queues that secondaries attach to, meters and counters (soft.h lists
 * the files). This file is the hwdrv ops: the primary's thread calls them;
 * they change what the datapath worker sees only through RCU publication.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "hwdrv/soft/soft.h"

static int port_error(const struct soft *soft, uint16_t port, struct mpf_flow_error *error)
{
	return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			      "port %u does not exist (the soft device has %u)", port,
			      soft->n_ports);
}

/* A rule's compiled pattern, from the pool: lookups that confirm the rule
 * through it read it (cls_rule.reads_match); the others never do, and it
 * goes back as soon as the rule is in (it serves the next one). */
static void pattern_free(struct soft *soft, struct soft_rule *r)
{
	if (r->cls.match) {
		match_free(r->cls.match, &soft->pool);
		pool_free(&soft->pool, r->cls.match, sizeof(*r->cls.match));
		r->cls.match = NULL;
	}
}

static void rule_free(struct soft *soft, struct soft_rule *r)
{
	pattern_free(soft, r);
	free(r->rss);
	pool_free(&soft->pool, r, sizeof(*r));
}

static void soft_close(struct hwdrv *dev)
{
	struct soft *soft = dev->priv;

	if (soft == NULL)
		return;
	soft_datapath_stop(soft);
	/* Rules the primary left (it destroys them first; tests may not). */
	while (soft->rules) {
		struct soft_rule *r = soft->rules;

		soft->rules = r->next;
		rule_free(soft, r);
	}
	soft_queues_close(soft);
	for (unsigned p = 0; soft->ports && p < soft->n_ports; p++) {
		struct soft_port *port = &soft->ports[p];

		for (unsigned i = 0; i < port->n_sources; i++)
			soft_source_close(&port->sources[i]);
		free(port->sources);
		for (unsigned w = 0; port->inbox && w < soft->n_workers; w++) {
			if (port->inbox[w])
				free(port->inbox[w]->bytes);
			free(port->inbox[w]);
		}
		free(port->inbox);
	}
	for (unsigned w = 0; soft->workers && w < soft->n_workers; w++) {
		struct soft_worker *worker = &soft->workers[w];

		free(worker->tx_buf);
		free(worker->poll_fds);
		if (worker->wake >= 0)
			close(worker->wake);
	}
	free(soft->workers);
	pthread_mutex_destroy(&soft->dump_lock);
	cls_fini(&soft->cls);
	pool_fini(&soft->pool);
	for (unsigned i = 0; i < soft->n_meters; i++) {
		pthread_spin_destroy(&soft->meters[i]->lock);
		free(soft->meters[i]);
	}
	free(soft->meters);
	free(soft->ports);
	free(soft);
	dev->priv = NULL;
}

static int no_memory(struct mpf_flow_error *error)
{
	return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
			      "soft backend: out of memory");
}

/* Each worker's own: a buffer for a burst off a TX queue, its poll set
 * (its sockets, its TX queues' bells, its wake fd) and that eventfd. */
static int workers_open(struct soft *soft, struct mpf_flow_error *error)
{
	soft->workers = calloc(soft->n_workers, sizeof(*soft->workers));
	if (soft->workers == NULL)
		return no_memory(error);
	for (unsigned w = 0; w < soft->n_workers; w++)
		soft->workers[w].wake = -1;
	for (unsigned w = 0; w < soft->n_workers; w++) {
		struct soft_worker *worker = &soft->workers[w];

		worker->soft = soft;
		worker->id = w;
		/* Rows 0 .. workers - 1; the primary's is the last. */
		worker->activity = soft->activity.base && w + 1 < soft->activity.writers
					   ? region_activity_row(&soft->activity, w)
					   : NULL;
		worker->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (worker->wake < 0)
			return flow_error_set(error, errno, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "soft backend: eventfd: %s", strerror(errno));
		worker->tx_buf = malloc(SOFT_TX_BUF);
		worker->poll_fds =
			calloc(1u + soft->n_ports * (1u + soft->queues), sizeof(*worker->poll_fds));
		if (worker->tx_buf == NULL || worker->poll_fds == NULL)
			return no_memory(error);
	}
	return 0;
}

/* Each port's source, an instance per worker where the kind has them. */
static int sources_open(struct soft *soft, const struct hwdrv_config *config, bool *any,
			struct mpf_flow_error *error)
{
	for (unsigned p = 0; p < soft->n_ports; p++) {
		struct soft_port *port = &soft->ports[p];
		unsigned n = config->sources[p]
				     ? soft_source_instances(config->sources[p], soft->n_workers)
				     : 1;
		uint16_t fanout = 0;

		port->sources = calloc(n, sizeof(*port->sources));
		if (port->sources == NULL)
			return no_memory(error);
		port->n_sources = n;
		for (unsigned i = 0; i < n; i++)
			port->sources[i].fd = -1;
		if (config->sources[p] == NULL)
			continue;
		*any = true;
		for (unsigned i = 0; i < n; i++) {
			int err = soft_source_open(&port->sources[i], config->sources[p], i, n,
						   &fanout, error);

			if (err) {
				soft_source_named(error, config->source_from[p]);
				return err;
			}
		}
	}
	return 0;
}

/* An inbox per worker on each port a loop: port sends to. */
static int inboxes_open(struct soft *soft, const struct hwdrv_config *config,
			struct mpf_flow_error *error)
{
	for (unsigned p = 0; p < soft->n_ports; p++) {
		struct soft_source *s = &soft->ports[p].sources[0];
		struct soft_port *to;

		if (s->kind != SOURCE_LOOP)
			continue;
		if (s->loop_port < 0)
			s->loop_port = (int)p;
		if (s->loop_port >= soft->n_ports) {
			flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				       "--source %u=%s: port %d does not exist (the device has %u)",
				       p, s->spec, s->loop_port, soft->n_ports);
			soft_source_named(error, config->source_from[p]);
			return -EINVAL;
		}
		to = &soft->ports[s->loop_port];
		if (to->inbox)
			continue;
		to->inbox = calloc(soft->n_workers, sizeof(*to->inbox));
		if (to->inbox == NULL)
			return no_memory(error);
		for (unsigned w = 0; w < soft->n_workers; w++) {
			to->inbox[w] = calloc(1, sizeof(*to->inbox[w]));
			if (to->inbox[w] == NULL)
				return no_memory(error);
			to->inbox[w]->bytes = malloc((size_t)SOFT_INBOX_FRAMES * RXQ_FRAME_MAX);
			if (to->inbox[w]->bytes == NULL)
				return no_memory(error);
		}
	}
	return 0;
}

static int soft_open(struct hwdrv *dev, const struct hwdrv_config *config,
		     struct mpf_flow_error *error)
{
	struct soft *soft = calloc(1, sizeof(*soft));
	bool any_source = false;
	int err;

	if (soft == NULL)
		return no_memory(error);
	dev->priv = soft;
	soft->dev = dev;
	soft->n_ports = config->ports;
	soft->queues = config->queues;
	soft->vfs = config->vfs;
	soft->n_workers = config->workers ? config->workers : 1;
	soft->counters = config->counters;
	soft->shares = config->shares;
	soft->activity = config->activity;
	soft->rxq_bytes = config->rxq_bytes ? config->rxq_bytes : 1u << 21;
	if (config->dump_dir) {
		snprintf(soft->dump_dir, sizeof(soft->dump_dir), "%s", config->dump_dir);
		soft->dump_dirfd = config->dump_dirfd;
	}
	pthread_mutex_init(&soft->dump_lock, NULL);
	rcu_init(&soft->rcu, soft->n_workers);
	cls_init(&soft->cls, &soft->rcu);
	if (soft->n_ports == 0 || soft->n_ports > SOFT_PORTS_MAX ||
	    soft->n_workers > SOFT_WORKERS_MAX) {
		soft_close(dev);
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "the soft backend has 1 to %d ports and 1 to %d workers",
				      SOFT_PORTS_MAX, SOFT_WORKERS_MAX);
	}
	soft->ports = calloc(soft->n_ports, sizeof(*soft->ports));
	if (soft->ports == NULL) {
		soft_close(dev);
		return no_memory(error);
	}
	err = workers_open(soft, error);
	if (!err)
		err = soft_queues_open(soft, config, error);
	if (!err)
		err = sources_open(soft, config, &any_source, error);
	if (!err)
		err = inboxes_open(soft, config, error);
	if (!err && any_source)
		err = soft_datapath_start(soft, error);
	if (err)
		soft_close(dev);
	return err;
}

static struct soft_meter *meter_find(const struct soft *soft, uint16_t port, uint32_t id)
{
	for (unsigned i = 0; i < soft->n_meters; i++)
		if (soft->meters[i]->port == port && soft->meters[i]->id == id)
			return soft->meters[i];
	return NULL;
}

static int check_action(const struct soft *soft, const struct hwdrv_rule *rule, int i,
			struct mpf_flow_error *error)
{
	const struct mpf_flow_action *a = &rule->actions[i];
	const char *name = mpf_flow_action_name(a->type);

	switch (a->type) {
	case MPF_FLOW_ACTION_TYPE_QUEUE:
		return hwdrv_check_queue(((const struct mpf_flow_action_queue *)a->conf)->index,
					 soft->queues, i, name, error);
	case MPF_FLOW_ACTION_TYPE_DUP:
		return hwdrv_check_queue(((const struct mpf_flow_action_dup *)a->conf)->index,
					 soft->queues, i, name, error);
	case MPF_FLOW_ACTION_TYPE_RSS: {
		const struct mpf_flow_action_rss *rss = a->conf;
		int err = 0;

		for (uint32_t q = 0; q < rss->queue_num && !err; q++)
			err = hwdrv_check_queue(rss->queue[q], soft->queues, i, name, error);
		return err;
	}
	case MPF_FLOW_ACTION_TYPE_VF: {
		const struct mpf_flow_action_vf *vf = a->conf;

		if (!vf->original && vf->id >= soft->vfs)
			return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, i,
					      "action %d (vf): VF %u does not exist (the port has "
					      "%u)",
					      i, vf->id, soft->vfs);
		if (vf->original && soft->vfs == 0)
			return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, i,
					      "action %d (vf): the port has no VFs", i);
		return 0;
	}
	case MPF_FLOW_ACTION_TYPE_METER: {
		const struct mpf_flow_action_meter *m = a->conf;

		if (meter_find(soft, rule->port, m->mtr_id) == NULL)
			return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_ACTION, i,
					      "action %d (meter): no meter %u on port %u", i,
					      m->mtr_id, rule->port);
		return 0;
	}
	case MPF_FLOW_ACTION_TYPE_SECURITY:
		return flow_error_set(error, ENOTSUP, MPF_FLOW_ERROR_TYPE_ACTION, i,
				      "action %d (security): not supported by the soft backend", i);
	default:
		return 0;
	}
}

static int soft_validate(struct hwdrv *dev, const struct hwdrv_rule *rule,
			 struct mpf_flow_error *error)
{
	struct soft *soft = dev->priv;

	if (rule->port >= soft->n_ports)
		return port_error(soft, rule->port, error);
	for (unsigned index = 0; index < rule->shape->items; index++) {
		const struct mpf_flow_item *item = &rule->pattern[index];
		const struct mpf_flow_item_vf *vf = item->spec;
		const void *mask = rule->shape->item[index].mask;

		if (item->type == MPF_FLOW_ITEM_TYPE_VF && mask &&
		    ((const struct mpf_flow_item_vf *)mask)->id != 0 && vf->id >= soft->vfs)
			return flow_error_set(
				error, EINVAL, MPF_FLOW_ERROR_TYPE_ITEM, (int)index,
				"item %u (vf): VF %u does not exist (the port has %u)", index,
				vf->id, soft->vfs);
	}
	/* Every action is checked, though only the last of a type counts. */
	for (int i = 0; rule->actions[i].type != MPF_FLOW_ACTION_TYPE_END; i++) {
		int err = check_action(soft, rule, i, error);

		if (err)
			return err;
	}
	return 0;
}

static const void *last_conf(const struct hwdrv_rule *rule, enum mpf_flow_action_type type)
{
	int16_t i = rule->shape->actions.last[type];

	return i < 0 ? NULL : rule->actions[i].conf;
}

/* The actions of a rule in the form the datapath runs. */
static int compile_actions(struct soft *soft, const struct hwdrv_rule *rule, struct soft_rule *r)
{
	const struct rule_actions *ra = &rule->shape->actions;
	const struct mpf_flow_action_rss *rss = last_conf(rule, MPF_FLOW_ACTION_TYPE_RSS);
	const struct mpf_flow_action_meter *meter = last_conf(rule, MPF_FLOW_ACTION_TYPE_METER);
	const struct mpf_flow_action_mark *mark = last_conf(rule, MPF_FLOW_ACTION_TYPE_MARK);
	const struct mpf_flow_action_dup *dup = last_conf(rule, MPF_FLOW_ACTION_TYPE_DUP);

	r->fate = ra->fate;
	r->cls.terminating = ra->terminating;
	r->flag = ra->last[MPF_FLOW_ACTION_TYPE_FLAG] >= 0;
	if (mark) {
		r->mark = true;
		r->mark_id = mark->id;
	}
	if (dup) {
		r->dup = true;
		r->dup_queue = dup->index;
	}
	if (ra->fate == MPF_FLOW_ACTION_TYPE_QUEUE)
		r->queue = ((const struct mpf_flow_action_queue *)last_conf(
				    rule, MPF_FLOW_ACTION_TYPE_QUEUE))
				   ->index;
	if (ra->fate == MPF_FLOW_ACTION_TYPE_VF) {
		const struct mpf_flow_action_vf *vf = last_conf(rule, MPF_FLOW_ACTION_TYPE_VF);

		r->vf = vf->id;
		r->vf_original = vf->original;
	}
	if (rss && ra->fate == MPF_FLOW_ACTION_TYPE_RSS) {
		r->rss = calloc(1, sizeof(*r->rss) + rss->queue_num * sizeof(uint16_t));
		if (r->rss == NULL)
			return -ENOMEM;
		r->rss->types = rss->types;
		r->rss->key_len = rss->key_len;
		if (rss->key_len)
			memcpy(r->rss->key, rss->key, rss->key_len);
		r->rss->queue_num = rss->queue_num;
		memcpy(r->rss->queue, rss->queue, rss->queue_num * sizeof(uint16_t));
	}
	if (meter)
		r->meter = meter_find(soft, rule->port, meter->mtr_id);
	if (ra->last[MPF_FLOW_ACTION_TYPE_COUNT] >= 0) {
		r->counter = rule->counter;
		/* Workers after the first count in the slot's shares. */
		r->slot = soft->counters && rule->counter
				  ? (uint32_t)(rule->counter - soft->counters)
				  : 0;
	}
	return 0;
}

static int soft_create(struct hwdrv *dev, const struct hwdrv_rule *rule, void **handle,
		       struct mpf_flow_error *error)
{
	struct soft *soft = dev->priv;
	struct soft_rule *r;
	int err = soft_validate(dev, rule, error);

	if (err)
		return err;
	r = pool_zalloc(&soft->pool, sizeof(*r));
	if (r == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
				      "soft backend: out of memory");
	r->port = rule->port;
	r->cls.rank = (uint64_t)rule->attr->group << 32 | rule->attr->priority;
	r->cls.seq = ++soft->seq;
	r->cls.match = pool_alloc(&soft->pool, sizeof(*r->cls.match));
	err = r->cls.match ? match_compile(r->cls.match, rule, &soft->pool, error)
			   : flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE, -1,
					    "soft backend: out of memory");
	if (!err && rule->slow && (*rule->slow = cls_would_be_general(&soft->cls, r->cls.match)) &&
	    rule->slow_refused) {
		match_free(r->cls.match, &soft->pool);
		err = -EDQUOT;
	}
	if (err) {
		pool_free(&soft->pool, r->cls.match, sizeof(*r->cls.match));
		pool_free(&soft->pool, r, sizeof(*r));
		return err;
	}
	r->cls.no_new_tuple = rule->mask && rule->new_mask_refused;
	err = compile_actions(soft, rule, r) != 0
		      ? -ENOMEM
		      : (rule->deferred ? cls_prepare : cls_insert)(&soft->cls, &r->cls);
	if (err) {
		rule_free(soft, r);
		return err == -EDQUOT ? err
				      : flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_HANDLE,
						       -1, "soft backend: out of memory");
	}
	if (rule->mask)
		*rule->mask = r->cls.tuple;
	/* What lookups never read again goes back to the pool now: most of
	 * a rule's private memory at ten million rules. */
	if (!r->cls.reads_match)
		pattern_free(soft, r);
	if (r->meter)
		r->meter->users++;
	r->next = soft->rules;
	if (r->next)
		r->next->prev = r;
	soft->rules = r;
	*handle = r;
	return 0;
}

static void soft_activate(struct hwdrv *dev)
{
	struct soft *soft = dev->priv;

	cls_link_pending(&soft->cls);
}

static int soft_destroy_burst(struct hwdrv *dev, void *const *handles, unsigned n, int *errs)
{
	struct soft *soft = dev->priv;
	struct cls_rule *rules[CLS_REMOVE_BURST];

	for (unsigned done = 0, k; done < n; done += k) {
		k = n - done < CLS_REMOVE_BURST ? n - done : CLS_REMOVE_BURST;
		for (unsigned i = 0; i < k; i++)
			__builtin_prefetch(handles[done + i]);
		for (unsigned i = 0; i < k; i++)
			rules[i] = &((struct soft_rule *)handles[done + i])->cls;
		/* It waits for the datapath to drop every reference: once it
		 * returns, nothing counts into these rules' counters any more. */
		cls_remove_burst(&soft->cls, rules, k);
		for (unsigned i = 0; i < k; i++) {
			struct soft_rule *r = handles[done + i];

			if (r->meter)
				r->meter->users--;
			if (r->prev)
				r->prev->next = r->next;
			else
				soft->rules = r->next;
			if (r->next)
				r->next->prev = r->prev;
			rule_free(soft, r);
			errs[done + i] = 0;
		}
	}
	return 0;
}

static const void *soft_mask_of(struct hwdrv *dev, const void *handle)
{
	(void)dev;
	return ((const struct soft_rule *)handle)->cls.tuple;
}

static int soft_destroy(struct hwdrv *dev, void *handle, struct mpf_flow_error *error)
{
	int err;

	(void)error;
	soft_destroy_burst(dev, &handle, 1, &err);
	return err;
}

static int soft_isolate(struct hwdrv *dev, uint16_t port, bool enable, struct mpf_flow_error *error)
{
	struct soft *soft = dev->priv;

	if (port >= soft->n_ports)
		return port_error(soft, port, error);
	shm_store_relaxed32(&soft->ports[port].isolated, enable);
	return 0;
}

static int soft_queue_attach_op(struct hwdrv *dev, uint16_t port, uint16_t queue, bool tx,
				uint32_t owner, int fds[HWDRV_QUEUE_FDS],
				struct mpf_flow_error *error)
{
	struct soft *soft = dev->priv;
	int err = soft_queue_attach(soft, port, queue, tx, owner, fds, error);

	/* A port with no source still sends what a secondary queues: the
	 * datapath runs from the first TX queue on; a sleeping one is woken
	 * to poll the new queue's bell. */
	if (!err && tx && !soft->running && (err = soft_datapath_start(soft, error)) != 0)
		soft_queue_detach(soft, port, queue, tx, owner, NULL);
	else if (!err && tx)
		soft_worker_wake(&soft->workers[queue % soft->n_workers]);
	return err;
}

static int soft_queue_detach_op(struct hwdrv *dev, uint16_t port, uint16_t queue, bool tx,
				uint32_t owner, struct mpf_flow_error *error)
{
	return soft_queue_detach(dev->priv, port, queue, tx, owner, error);
}

static int soft_port_stats_reset_op(struct hwdrv *dev, uint16_t port, uint32_t *ticket,
				    struct mpf_flow_error *error)
{
	struct soft *soft = dev->priv;

	if (port >= soft->n_ports)
		return port_error(soft, port, error);
	return soft_port_stats_reset(soft, port, ticket);
}

static int soft_port_stats_reset_done_op(struct hwdrv *dev, uint16_t port, uint32_t ticket,
					 struct mpf_flow_error *error)
{
	struct soft *soft = dev->priv;

	if (port >= soft->n_ports)
		return port_error(soft, port, error);
	return soft_port_stats_reset_done(soft, port, ticket, error);
}

static void soft_release(struct hwdrv *dev, uint32_t owner)
{
	soft_queues_release(dev->priv, owner);
}

static int soft_meter_create(struct hwdrv *dev, uint16_t port, uint32_t id,
			     const struct hwdrv_meter *params, struct mpf_flow_error *error)
{
	struct soft *soft = dev->priv;
	struct soft_meter *m;

	if (port >= soft->n_ports)
		return port_error(soft, port, error);
	if (meter_find(soft, port, id))
		return flow_error_set(error, EEXIST, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "meter %u exists on port %u", id, port);
	if (params->cir > params->pir || params->cbs == 0 || params->pbs == 0 ||
	    params->drop &
		    ~(HWDRV_METER_DROP_GREEN | HWDRV_METER_DROP_YELLOW | HWDRV_METER_DROP_RED))
		return flow_error_set(error, EINVAL, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "meter %u: needs cir <= pir, cbs > 0, pbs > 0 (RFC 2698)",
				      id);
	if (soft->n_meters == SOFT_METERS_MAX)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "meter %u: the instance holds %u meters, its most", id,
				      SOFT_METERS_MAX);
	if (soft->n_meters == soft->cap_meters) {
		unsigned cap = soft->cap_meters ? soft->cap_meters * 2 : 16;
		struct soft_meter **grown = realloc(soft->meters, cap * sizeof(*grown));

		if (grown == NULL)
			return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
					      "out of memory");
		soft->meters = grown;
		soft->cap_meters = cap;
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return flow_error_set(error, ENOMEM, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "out of memory");
	pthread_spin_init(&m->lock, PTHREAD_PROCESS_PRIVATE);
	m->id = id;
	m->port = port;
	m->params = *params;
	m->committed_tokens = params->cbs;
	m->peak_tokens = params->pbs;
	soft->meters[soft->n_meters++] = m;
	return 0;
}

static int meter_lookup(struct soft *soft, uint16_t port, uint32_t id, struct soft_meter **out,
			struct mpf_flow_error *error)
{
	if (port >= soft->n_ports)
		return port_error(soft, port, error);
	*out = meter_find(soft, port, id);
	if (*out == NULL)
		return flow_error_set(error, ENOENT, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "no meter %u on port %u", id, port);
	return 0;
}

static int soft_meter_destroy(struct hwdrv *dev, uint16_t port, uint32_t id,
			      struct mpf_flow_error *error)
{
	struct soft *soft = dev->priv;
	struct soft_meter *m;
	int err = meter_lookup(soft, port, id, &m, error);

	if (err)
		return err;
	if (m->users)
		return flow_error_set(error, EBUSY, MPF_FLOW_ERROR_TYPE_UNSPECIFIED, -1,
				      "meter %u on port %u is used by %u rule(s)", id, port,
				      m->users);
	for (unsigned i = 0; i < soft->n_meters; i++)
		if (soft->meters[i] == m)
			soft->meters[i] = soft->meters[--soft->n_meters];
	/* No rule points at it: the datapath cannot reach it. */
	pthread_spin_destroy(&m->lock);
	free(m);
	return 0;
}

static int soft_meter_query(struct hwdrv *dev, uint16_t port, uint32_t id, bool clear,
			    struct hwdrv_meter_stats *stats, struct mpf_flow_error *error)
{
	struct soft *soft = dev->priv;
	struct soft_meter *m;
	int err = meter_lookup(soft, port, id, &m, error);

	if (err)
		return err;
	for (int c = 0; c < SOFT_COLORS; c++) {
		uint64_t packets = shm_load_relaxed64(&m->packets[c]);
		uint64_t bytes = shm_load_relaxed64(&m->bytes[c]);

		stats->packets[c] = packets - shm_load_relaxed64(&m->packets_base[c]);
		stats->bytes[c] = bytes - shm_load_relaxed64(&m->bytes_base[c]);
		if (clear) {
			shm_store_relaxed64(&m->packets_base[c], packets);
			shm_store_relaxed64(&m->bytes_base[c], bytes);
		}
	}
	return 0;
}

const struct hwdrv_ops hwdrv_soft_ops = {
	.name = "soft",
	.counts_ports = true,
	.open = soft_open,
	.close = soft_close,
	.validate = soft_validate,
	.create = soft_create,
	.activate = soft_activate,
	.mask_of = soft_mask_of,
	.destroy = soft_destroy,
	.destroy_burst = soft_destroy_burst,
	.isolate = soft_isolate,
	.port_stats_reset = soft_port_stats_reset_op,
	.port_stats_reset_done = soft_port_stats_reset_done_op,
	.queue_attach = soft_queue_attach_op,
	.queue_detach = soft_queue_detach_op,
	.release = soft_release,
	.meter_create = soft_meter_create,
	.meter_destroy = soft_meter_destroy,
	.meter_query = soft_meter_query,
};
