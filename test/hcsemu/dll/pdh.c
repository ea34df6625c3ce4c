/* pdh.dll of the emulated Windows host: the performance counters the
 * Windows kubelet reads for its node figures (pkg/kubelet/winstats), which
 * Wine's pdh does not have (it knows two counters, and its
 * PdhGetFormattedCounterArrayW is a stub). Installed for the kubelet only
 * (hack/windows-kubelet.sh). The values are this machine's, read through
 * Wine's kernel32, psapi and iphlpapi, so they are Linux's figures:
 *
 *   \Processor(_Total)\% Processor Time        GetSystemTimes, between samples
 *   \Memory\Committed Bytes                    GetPerformanceInfo CommitTotal
 *   \Process(_Total)\Working Set - Private     GlobalMemoryStatusEx, in use
 *   \Network Adapter(*)\Packets Received/sec,  GetIfTable2, per adapter (but
 *     Packets Sent/sec, Bytes Received/sec,      the loopback), rates between
 *     Bytes Sent/sec, Packets Received           samples; the rest as counts
 *     Discarded, Packets Received Errors,
 *     Packets Outbound Discarded, Packets Outbound Errors
 *
 * Any other object, counter, instance, a remote machine or a log file as the
 * data source is refused with the status PDH gives for it. The formats are
 * PDH_FMT_DOUBLE, PDH_FMT_LARGE and PDH_FMT_LONG; a rate before its second
 * sample is PDH_INVALID_DATA, as in PDH. */
#include <winsock2.h>
#include <windows.h>
#include <psapi.h>
#include <netioapi.h>
#include <iphlpapi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define PDH_CSTATUS_VALID_DATA 0x00000000u
#define PDH_CSTATUS_NO_MACHINE 0x800007D0u
#define PDH_MORE_DATA 0x800007D2u
#define PDH_NO_DATA 0x800007D5u
#define PDH_CSTATUS_NO_OBJECT 0xC0000BB8u
#define PDH_CSTATUS_NO_COUNTER 0xC0000BB9u
#define PDH_CSTATUS_NO_INSTANCE 0xC0000BBAu
#define PDH_INVALID_ARGUMENT 0xC0000BBDu
#define PDH_INVALID_HANDLE 0xC0000BBCu
#define PDH_INVALID_DATA 0xC0000BC6u
#define PDH_CSTATUS_BAD_COUNTERNAME 0xC0000BC0u
#define PDH_INVALID_PATH 0xC0000BD0u
#define PDH_FMT_LONG 0x100u
#define PDH_FMT_DOUBLE 0x200u
#define PDH_FMT_LARGE 0x400u

typedef struct {
	DWORD CStatus;
	union {
		LONG longValue;
		double doubleValue;
		LONGLONG largeValue;
		LPCSTR AnsiStringValue;
		LPCWSTR WideStringValue;
	};
} PDH_FMT_COUNTERVALUE;

typedef struct {
	LPWSTR szName;
	PDH_FMT_COUNTERVALUE FmtValue;
} PDH_FMT_COUNTERVALUE_ITEM_W;

enum source { CPU, COMMITTED, WORKING_SET, NET };
enum netfield { RX_PKTS, TX_PKTS, RX_BYTES, TX_BYTES, RX_DISCARDS, RX_ERRORS, TX_DISCARDS, TX_ERRORS };

