#include "hcsemu.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void req_grow(emu_req *r, size_t add) {
	if (r->len + add + 1 <= r->cap) return;
	size_t cap = r->cap ? r->cap : 256;
	while (cap < r->len + add + 1) cap *= 2;
	r->b = realloc(r->b, cap);
	r->cap = cap;
}

static void req_raw(emu_req *r, const char *s, size_t n) {
	req_grow(r, n + 1);
	if (r->len) r->b[r->len++] = 0x1f;
	memcpy(r->b + r->len, s, n);
	r->len += n;
	r->b[r->len] = 0;
}

void req_str(emu_req *r, const char *s) { req_raw(r, s ? s : "", s ? strlen(s) : 0); }

void req_init(emu_req *r, const char *fn) {
	char pid[32];
	r->b = NULL; r->len = r->cap = 0;
	req_str(r, fn);
	snprintf(pid, sizeof pid, "%lu", (unsigned long)GetCurrentProcessId());
	req_str(r, pid);
}

void req_wstr(emu_req *r, const WCHAR *w) {
	if (!w) { req_str(r, ""); return; }
	int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
	char *s = malloc(n > 0 ? n : 1);
	s[0] = 0;
	if (n > 0) WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
	req_str(r, s);
	free(s);
}

void req_u64(emu_req *r, uint64_t v) {
	char s[32];
	snprintf(s, sizeof s, "%llu", (unsigned long long)v);
	req_str(r, s);
}

void req_guid(emu_req *r, const GUID *g) {
	char s[40];
	if (!g) { req_str(r, ""); return; }
	snprintf(s, sizeof s, "%08lx-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		(unsigned long)g->Data1, g->Data2, g->Data3, g->Data4[0], g->Data4[1], g->Data4[2],
		g->Data4[3], g->Data4[4], g->Data4[5], g->Data4[6], g->Data4[7]);
	req_str(r, s);
}

int parse_guid(const char *s, GUID *g) {
	unsigned long d1; unsigned int d2, d3, b[8];
	if (sscanf(s, "%8lx-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x", &d1, &d2, &d3,
		&b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &b[6], &b[7]) != 11) return 0;
	g->Data1 = d1; g->Data2 = (unsigned short)d2; g->Data3 = (unsigned short)d3;
	for (int i = 0; i < 8; i++) g->Data4[i] = (unsigned char)b[i];
	return 1;
}

static INIT_ONCE wsa_once = INIT_ONCE_STATIC_INIT;
static BOOL CALLBACK wsa_init(PINIT_ONCE o, PVOID p, PVOID *c) {
	WSADATA d; (void)o; (void)p; (void)c;
	WSAStartup(MAKEWORD(2, 2), &d);
	return TRUE;
}

/* The emulator's address: HCSEMU_ADDR (host:port), else the first line of
 * %SystemRoot%\hcsemu.addr, which the test writes into its Wine prefix. */
static int emu_addr(struct sockaddr_in *sa) {
	char buf[128] = {0};
	DWORD n = GetEnvironmentVariableA("HCSEMU_ADDR", buf, sizeof buf);
	if (n == 0 || n >= sizeof buf) {
		char path[MAX_PATH];
		UINT m = GetWindowsDirectoryA(path, MAX_PATH - 16);
		if (m == 0) return 0;
		strcat(path, "\\hcsemu.addr");
		FILE *f = fopen(path, "r");
		if (!f) return 0;
		if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
		fclose(f);
	}
	char *colon = strrchr(buf, ':');
	if (!colon) return 0;
	*colon = 0;
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((unsigned short)atoi(colon + 1));
	sa->sin_addr.s_addr = inet_addr(buf);
	return 1;
}

static SOCKET emu_connect(void) {
	struct sockaddr_in sa;
	InitOnceExecuteOnce(&wsa_once, wsa_init, NULL, NULL);
	if (!emu_addr(&sa)) return INVALID_SOCKET;
	SOCKET s = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	if (s == INVALID_SOCKET) return s;
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) != 0) {
		closesocket(s);
		return INVALID_SOCKET;
	}
	return s;
}

static int send_all(SOCKET s, const char *p, size_t n) {
	while (n > 0) {
		int k = send(s, p, (int)(n > 65536 ? 65536 : n), 0);
		if (k <= 0) return 0;
		p += k; n -= (size_t)k;
	}
	return 1;
}

static int recv_all(SOCKET s, char *p, size_t n) {
	while (n > 0) {
		int k = recv(s, p, (int)(n > 65536 ? 65536 : n), 0);
		if (k <= 0) return 0;
		p += k; n -= (size_t)k;
	}
	return 1;
}

/* A frame is "<decimal length>\n<payload>". */
static int send_frame(SOCKET s, const char *p, size_t n) {
	char hdr[32];
	int h = snprintf(hdr, sizeof hdr, "%zu\n", n);
	return send_all(s, hdr, (size_t)h) && send_all(s, p, n);
}

