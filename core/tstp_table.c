// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The socket table and the event entry points: look the socket up in its
 * bucket (its own lock, IRQs off), apply a rule, and emit or count what
 * ended after the lock is dropped.
 *
 * Bounded everywhere: a bucket has TSTP_WAYS slots and a full one evicts its
 * least recently active socket (the exchange in progress is reported,
 * flagged EVICTED, and counted); endpoint lookup probes at most
 * TSTP_MAX_ENDPOINTS slots; nothing loops on input.
 */
#include "tstp_core.h"

#define NS_PER_SEC	1000000000ull

/* Up to two exchanges end in one event: an evicted neighbour, then the socket's own. */
struct ended {
	struct tstp_finished fin[2];
	uint32_t srtt_us[2];
	int n;
};

static uint64_t hash64(uint64_t v)
{
	return v * 0x9E3779B97F4A7C15ull;
}

uint32_t tstp_core_nbuckets(uint32_t max_sockets)
{
	uint32_t slots = TSTP_WAYS;

	if (max_sockets > TSTP_SOCKETS_CAP)
		max_sockets = TSTP_SOCKETS_CAP;
	while (slots < max_sockets)
		slots <<= 1;
	return slots / TSTP_WAYS;
}

void tstp_config_add_port(struct tstp_config *cfg, uint16_t port)
{
	cfg->port_map[port >> 3] |= (uint8_t)(1u << (port & 7));
	cfg->have_ports = 1;
}

int tstp_core_init(struct tstp_core *c, const struct tstp_config *cfg,
		   struct tstp_bucket *buckets, uint32_t nbuckets,
		   tstp_emit_fn emit, void *emit_ctx, uint64_t now)
{
	uint32_t i, w;

	if (!buckets || !emit || nbuckets == 0 || (nbuckets & (nbuckets - 1)))
		return -1;
	memset(c, 0, sizeof(*c));
	c->cfg = *cfg;
	if (c->cfg.sample < 1)
		c->cfg.sample = 1;
	c->buckets = buckets;
	c->nbuckets = nbuckets;
	for (i = 0; i < nbuckets; i++) {
		for (w = 0; w < TSTP_WAYS; w++)
			buckets[i].key[w] = 0;
		tstp_lock_init(&buckets[i].lock);
	}
	for (i = 0; i < TSTP_MAX_ENDPOINTS; i++)
		tstp_atomic64_set(&c->ep[i].min_us, TSTP_U64_MAX);
	tstp_atomic64_set(&c->ep[0].state, 2);	/* endpoint 0: all that did not fit */
	c->emit = emit;
	c->emit_ctx = emit_ctx;
	c->armed = 1;
	c->hist_last_ns = now;
	return 0;
}

int tstp_sampled_in(const struct tstp_core *c, uint64_t key)
{
	return c->cfg.sample <= 1 || ((key >> 8) % c->cfg.sample) == 0;
}

static int addr6_is(const uint32_t a[4], uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3)
{
	return a[0] == w0 && a[1] == w1 && a[2] == w2 && a[3] == w3;
}

/*
 * Address filter by 32-bit words. An IPv4 filter also matches the
 * IPv4-mapped addresses (::ffff:a.b.c.d) of dual-stack sockets.
 */
int tstp_addr_match(const struct tstp_core *c, const struct tstp_ident *id)
{
	const struct tstp_config *f = &c->cfg;
	uint32_t mapped = 0;

	if (!f->addr4 && !f->addr6_set)
		return 1;
	if (id->family == 2)
		return f->addr4 && (id->laddr[0] == f->addr4 || id->raddr[0] == f->addr4);
	if (f->addr6_set)
		return addr6_is(id->laddr, f->addr6[0], f->addr6[1], f->addr6[2], f->addr6[3]) ||
		       addr6_is(id->raddr, f->addr6[0], f->addr6[1], f->addr6[2], f->addr6[3]);
	/* ::ffff:0:0 as in memory on a little-endian host */
	mapped = 0xffff0000u;
	return addr6_is(id->laddr, 0, 0, mapped, f->addr4) ||
	       addr6_is(id->raddr, 0, 0, mapped, f->addr4);
}

/* ------------------------------------------------------------ endpoints */

static int ep_matches(const struct tstp_endpoint *e, uint8_t role, const struct tstp_ident *id,
		      uint16_t port, const uint32_t addr[4])
{
	return e->role == role && e->family == id->family && e->port == port &&
	       addr6_is(e->addr, addr[0], addr[1], addr[2], addr[3]);
}

/*
 * The endpoint id of (role, service address, service port), claimed
 * lock-free on first sight. 0 when the table is full (they share a
 * histogram) or when a claimant on another CPU is too slow to finish.
 */