static const struct {
	const WCHAR *object, *instance, *counter; /* instance NULL: none; L"*": all */
	enum source src;
	int field; /* NET: enum netfield */
	int rate;
} known[] = {
	{L"Processor", L"_Total", L"% Processor Time", CPU, 0, 1},
	{L"Memory", NULL, L"Committed Bytes", COMMITTED, 0, 0},
	{L"Process", L"_Total", L"Working Set - Private", WORKING_SET, 0, 0},
	{L"Network Adapter", L"*", L"Packets Received/sec", NET, RX_PKTS, 1},
	{L"Network Adapter", L"*", L"Packets Sent/sec", NET, TX_PKTS, 1},
	{L"Network Adapter", L"*", L"Bytes Received/sec", NET, RX_BYTES, 1},
	{L"Network Adapter", L"*", L"Bytes Sent/sec", NET, TX_BYTES, 1},
	{L"Network Adapter", L"*", L"Packets Received Discarded", NET, RX_DISCARDS, 0},
	{L"Network Adapter", L"*", L"Packets Received Errors", NET, RX_ERRORS, 0},
	{L"Network Adapter", L"*", L"Packets Outbound Discarded", NET, TX_DISCARDS, 0},
	{L"Network Adapter", L"*", L"Packets Outbound Errors", NET, TX_ERRORS, 0},
};
#define NKNOWN (sizeof(known) / sizeof(known[0]))

#define MAXINST 32
typedef struct {
	int n;
	WCHAR name[MAXINST][128];
	double v[MAXINST];  /* raw value (CPU: busy 100ns units) */
	double base;        /* CPU: total 100ns units; others: seconds */
} sample;

#define QUERY_MAGIC 0x51524450u   /* "PDRQ" */
#define COUNTER_MAGIC 0x43524450u /* "PDRC" */
struct query;
typedef struct counter {
	uint32_t magic;
	int k; /* index in known[] */
	struct query *q;
	struct counter *next;
	int samples; /* 0, 1 or 2 */
	sample cur, prev;
} counter;
typedef struct query {
	uint32_t magic;
	counter *counters;
} query;

static CRITICAL_SECTION lock;

BOOL WINAPI DllMain(HINSTANCE h, DWORD reason, LPVOID r)
{
	(void)h;
	(void)r;
	if (reason == DLL_PROCESS_ATTACH)
		InitializeCriticalSection(&lock);
	return TRUE;
}

static double seconds(void)
{
	LARGE_INTEGER f, c;
	QueryPerformanceFrequency(&f);
	QueryPerformanceCounter(&c);
	return (double)c.QuadPart / (double)f.QuadPart;
}

static double ft(FILETIME t) { return (double)(((uint64_t)t.dwHighDateTime << 32) | t.dwLowDateTime); }

/* The Network Adapter instance name Windows would give: its description,
 * with the characters PDH replaces in instance names replaced. */
static void adapter_name(const WCHAR *desc, WCHAR *out)
{
	int i = 0;
	for (; desc[i] && i < 127; i++) {
		WCHAR c = desc[i];
		out[i] = c == L'(' ? L'[' : c == L')' ? L']' : (c == L'#' || c == L'/' || c == L'\\') ? L'_' : c;
	}
	out[i] = 0;
}

static double net_field(const MIB_IF_ROW2 *r, int f)
{
	switch (f) {
	case RX_PKTS: return (double)(r->InUcastPkts + r->InNUcastPkts);
	case TX_PKTS: return (double)(r->OutUcastPkts + r->OutNUcastPkts);
	case RX_BYTES: return (double)r->InOctets;
	case TX_BYTES: return (double)r->OutOctets;
	case RX_DISCARDS: return (double)r->InDiscards;
	case RX_ERRORS: return (double)r->InErrors;
	case TX_DISCARDS: return (double)r->OutDiscards;
	default: return (double)r->OutErrors;
	}
}

