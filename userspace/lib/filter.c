// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tcpstap-load's pure decisions: filter translation, MODULE resolution and
 * the parsers of staprun -V, MANIFEST, .modinfo and the module's state line.
 * See tcpstap/filter.h.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcpstap/filter.h"
#include "tcpstap/owner.h"
#include "tcpstap/record.h"

#define TOKENS_MAX	256
#define TOKEN_LEN	64

static void set_err(char *err, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (!size)
		return;
	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

/* ---- filter ---- */

struct tokens {
	int n;
	char tok[TOKENS_MAX][TOKEN_LEN];
};

static int tokenize(int nwords, char *const words[], struct tokens *t, char *err, size_t err_size)
{
	t->n = 0;
	for (int w = 0; w < nwords; w++) {
		const char *p = words[w];

		for (;;) {
			size_t len;

			while (*p == ' ' || *p == '\t' || *p == '\n')
				p++;
			if (!*p)
				break;
			/* Parentheses are tokens of their own, even when glued to a word. */
			len = (*p == '(' || *p == ')') ? 1 : strcspn(p, " \t\n()");
			if (len >= TOKEN_LEN) {
				set_err(err, err_size, "filter: '%.*s...': word too long", 20, p);
				return -1;
			}
			if (t->n == TOKENS_MAX) {
				set_err(err, err_size, "filter: more than %d words", TOKENS_MAX);
				return -1;
			}
			memcpy(t->tok[t->n], p, len);
			t->tok[t->n][len] = '\0';
			/* tcpdump's synonyms */
			if (strcmp(t->tok[t->n], "&&") == 0)
				strcpy(t->tok[t->n], "and");
			else if (strcmp(t->tok[t->n], "||") == 0)
				strcpy(t->tok[t->n], "or");
			t->n++;
			p += len;
		}
	}
	return 0;
}

static int unsupported(char *err, size_t size, const char *what, const char *why)
{
	set_err(err, size, "filter: %s: %s; supported: %s", what, why, TSTP_FILTER_SUPPORTED);
	return -1;
}

/* The reason a word that is not part of the supported grammar is refused. */
static const char *refusal(const char *tok)
{
	static const struct { const char *word, *why; } known[] = {
		{ "udp", "only TCP is traced" },
		{ "icmp", "only TCP is traced" },
		{ "icmp6", "only TCP is traced" },
		{ "sctp", "only TCP is traced" },
		{ "arp", "only TCP is traced" },
		{ "ip", "protocol qualifiers other than 'tcp' are not supported" },
		{ "ip6", "protocol qualifiers other than 'tcp' are not supported" },
		{ "ether", "link-level filters are not supported" },
		{ "net", "networks are not supported, only one host address" },
		{ "portrange", "port ranges are not supported, list the ports with 'or'" },
		{ "not", "negation is not supported" },
		{ "!", "negation is not supported" },
		{ "(", "parentheses are not supported" },
		{ ")", "parentheses are not supported" },
		{ "src", "the module matches a port or address at either end: 'src' and 'dst' are not supported" },
		{ "dst", "the module matches a port or address at either end: 'src' and 'dst' are not supported" },
		{ "less", "length filters are not supported" },
		{ "greater", "length filters are not supported" },
		{ "len", "length filters are not supported" },
	};

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strcmp(tok, known[i].word) == 0)
			return known[i].why;
	return "not understood";
}

static int add_port(struct tstp_filter *f, const char *s, char *err, size_t size)
{
	unsigned long v = 0;

	if (!*s || strlen(s) > 5 || strspn(s, "0123456789") != strlen(s))
		goto bad;
	v = strtoul(s, NULL, 10);
	if (v < 1 || v > 65535)
		goto bad;
	for (unsigned i = 0; i < f->nports; i++)
		if (f->ports[i] == v)
			return 0;
	if (f->nports == TSTP_FILTER_PORTS_MAX) {
		set_err(err, size, "filter: more than %d ports (the module's limit)", TSTP_FILTER_PORTS_MAX);
		return -1;
	}
	f->ports[f->nports++] = (uint16_t)v;
	return 0;
bad:
	set_err(err, size, "filter: port '%s': not a port number in 1..65535 (service names are not resolved)", s);
	return -1;
}