static char *recv_frame(SOCKET s, size_t *len) {
	char hdr[32];
	size_t i = 0;
	for (;;) {
		if (i >= sizeof hdr - 1 || !recv_all(s, hdr + i, 1)) return NULL;
		if (hdr[i] == '\n') break;
		i++;
	}
	hdr[i] = 0;
	size_t n = (size_t)strtoull(hdr, NULL, 10);
	char *p = malloc(n + 1);
	if (!p) return NULL;
	if (n && !recv_all(s, p, n)) { free(p); return NULL; }
	p[n] = 0;
	*len = n;
	return p;
}

static void split(char *buf, emu_reply *out) {
	char *f[EMU_MAXF + 1];
	int n = 0;
	f[n++] = buf;
	for (char *p = buf; *p; p++) {
		if (*p == 0x1f && n < EMU_MAXF + 1) { *p = 0; f[n++] = p + 1; }
	}
	out->hr = (HRESULT)strtoll(f[0], NULL, 10);
	out->n = n - 1;
	for (int i = 1; i < n; i++) out->f[i - 1] = f[i];
}

void emu_call(emu_req *r, emu_reply *out) {
	memset(out, 0, sizeof *out);
	out->hr = E_EMU_TRANSPORT;
	SOCKET s = emu_connect();
	if (s != INVALID_SOCKET) {
		size_t n;
		if (send_frame(s, r->b, r->len) && (out->buf = recv_frame(s, &n)) != NULL) split(out->buf, out);
		closesocket(s);
	}
	free(r->b);
	r->b = NULL;
}

void reply_free(emu_reply *r) { free(r->buf); r->buf = NULL; }

const char *rf(const emu_reply *r, int i) { return i < r->n ? r->f[i] : ""; }
uint64_t rf_u64(const emu_reply *r, int i) { return strtoull(rf(r, i), NULL, 10); }

WCHAR *co_wstr(const char *s) {
	if (!s) return NULL;
	int n = MultiByteToWideChar(CP_UTF8, 0, s, -1, NULL, 0);
	WCHAR *w = CoTaskMemAlloc(sizeof(WCHAR) * (n > 0 ? n : 1));
	if (!w) return NULL;
	w[0] = 0;
	if (n > 0) MultiByteToWideChar(CP_UTF8, 0, s, -1, w, n);
	return w;
}

void rf_out(const emu_reply *r, int i, WCHAR **out) {
	if (!out) return;
	*out = NULL;
	if (i < r->n && r->f[i][0]) *out = co_wstr(r->f[i]);
}

/* Event stream: one connection per process, opened on the first
 * subscription; the emulator pushes "handle\x1ftype\x1fdata" frames. */
static SOCKET ev_sock = INVALID_SOCKET;
static CRITICAL_SECTION ev_lock;
static INIT_ONCE ev_once = INIT_ONCE_STATIC_INIT;

static DWORD WINAPI ev_thread(LPVOID p) {
	SOCKET s = (SOCKET)(uintptr_t)p;
	for (;;) {
		size_t n;
		char *buf = recv_frame(s, &n);
		if (!buf) return 0;
		char *f[3] = {buf, "", ""};
		int k = 1;
		for (char *q = buf; *q && k < 3; q++)
			if (*q == 0x1f) { *q = 0; f[k++] = q + 1; }
		emu_dispatch_event(strtoull(f[0], NULL, 10), (uint32_t)strtoul(f[1], NULL, 10), f[2]);
		free(buf);
	}
}

static BOOL CALLBACK ev_init(PINIT_ONCE o, PVOID p, PVOID *c) {
	(void)o; (void)p; (void)c;
	InitializeCriticalSection(&ev_lock);
	return TRUE;
}

void emu_subscribe(uint64_t handle, int on) {
	InitOnceExecuteOnce(&ev_once, ev_init, NULL, NULL);
	EnterCriticalSection(&ev_lock);
	if (ev_sock == INVALID_SOCKET) {
		SOCKET s = emu_connect();
		if (s != INVALID_SOCKET) {
			emu_req r;
			req_init(&r, "Events");
			if (send_frame(s, r.b, r.len)) {
				ev_sock = s;
				HANDLE t = CreateThread(NULL, 0, ev_thread, (LPVOID)(uintptr_t)s, 0, NULL);
				if (t) CloseHandle(t);
			} else {
				closesocket(s);
			}
			free(r.b);
		}
	}
	LeaveCriticalSection(&ev_lock);
	emu_req r;
	emu_reply rep;
	req_init(&r, "Subscribe");
	req_u64(&r, handle);
	req_u64(&r, (uint64_t)on);
	emu_call(&r, &rep);
	reply_free(&rep);
}