static int take(int k, sample *s)
{
	memset(s, 0, sizeof(*s));
	s->base = seconds();
	switch (known[k].src) {
	case CPU: {
		FILETIME idle, kern, user;
		if (!GetSystemTimes(&idle, &kern, &user))
			return 0;
		s->n = 1;
		lstrcpyW(s->name[0], L"_Total");
		s->v[0] = ft(kern) - ft(idle) + ft(user);
		s->base = ft(kern) + ft(user);
		return 1;
	}
	case COMMITTED: {
		PERFORMANCE_INFORMATION pi = {.cb = sizeof(pi)};
		if (!GetPerformanceInfo(&pi, sizeof(pi)))
			return 0;
		s->n = 1;
		s->v[0] = (double)pi.CommitTotal * (double)pi.PageSize;
		return 1;
	}
	case WORKING_SET: {
		MEMORYSTATUSEX m = {.dwLength = sizeof(m)};
		if (!GlobalMemoryStatusEx(&m))
			return 0;
		s->n = 1;
		lstrcpyW(s->name[0], L"_Total");
		s->v[0] = (double)(m.ullTotalPhys - m.ullAvailPhys);
		return 1;
	}
	case NET: {
		MIB_IF_TABLE2 *t = NULL;
		if (GetIfTable2(&t) != NO_ERROR)
			return 0;
		for (ULONG i = 0; i < t->NumEntries && s->n < MAXINST; i++) {
			const MIB_IF_ROW2 *r = &t->Table[i];
			if (r->Type == IF_TYPE_SOFTWARE_LOOPBACK)
				continue;
			adapter_name(r->Description, s->name[s->n]);
			s->v[s->n++] = net_field(r, known[k].field);
		}
		FreeMibTable(t);
		return 1;
	}
	}
	return 0;
}

/* Splits "\Object(Instance)\Counter" (or "\Object\Counter"); the machine
 * part "\\name\" is refused: only this host is served. */
static DWORD find_counter(const WCHAR *path, int *k)
{
	WCHAR obj[128], inst[128] = {0}, ctr[128];
	int has_inst = 0;
	if (!path)
		return PDH_INVALID_ARGUMENT;
	if (path[0] == L'\\' && path[1] == L'\\')
		return PDH_CSTATUS_NO_MACHINE;
	if (path[0] != L'\\')
		return PDH_CSTATUS_BAD_COUNTERNAME;
	const WCHAR *p = path + 1, *slash = wcschr(p, L'\\');
	if (!slash || wcschr(slash + 1, L'\\') || !slash[1])
		return PDH_CSTATUS_BAD_COUNTERNAME;
	const WCHAR *open = wcschr(p, L'(');
	size_t olen = (open && open < slash ? open : slash) - p;
	if (!olen || olen >= 128)
		return PDH_CSTATUS_BAD_COUNTERNAME;
	wcsncpy(obj, p, olen);
	obj[olen] = 0;
	if (open && open < slash) {
		const WCHAR *close = slash - 1;
		size_t ilen = close - open - 1;
		if (*close != L')' || !ilen || ilen >= 128)
			return PDH_CSTATUS_BAD_COUNTERNAME;
		wcsncpy(inst, open + 1, ilen);
		inst[ilen] = 0;
		has_inst = 1;
	}
	if (wcslen(slash + 1) >= 128)
		return PDH_CSTATUS_BAD_COUNTERNAME;
	lstrcpyW(ctr, slash + 1);
	int obj_seen = 0, ctr_seen = 0;
	for (unsigned i = 0; i < NKNOWN; i++) {
		if (_wcsicmp(known[i].object, obj))
			continue;
		obj_seen = 1;
		if (_wcsicmp(known[i].counter, ctr))
			continue;
		ctr_seen = 1;
		if (!known[i].instance ? has_inst : !has_inst || _wcsicmp(known[i].instance, inst))
			continue;
		*k = (int)i;
		return 0;
	}
	return !obj_seen ? PDH_CSTATUS_NO_OBJECT : !ctr_seen ? PDH_CSTATUS_NO_COUNTER : PDH_CSTATUS_NO_INSTANCE;
}

DWORD WINAPI PdhOpenQueryW(LPCWSTR source, DWORD_PTR user, HANDLE *out)
{
	(void)user;
	if (!out)
		return PDH_INVALID_ARGUMENT;
	if (source) /* a log file: not this host's live counters */
		return PDH_INVALID_ARGUMENT;
	query *q = calloc(1, sizeof(*q));
	if (!q)
		return ERROR_OUTOFMEMORY;
	q->magic = QUERY_MAGIC;
	*out = q;
	return 0;
}