static int set_host(struct tstp_filter *f, const char *s, char *err, size_t size)
{
	unsigned char b[16];

	if (f->family) {
		set_err(err, size, "filter: host '%s': only one host is supported; supported: %s",
			s, TSTP_FILTER_SUPPORTED);
		return -1;
	}
	if (inet_pton(AF_INET, s, b) == 1) {
		f->family = 4;
		inet_ntop(AF_INET, b, f->addr4, sizeof(f->addr4));
		return 0;
	}
	if (inet_pton(AF_INET6, s, b) == 1) {
		static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		if (memcmp(b, mapped, sizeof(mapped)) == 0) {
			/* ::ffff:a.b.c.d: addr= matches IPv4-mapped sockets too */
			f->family = 4;
			inet_ntop(AF_INET, b + 12, f->addr4, sizeof(f->addr4));
			return 0;
		}
		f->family = 6;
		for (int i = 0; i < 4; i++)
			f->addr6[i] = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
				      (uint32_t)b[4 * i + 2] << 16 | (uint32_t)b[4 * i + 3] << 24;
		return 0;
	}
	set_err(err, size, "filter: host '%s': not an IPv4 or IPv6 address (host names are not resolved)", s);
	return -1;
}

/*
 * Grammar (tokens): [tcp [and]] TERM {(and|or) TERM}, TERM = port N | host A.
 * Accepted shapes: ports joined by 'or'; one host; one host 'and' ports
 * joined by 'or' (on either side). Unlike tcpdump, where 'and' and 'or' bind
 * equally, "host A and port 1 or port 2" means host A and (port 1 or 2).
 */
int tstp_filter_parse(int nwords, char *const words[], struct tstp_filter *f,
		      char *err, size_t err_size)
{
	static struct tokens t;		/* 16 KiB: not on the stack */
	char conj[TOKENS_MAX];		/* conj[k] joins term k and k+1: 'a'nd or 'o'r */
	int i = 0, nterms = 0, host_at = -1;

	memset(f, 0, sizeof(*f));
	if (err_size)
		err[0] = '\0';
	if (tokenize(nwords, words, &t, err, err_size) != 0)
		return -1;
	if (i < t.n && strcmp(t.tok[i], "tcp") == 0) {
		i++;
		if (i < t.n && strcmp(t.tok[i], "and") == 0) {
			i++;
			if (i == t.n)
				return unsupported(err, err_size, "'and' at the end", "a term must follow");
		}
	}
	while (i < t.n) {
		const char *tok = t.tok[i];
		char what[TOKEN_LEN + 2];

		/* a term */
		if (strcmp(tok, "port") == 0) {
			if (i + 1 == t.n)
				return unsupported(err, err_size, "'port' at the end", "a port number must follow");
			if (add_port(f, t.tok[i + 1], err, err_size) != 0)
				return -1;
		} else if (strcmp(tok, "host") == 0) {
			if (i + 1 == t.n)
				return unsupported(err, err_size, "'host' at the end", "an address must follow");
			if (set_host(f, t.tok[i + 1], err, err_size) != 0)
				return -1;
			host_at = nterms;
		} else if (strcmp(tok, "tcp") == 0) {
			return unsupported(err, err_size, "'tcp'", "allowed only at the start");
		} else {
			snprintf(what, sizeof(what), "'%s'", tok);
			return unsupported(err, err_size, what, refusal(tok));
		}
		nterms++;
		i += 2;
		if (i == t.n)
			break;
		/* a conjunction */
		tok = t.tok[i];
		if (strcmp(tok, "or") != 0 && strcmp(tok, "and") != 0) {
			snprintf(what, sizeof(what), "'%s'", tok);
			return unsupported(err, err_size, what,
					   strcmp(refusal(tok), "not understood") == 0
					   ? "expected 'and' or 'or' between terms" : refusal(tok));
		}
		conj[nterms - 1] = tok[0];
		i++;
		if (i == t.n) {
			snprintf(what, sizeof(what), "'%s' at the end", tok);
			return unsupported(err, err_size, what, "a term must follow");
		}
	}
	/*
	 * Shapes: ports joined by 'or'; one host; one host at either end joined
	 * to ports by one 'and', the ports joined by 'or'.
	 */
	for (int k = 0; k + 1 < nterms; k++) {
		int next_to_host = host_at >= 0 && (k == host_at || k + 1 == host_at);

		if (conj[k] == 'a' && host_at < 0)
			return unsupported(err, err_size, "'port N and port M'",
					   "a connection has one service port: join ports with 'or'");
		if (conj[k] == 'a' && !next_to_host)
			return unsupported(err, err_size, "'and' between ports",
					   "join ports with 'or': host ADDR and port N or port M");
		if (conj[k] == 'o' && next_to_host)
			return unsupported(err, err_size, "'or' with a host",
					   "a host is combined with ports by 'and' only");
	}
	if (host_at > 0 && host_at < nterms - 1)
		return unsupported(err, err_size, "a host between ports",
				   "write 'host ADDR and port N or port M'");
	return 0;
}