static uint16_t endpoint_of(struct tstp_core *c, uint8_t role, const struct tstp_ident *id)
{
	const uint32_t *addr = role == TSTP_ROLE_SERVER ? id->laddr : id->raddr;
	uint16_t port = role == TSTP_ROLE_SERVER ? id->lport : id->rport;
	uint64_t h = hash64(((uint64_t)port << 16 | role << 8 | id->family) ^ addr[0] ^
			    ((uint64_t)addr[3] << 32)) >> 40;
	unsigned probe, spin;

	for (probe = 0; probe < TSTP_MAX_ENDPOINTS - 1; probe++) {
		unsigned i = 1 + (unsigned)((h + probe) % (TSTP_MAX_ENDPOINTS - 1));
		struct tstp_endpoint *e = &c->ep[i];
		uint64_t st = tstp_atomic64_read(&e->state);

		if (st == 0 && tstp_atomic64_cmpxchg(&e->state, 0, 1) == 0) {
			e->role = role;
			e->family = id->family;
			e->port = port;
			memcpy(e->addr, addr, sizeof(e->addr));
			tstp_smp_wmb();
			tstp_atomic64_set(&e->state, 2);
			return (uint16_t)i;
		}
		for (spin = 0; spin < 1000 && tstp_atomic64_read(&e->state) == 1; spin++)
			tstp_cpu_relax();
		if (tstp_atomic64_read(&e->state) != 2)
			return 0;
		tstp_smp_rmb();
		if (ep_matches(e, role, id, port, addr))
			return (uint16_t)i;
	}
	return 0;
}

/* One atomic add per exchange: count in the low bits, sum of us above. */
static void hist_add(struct tstp_core *c, uint16_t ep, uint64_t us)
{
	struct tstp_endpoint *e = &c->ep[ep < TSTP_MAX_ENDPOINTS ? ep : 0];
	uint64_t word, cur, seen;

	if (us >= TSTP_HB_SUM_FLUSH)
		us = TSTP_HB_SUM_FLUSH - 1;
	word = tstp_atomic64_add_return(1 | us << TSTP_HB_COUNT_BITS,
					&e->word[tstp_log2_bucket(us)]);
	if ((word & TSTP_HB_COUNT_MASK) >= TSTP_HB_COUNT_FLUSH ||
	    (word >> TSTP_HB_COUNT_BITS) >= TSTP_HB_SUM_FLUSH / 2)
		tstp_atomic64_set(&e->flush, 1);
	/* min and max change rarely once an interval is under way: no atomic unless they do. */
	for (cur = tstp_atomic64_read(&e->max_us); us > cur; cur = seen) {
		seen = tstp_atomic64_cmpxchg(&e->max_us, cur, us);
		if (seen == cur)
			break;
	}
	for (cur = tstp_atomic64_read(&e->min_us); us < cur; cur = seen) {
		seen = tstp_atomic64_cmpxchg(&e->min_us, cur, us);
		if (seen == cur)
			break;
	}
}

/* ------------------------------------------------------------ records */

int tstp_emit_record(struct tstp_core *c, void *rec, uint8_t type, uint16_t len,
		     uint16_t cpu, uint64_t ts)
{
	struct tstp_hdr *h = rec;

	h->magic = TSTP_MAGIC;
	h->version = TSTP_VERSION;
	h->type = type;
	h->length = len;
	h->seq = (uint32_t)tstp_atomic64_add_return(1, &c->rec_seq);
	h->cpu = cpu;
	h->reserved = 0;
	h->ts_ns = ts;
	return c->emit(c->emit_ctx, rec, len);
}

/* May one more exchange record go out this second? (max_events) */
static int rate_ok(struct tstp_core *c, uint64_t now)
{
	uint64_t sec = now / NS_PER_SEC, old, want;
	unsigned tries;

	if (!c->cfg.max_events)
		return 1;
	old = tstp_atomic64_read(&c->rate);
	for (tries = 0; tries < 16; tries++) {
		if (old >> 32 != (sec & 0xffffffffu))
			want = sec << 32 | 1;
		else if ((old & 0xffffffffu) >= c->cfg.max_events)
			return 0;
		else
			want = old + 1;
		want = tstp_atomic64_cmpxchg(&c->rate, old, want) == old ? 0 : want;
		if (!want)
			return 1;
		old = tstp_atomic64_read(&c->rate);
	}
	return 0;	/* sixteen CPUs won in a row: this one counts as over the budget */
}