DWORD WINAPI PdhOpenQuery(LPCWSTR source, DWORD_PTR user, HANDLE *out) { return PdhOpenQueryW(source, user, out); }

static query *as_query(HANDLE h) { return h && ((query *)h)->magic == QUERY_MAGIC ? h : NULL; }
static counter *as_counter(HANDLE h) { return h && ((counter *)h)->magic == COUNTER_MAGIC ? h : NULL; }

DWORD WINAPI PdhAddEnglishCounterW(HANDLE hq, LPCWSTR path, DWORD_PTR user, HANDLE *out)
{
	(void)user;
	int k;
	if (!out)
		return PDH_INVALID_ARGUMENT;
	EnterCriticalSection(&lock);
	query *q = as_query(hq);
	DWORD st = q ? find_counter(path, &k) : PDH_INVALID_HANDLE;
	if (!st) {
		counter *c = calloc(1, sizeof(*c));
		if (!c) {
			st = ERROR_OUTOFMEMORY;
		} else {
			c->magic = COUNTER_MAGIC;
			c->k = k;
			c->q = q;
			c->next = q->counters;
			q->counters = c;
			*out = c;
		}
	}
	LeaveCriticalSection(&lock);
	return st;
}

/* The names are the English ones in any locale here. */
DWORD WINAPI PdhAddCounterW(HANDLE hq, LPCWSTR path, DWORD_PTR user, HANDLE *out) { return PdhAddEnglishCounterW(hq, path, user, out); }

DWORD WINAPI PdhValidatePathW(LPCWSTR path)
{
	int k;
	return find_counter(path, &k);
}

DWORD WINAPI PdhCollectQueryData(HANDLE hq)
{
	EnterCriticalSection(&lock);
	query *q = as_query(hq);
	DWORD st = !q ? PDH_INVALID_HANDLE : !q->counters ? PDH_NO_DATA : 0;
	for (counter *c = q ? q->counters : NULL; c && !st; c = c->next) {
		sample s;
		if (!take(c->k, &s)) {
			st = PDH_NO_DATA;
			break;
		}
		c->prev = c->cur;
		c->cur = s;
		if (c->samples < 2)
			c->samples++;
	}
	LeaveCriticalSection(&lock);
	return st;
}

/* Value of instance i of the current sample; rates per second (CPU: busy
 * share of all processors, in percent), between the last two samples. */
static DWORD value(const counter *c, int i, double *v)
{
	if (!c->samples)
		return PDH_INVALID_DATA;
	if (!known[c->k].rate) {
		*v = c->cur.v[i];
		return 0;
	}
	if (c->samples < 2)
		return PDH_INVALID_DATA;
	int j = -1; /* the same instance in the previous sample */
	for (int x = 0; x < c->prev.n; x++)
		if (!lstrcmpW(c->prev.name[x], c->cur.name[i]))
			j = x;
	double dt = c->cur.base - c->prev.base;
	if (j < 0 || dt <= 0 || c->cur.v[i] < c->prev.v[j])
		return PDH_INVALID_DATA;
	*v = (c->cur.v[i] - c->prev.v[j]) / dt;
	if (known[c->k].src == CPU)
		*v *= 100;
	return 0;
}

static DWORD format(DWORD fmt, double v, PDH_FMT_COUNTERVALUE *out)
{
	memset(out, 0, sizeof(*out));
	if (fmt & PDH_FMT_DOUBLE)
		out->doubleValue = v;
	else if (fmt & PDH_FMT_LARGE)
		out->largeValue = (LONGLONG)v;
	else if (fmt & PDH_FMT_LONG)
		out->longValue = (LONG)v;
	else
		return PDH_INVALID_ARGUMENT;
	out->CStatus = PDH_CSTATUS_VALID_DATA;
	return 0;
}