size_t tstp_filter_params(const struct tstp_filter *f, char out[][TSTP_PARAM_MAX], size_t max)
{
	size_t n = 0;

	if (f->nports && n < max) {
		size_t len = (size_t)snprintf(out[n], TSTP_PARAM_MAX, "ports=");

		for (unsigned i = 0; i < f->nports; i++)
			len += (size_t)snprintf(out[n] + len, TSTP_PARAM_MAX - len, "%s%u",
						i ? "," : "", (unsigned)f->ports[i]);
		n++;
	}
	if (f->family == 4 && n < max)
		snprintf(out[n++], TSTP_PARAM_MAX, "addr=%s", f->addr4);
	if (f->family == 6) {
		for (int i = 0; i < 4 && n < max; i++)
			snprintf(out[n++], TSTP_PARAM_MAX, "addr6_%d=0x%08x", i, (unsigned)f->addr6[i]);
		if (n < max)
			snprintf(out[n++], TSTP_PARAM_MAX, "addr6_set=1");
	}
	return n;
}

/* ---- MODULE resolution ---- */

int tstp_repo_from_exe(const char *exe, char *out, size_t size)
{
	static const char tail[] = "/userspace/build/";
	const char *slash = strrchr(exe, '/');
	size_t prefix;

	if (!slash || slash == exe)
		return -1;
	/* exe = <repo>/userspace/build/<name> */
	prefix = (size_t)(slash + 1 - exe);
	if (prefix < sizeof(tail) - 1 || memcmp(slash + 1 - (sizeof(tail) - 1), tail, sizeof(tail) - 1) != 0)
		return -1;
	prefix -= sizeof(tail) - 1;
	if (prefix == 0 || prefix >= size)
		return -1;
	memcpy(out, exe, prefix);
	out[prefix] = '\0';
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

int tstp_module_resolve(const char *arg, const char *release, const char *repo,
			char paths[][TSTP_PATH_MAX], char *name, size_t name_size,
			char *err, size_t err_size)
{
	char base[TSTP_MODNAME_MAX + 16];
	const char *b;
	size_t len;
	int n = 0;

	if (!*arg) {
		set_err(err, err_size, "module: empty name");
		return -1;
	}
	if (strchr(arg, '/')) {
		b = strrchr(arg, '/') + 1;
		if (!ends_with(b, ".ko") || strlen(arg) >= TSTP_PATH_MAX) {
			set_err(err, err_size, "module %s: a module path must name a .ko file", arg);
			return -1;
		}
		len = strlen(b) - 3;
		if (len >= name_size || len >= TSTP_MODNAME_MAX) {
			set_err(err, err_size, "module %s: name too long", arg);
			return -1;
		}
		memcpy(name, b, len);
		name[len] = '\0';
		if (!tstp_module_name_ok(name)) {
			set_err(err, err_size, "module %s: '%s' is not a kernel module name (letters, digits, '_')", arg, name);
			return -1;
		}
		snprintf(paths[n++], TSTP_PATH_MAX, "%s", arg);
		return n;
	}
	len = strlen(arg);
	if (ends_with(arg, ".ko"))
		len -= 3;
	if (len + sizeof(TSTP_MODULE_PREFIX) >= sizeof(base)) {
		set_err(err, err_size, "module %s: name too long", arg);
		return -1;
	}
	if (len >= strlen(TSTP_MODULE_PREFIX) && strncmp(arg, TSTP_MODULE_PREFIX, strlen(TSTP_MODULE_PREFIX)) == 0)
		snprintf(base, sizeof(base), "%.*s", (int)len, arg);
	else
		snprintf(base, sizeof(base), "%s%.*s", TSTP_MODULE_PREFIX, (int)len, arg);
	if (!tstp_module_name_ok(base) || strcmp(base, TSTP_MODULE_PREFIX) == 0) {
		set_err(err, err_size, "module %s: not a module name (letters, digits, '_'; or a path to a .ko)", arg);
		return -1;
	}
	if (strlen(base) >= name_size || !*release || strchr(release, '/')) {
		set_err(err, err_size, "module %s: bad name or kernel release", arg);
		return -1;
	}
	snprintf(name, name_size, "%s", base);
	if (repo && (size_t)snprintf(paths[n], TSTP_PATH_MAX, "%s/prebuilt/%s/%s.ko", repo, release, base) < TSTP_PATH_MAX)
		n++;
	snprintf(paths[n++], TSTP_PATH_MAX, "%s/%s/%s.ko", TSTP_SYSTEM_MODULE_DIR, release, base);
	return n;
}

/* ---- what the loader reads ---- */

static int copy_value(const char *v, size_t vlen, char *out, size_t size)
{
	if (vlen == 0 || vlen >= size)
		return -1;
	memcpy(out, v, vlen);
	out[vlen] = '\0';
	return 0;
}

int tstp_staprun_version_parse(const char *buf, size_t len, char *out, size_t size)
{
	static const char key[] = "(version ";
	const char *p = memmem(buf, len, key, sizeof(key) - 1), *end = buf + len, *v;

	if (!p)
		return -1;
	v = p + sizeof(key) - 1;
	for (p = v; p < end && *p != '/' && *p != ',' && *p != ')' && *p != ' ' && *p != '\n'; p++)
		;
	return copy_value(v, (size_t)(p - v), out, size);
}

int tstp_manifest_get(const char *buf, size_t len, const char *key, char *out, size_t size)
{
	const char *p = buf, *end = buf + len;
	size_t klen = strlen(key);

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eol = nl ? nl : end;

		if ((size_t)(eol - p) > klen && memcmp(p, key, klen) == 0 && p[klen] == '=') {
			const char *v = p + klen + 1, *e = eol;

			while (e > v && (e[-1] == ' ' || e[-1] == '\r' || e[-1] == '\t'))
				e--;
			return copy_value(v, (size_t)(e - v), out, size);
		}
		p = nl ? nl + 1 : end;
	}
	return -1;
}