/* Emit or count the exchanges that ended; runs with no lock held. */
static int deliver(struct tstp_core *c, struct tstp_cpu *cpu, struct ended *e, uint64_t now)
{
	int i;

	for (i = 0; i < e->n; i++) {
		struct tstp_finished *f = &e->fin[i];
		int emit = f->total_us >= c->cfg.threshold_us;

		cpu->exchanges++;
		if (emit && !rate_ok(c, now)) {
			emit = 0;
			cpu->dropped_rate++;
		}
		if (!emit) {
			if (f->total_us < c->cfg.threshold_us)
				cpu->below++;
			hist_add(c, f->ep, f->total_us);
			continue;
		}
		f->rec.srtt_us = e->srtt_us[i];
		if (tstp_emit_record(c, &f->rec, TSTP_REC_EXCHANGE, sizeof(f->rec),
				     (uint16_t)cpu->id, now) == 0)
			cpu->emitted++;
		else
			cpu->emit_failed++;
	}
	return e->n;
}

/* ------------------------------------------------------------ the table */

static struct tstp_bucket *bucket_of(const struct tstp_core *c, uint64_t key)
{
	return &c->buckets[(hash64(key) >> 32) & (c->nbuckets - 1)];
}

static int find(const struct tstp_bucket *b, uint64_t key)
{
	int i;

	for (i = 0; i < TSTP_WAYS; i++)
		if (b->key[i] == key)
			return i;
	return -1;
}

/*
 * A slot for key in b, under b's lock: a free one, else the least recently
 * active socket's, whose exchange in progress ends as EVICTED into *e.
 */
static int insert(struct tstp_core *c, struct tstp_cpu *cpu, struct tstp_bucket *b,
		  uint64_t key, uint8_t role, uint16_t flags, const struct tstp_ident *id,
		  uint64_t now, struct ended *e)
{
	int i, victim = 0;

	for (i = 0; i < TSTP_WAYS; i++)
		if (!b->key[i])
			break;
	if (i == TSTP_WAYS) {
		for (i = 1; i < TSTP_WAYS; i++)
			if (b->slot[i].t_active < b->slot[victim].t_active)
				victim = i;
		i = victim;
		if (tstp_rule_finish(&b->slot[i], TSTP_FIN_EVICT, b->slot[i].retrans_last,
				     &e->fin[e->n]))
			e->srtt_us[e->n++] = 0;	/* the victim's socket may be gone: not read */
		cpu->evicted++;
	}
	b->key[i] = key;
	tstp_rule_track(&b->slot[i], role, flags, id, endpoint_of(c, role, id), now);
	cpu->tracked++;
	return i;
}

/*
 * State of a socket not in the table, created for a connection established
 * before we loaded (pooled connections). A connection that never carried a
 * byte had no exchange before this one, so it is not PREEXISTING even
 * though its setup was not seen (a nested kprobe hit can miss it).
 */
static int track_midstream(struct tstp_core *c, struct tstp_cpu *cpu, struct tstp_bucket *b,
			   uint64_t key, const void *sk, tstp_ident_fn ident, uint64_t now,
			   struct ended *e)
{
	struct tstp_ident id;
	uint8_t role;

	if (!tstp_sampled_in(c, key))
		return -1;
	ident(sk, &id);
	if (!tstp_addr_match(c, &id))
		return -1;
	if (id.state == TSTP_TCP_CLOSE || id.state == TSTP_TCP_SYN_SENT ||
	    id.state == TSTP_TCP_SYN_RECV)
		return -1;
	role = tstp_rule_guess_role(id.lport, id.rport, tstp_port_is_service(c, id.lport),
				    c->cfg.have_ports);
	return insert(c, cpu, b, key, role, id.bytes_seen == 0 ? 0 : TSTP_XF_PREEXISTING,
		      &id, now, e);
}

int tstp_core_rx(struct tstp_core *c, struct tstp_cpu *cpu, uint64_t key,
		 const void *sk, tstp_ident_fn ident, const struct tstp_ev *ev,
		 uint32_t srtt_us)
{
	struct tstp_bucket *b = bucket_of(c, key);
	struct ended e;
	tstp_irqflags_t flags;
	int i;

	e.n = 0;
	tstp_lock(&b->lock, flags);
	i = find(b, key);
	if (i < 0)
		i = track_midstream(c, cpu, b, key, sk, ident, ev->now, &e);
	if (i >= 0 && tstp_rule_rx(&b->slot[i], ev, &e.fin[e.n]))
		e.srtt_us[e.n++] = srtt_us;
	tstp_unlock(&b->lock, flags);
	return deliver(c, cpu, &e, ev->now);
}

int tstp_core_write(struct tstp_core *c, struct tstp_cpu *cpu, uint64_t key,
		    const void *sk, tstp_ident_fn ident, const struct tstp_ev *ev,
		    uint32_t srtt_us)
{
	struct tstp_bucket *b = bucket_of(c, key);
	struct ended e;
	tstp_irqflags_t flags;
	int i;

	e.n = 0;
	tstp_lock(&b->lock, flags);
	i = find(b, key);
	if (i < 0)
		i = track_midstream(c, cpu, b, key, sk, ident, ev->now, &e);
	if (i >= 0 && tstp_rule_write(&b->slot[i], ev, &e.fin[e.n]))
		e.srtt_us[e.n++] = srtt_us;
	tstp_unlock(&b->lock, flags);
	return deliver(c, cpu, &e, ev->now);
}