DWORD WINAPI PdhGetFormattedCounterValue(HANDLE hc, DWORD fmt, LPDWORD type, PDH_FMT_COUNTERVALUE *out)
{
	double v = 0;
	if (!out)
		return PDH_INVALID_ARGUMENT;
	EnterCriticalSection(&lock);
	counter *c = as_counter(hc);
	/* a wildcard counter has no single value: refused (docs/windows.md) */
	int wildcard = known[c ? c->k : 0].instance && !lstrcmpW(known[c ? c->k : 0].instance, L"*");
	DWORD st = !c ? PDH_INVALID_HANDLE : wildcard ? PDH_INVALID_ARGUMENT : 0;
	if (!st && !c->cur.n)
		st = PDH_INVALID_DATA;
	if (!st)
		st = value(c, 0, &v);
	if (!st)
		st = format(fmt, v, out);
	if (!st && type)
		*type = known[c->k].rate ? 0x00450400u /* PERF_COUNTER_COUNTER */ : 0x00010500u /* PERF_COUNTER_LARGE_RAWCOUNT */;
	LeaveCriticalSection(&lock);
	return st;
}

DWORD WINAPI PdhGetFormattedCounterArrayW(HANDLE hc, DWORD fmt, LPDWORD size, LPDWORD count, PDH_FMT_COUNTERVALUE_ITEM_W *items)
{
	if (!size || !count)
		return PDH_INVALID_ARGUMENT;
	if (!(fmt & (PDH_FMT_DOUBLE | PDH_FMT_LARGE | PDH_FMT_LONG)))
		return PDH_INVALID_ARGUMENT;
	EnterCriticalSection(&lock);
	counter *c = as_counter(hc);
	DWORD st = !c ? PDH_INVALID_HANDLE : !c->samples ? PDH_INVALID_DATA : 0;
	if (st) {
		LeaveCriticalSection(&lock);
		return st;
	}
	const sample *s = &c->cur;
	DWORD need = (DWORD)(s->n * sizeof(*items));
	for (int i = 0; i < s->n; i++)
		need += (DWORD)((lstrlenW(s->name[i]) + 1) * sizeof(WCHAR));
	if (!items || *size < need) {
		*size = need;
		*count = (DWORD)s->n;
		LeaveCriticalSection(&lock);
		return PDH_MORE_DATA;
	}
	WCHAR *names = (WCHAR *)(items + s->n);
	for (int i = 0; i < s->n && !st; i++) {
		double v = 0;
		st = value(c, i, &v);
		if (!st)
			st = format(fmt, v, &items[i].FmtValue);
		lstrcpyW(names, s->name[i]);
		items[i].szName = names;
		names += lstrlenW(s->name[i]) + 1;
	}
	if (!st) {
		*size = need;
		*count = (DWORD)s->n;
	}
	LeaveCriticalSection(&lock);
	return st;
}

DWORD WINAPI PdhRemoveCounter(HANDLE hc)
{
	EnterCriticalSection(&lock);
	counter *c = as_counter(hc);
	if (c) {
		for (counter **p = &c->q->counters; *p; p = &(*p)->next)
			if (*p == c) {
				*p = c->next;
				break;
			}
		c->magic = 0;
		free(c);
	}
	LeaveCriticalSection(&lock);
	return c ? 0 : PDH_INVALID_HANDLE;
}

DWORD WINAPI PdhCloseQuery(HANDLE hq)
{
	EnterCriticalSection(&lock);
	query *q = as_query(hq);
	if (q) {
		for (counter *c = q->counters, *n; c; c = n) {
			n = c->next;
			c->magic = 0;
			free(c);
		}
		q->magic = 0;
		free(q);
	}
	LeaveCriticalSection(&lock);
	return q ? 0 : PDH_INVALID_HANDLE;
}