static uint64_t rd(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* The .modinfo section of an ELF (32/64-bit, little-endian) image: 0, or -1 when there is none. */
static int modinfo_section(const void *image, size_t len, const char **sec, size_t *sec_len)
{
	const unsigned char *e = image;
	uint64_t shoff, shentsize, shnum, shstrndx, stroff, strsize;
	int is64, w;

	if (len < 52 || memcmp(e, "\177ELF", 4) != 0 || e[5] != 1 /* little-endian */)
		return -1;
	is64 = e[4] == 2;
	if (!is64 && e[4] != 1)
		return -1;
	if (is64 && len < 64)
		return -1;
	w = is64 ? 8 : 4;
	shoff = rd(e + (is64 ? 0x28 : 0x20), w);
	shentsize = rd(e + (is64 ? 0x3a : 0x2e), 2);
	shnum = rd(e + (is64 ? 0x3c : 0x30), 2);
	shstrndx = rd(e + (is64 ? 0x3e : 0x32), 2);
	if (shentsize < (uint64_t)(is64 ? 64 : 40) || shnum == 0 || shstrndx >= shnum ||
	    shoff > len || shnum > (len - shoff) / shentsize)
		return -1;
	{
		const unsigned char *sh = e + shoff + shstrndx * shentsize;

		stroff = rd(sh + (is64 ? 0x18 : 0x10), w);
		strsize = rd(sh + (is64 ? 0x20 : 0x14), w);
		if (stroff > len || strsize > len - stroff)
			return -1;
	}
	for (uint64_t i = 0; i < shnum; i++) {
		const unsigned char *sh = e + shoff + i * shentsize;
		uint64_t name = rd(sh, 4), off, sz;
		const char *s;

		if (name >= strsize)
			continue;
		s = (const char *)e + stroff + name;
		if (strnlen(s, strsize - name) != 8 || memcmp(s, ".modinfo", 8) != 0)
			continue;
		off = rd(sh + (is64 ? 0x18 : 0x10), w);
		sz = rd(sh + (is64 ? 0x20 : 0x14), w);
		if (off > len || sz > len - off)
			return -1;
		*sec = (const char *)e + off;
		*sec_len = (size_t)sz;
		return 0;
	}
	return -1;
}

/*
 * The first NUL-separated "key=value" string of .modinfo whose value starts
 * with vprefix: its value in out (when out is not NULL). 0 or -1.
 */
static int modinfo_find(const void *image, size_t len, const char *key, const char *vprefix,
			char *out, size_t size)
{
	const char *sec;
	size_t sec_len, klen = strlen(key), vlen = strlen(vprefix);

	if (modinfo_section(image, len, &sec, &sec_len) != 0)
		return -1;
	for (const char *p = sec, *end = sec + sec_len; p < end;) {
		size_t n = strnlen(p, (size_t)(end - p));

		if (n > klen + vlen && memcmp(p, key, klen) == 0 && p[klen] == '=' &&
		    memcmp(p + klen + 1, vprefix, vlen) == 0)
			return out ? copy_value(p + klen + 1, n - klen - 1, out, size) : 0;
		p += n + 1;
	}
	return -1;
}

int tstp_elf_modinfo_get(const void *image, size_t len, const char *key, char *out, size_t size)
{
	return modinfo_find(image, len, key, "", out, size);
}

int tstp_elf_modinfo_has_param(const void *image, size_t len, const char *name)
{
	char prefix[TSTP_PARAM_MAX + 2];

	if ((size_t)snprintf(prefix, sizeof(prefix), "%s:", name) >= sizeof(prefix))
		return 0;
	return modinfo_find(image, len, "parmtype", prefix, NULL, 0) == 0 ||
	       modinfo_find(image, len, "parm", prefix, NULL, 0) == 0;
}

int tstp_vermagic_matches(const char *vermagic, const char *release)
{
	size_t n = strlen(release);

	return n && strncmp(vermagic, release, n) == 0 && (vermagic[n] == ' ' || vermagic[n] == '\0');
}

/* key=<decimal> anywhere in the line, as a whole token. */
static int state_field(const char *buf, size_t len, const char *key, uint64_t *v)
{
	size_t klen = strlen(key);
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *tok = p;
		size_t tlen;

		while (p < end && *p != ' ' && *p != '\n')
			p++;
		tlen = (size_t)(p - tok);
		if (tlen > klen + 1 && memcmp(tok, key, klen) == 0 && tok[klen] == '=') {
			uint64_t x = 0;

			for (size_t i = klen + 1; i < tlen; i++) {
				if (tok[i] < '0' || tok[i] > '9' || x > (UINT64_MAX - 9) / 10)
					return -1;
				x = x * 10 + (uint64_t)(tok[i] - '0');
			}
			*v = x;
			return 0;
		}
		while (p < end && (*p == ' ' || *p == '\n'))
			p++;
	}
	return -1;
}