int tstp_core_read(struct tstp_core *c, struct tstp_cpu *cpu, uint64_t key,
		   const struct tstp_ev *ev)
{
	struct tstp_bucket *b = bucket_of(c, key);
	tstp_irqflags_t flags;
	int i;

	(void)cpu;
	tstp_lock(&b->lock, flags);
	i = find(b, key);
	if (i >= 0)
		tstp_rule_read(&b->slot[i], ev);
	tstp_unlock(&b->lock, flags);
	return 0;
}

int tstp_core_tx(struct tstp_core *c, struct tstp_cpu *cpu, uint64_t key,
		 const struct tstp_ev *ev)
{
	struct tstp_bucket *b = bucket_of(c, key);
	tstp_irqflags_t flags;
	int i;

	(void)cpu;
	tstp_lock(&b->lock, flags);
	i = find(b, key);
	if (i >= 0)
		tstp_rule_tx(&b->slot[i], ev);
	tstp_unlock(&b->lock, flags);
	return 0;
}

static int same_connection(const struct tstp_sock *s, const struct tstp_ident *id)
{
	return s->family == id->family && s->lport == id->lport && s->rport == id->rport &&
	       !memcmp(s->laddr, id->laddr, sizeof(s->laddr)) &&
	       !memcmp(s->raddr, id->raddr, sizeof(s->raddr));
}

int tstp_core_established(struct tstp_core *c, struct tstp_cpu *cpu, uint64_t key,
			  const void *sk, tstp_ident_fn ident, uint8_t old_state,
			  uint64_t now)
{
	struct tstp_bucket *b = bucket_of(c, key);
	struct tstp_ident id;
	struct ended e;
	tstp_irqflags_t flags;
	int i;

	if (old_state != TSTP_TCP_SYN_RECV && old_state != TSTP_TCP_SYN_SENT)
		return 0;
	e.n = 0;
	tstp_lock(&b->lock, flags);
	i = find(b, key);
	if (i >= 0) {
		ident(sk, &id);
		/* Tracked already: data came with the handshake's last ACK. */
		if (same_connection(&b->slot[i], &id))
			goto out;
		/*
		 * The entry names another connection: a socket freed at this
		 * address whose close was missed (a nested kprobe hit is).
		 */
		if (tstp_rule_finish(&b->slot[i], TSTP_FIN_EVICT, b->slot[i].retrans_last,
				     &e.fin[e.n]))
			e.srtt_us[e.n++] = 0;
		b->key[i] = 0;
		cpu->evicted++;
	}
	if (!tstp_sampled_in(c, key)) {
		cpu->sampled_out++;
		goto out;
	}
	if (i < 0)
		ident(sk, &id);
	if (tstp_addr_match(c, &id))
		insert(c, cpu, b, key, old_state == TSTP_TCP_SYN_RECV ? TSTP_ROLE_SERVER : TSTP_ROLE_CLIENT,
		       0, &id, now, &e);
out:
	tstp_unlock(&b->lock, flags);
	return deliver(c, cpu, &e, now);
}

int tstp_core_close(struct tstp_core *c, struct tstp_cpu *cpu, uint64_t key,
		    const struct tstp_ev *ev, uint32_t srtt_us)
{
	struct tstp_bucket *b = bucket_of(c, key);
	struct ended e;
	tstp_irqflags_t flags;
	int i;

	e.n = 0;
	tstp_lock(&b->lock, flags);
	i = find(b, key);
	if (i >= 0) {
		if (tstp_rule_finish(&b->slot[i], TSTP_FIN_CLOSE, ev->total_retrans, &e.fin[e.n]))
			e.srtt_us[e.n++] = srtt_us;
		b->key[i] = 0;
		cpu->closed++;
	}
	tstp_unlock(&b->lock, flags);
	return deliver(c, cpu, &e, ev->now);
}

void tstp_core_account(struct tstp_cpu *cpu, uint64_t ns)
{
	uint64_t avg = cpu->cost_avg_ns;
	uint64_t clip = avg * TSTP_OUTLIER_FACTOR;

	if (clip < TSTP_OUTLIER_FLOOR_NS)
		clip = TSTP_OUTLIER_FLOOR_NS;
	cpu->hits++;
	if (ns > clip) {
		/* Interrupted or preempted: charge what a run really costs here. */
		cpu->outliers++;
		ns = avg ? avg : TSTP_OUTLIER_FLOOR_NS / TSTP_OUTLIER_FACTOR;
	} else {
		cpu->cost_avg_ns = avg + ((int64_t)(ns - avg) / TSTP_OUTLIER_FACTOR);
	}
	cpu->cost_ns += ns;
}