int tstp_modstate_parse(const char *buf, size_t len, struct tstp_modstate *st)
{
	uint64_t armed, reason;

	memset(st, 0, sizeof(*st));
	if (state_field(buf, len, "armed", &armed) != 0 || armed > 1 ||
	    state_field(buf, len, "disarm_reason", &reason) != 0 || reason > 255)
		return -1;
	st->armed = (int)armed;
	st->disarm_reason = (unsigned)reason;
	(void)state_field(buf, len, "window_ppm", &st->window_ppm);
	(void)state_field(buf, len, "max_cpu_ppm", &st->max_cpu_ppm);
	(void)state_field(buf, len, "deadman_s", &st->deadman_s);
	return 0;
}

void tstp_disarm_message(char *buf, size_t size, const struct tstp_modstate *st,
			 unsigned budget_window_s, const char *max_cpu_arg)
{
	switch (st->disarm_reason) {
	case TSTP_DISARM_OVERHEAD:
		snprintf(buf, size, "its handlers used %llu.%04llu%% of one CPU (%llu ppm) over %u s, "
			 "above the budget of --max-cpu %s%% (%llu ppm)",
			 (unsigned long long)(st->window_ppm / 10000),
			 (unsigned long long)(st->window_ppm % 10000),
			 (unsigned long long)st->window_ppm, budget_window_s, max_cpu_arg,
			 (unsigned long long)st->max_cpu_ppm);
		break;
	case TSTP_DISARM_HEARTBEAT:
		snprintf(buf, size, "no heartbeat from the loader for %llu s (--deadman %llu): "
			 "the loader was stopped, starved or hung",
			 (unsigned long long)st->deadman_s, (unsigned long long)st->deadman_s);
		break;
	default:
		snprintf(buf, size, "disarm reason %u", st->disarm_reason);
		break;
	}
}
