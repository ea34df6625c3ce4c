/* Client side of the HCS/HCN emulator: every export of the emulated
 * computecore.dll, vmcompute.dll and computenetwork.dll forwards its
 * arguments to the emulator (package hcsemu, a Go server on 127.0.0.1)
 * and turns its reply back into what the real DLL returns. The emulator
 * holds all state, so several processes (wincri, the shim, shim delete,
 * the CNI plugins) see one HCS and one HCN, as on a real host. */
#ifndef HCSEMU_H
#define HCSEMU_H
#include <winsock2.h>
#include <windows.h>
#include <objbase.h>
#include <stdint.h>

#define EMU_MAXF 16

/* One reply: hr, then up to EMU_MAXF-1 string fields. */
typedef struct {
	HRESULT hr;
	int n;               /* fields after hr */
	char *f[EMU_MAXF];   /* point into buf */
	char *buf;
} emu_reply;

/* Request builder: fields separated by 0x1f. */
typedef struct {
	char *b;
	size_t len, cap;
} emu_req;

void req_init(emu_req *r, const char *fn);
void req_str(emu_req *r, const char *s);
void req_wstr(emu_req *r, const WCHAR *w);
void req_u64(emu_req *r, uint64_t v);
void req_guid(emu_req *r, const GUID *g);
/* Sends the request (and frees it); on transport failure hr is
 * HCS_E_CONNECTION_FAILED-like and n is 0. */
void emu_call(emu_req *r, emu_reply *out);
void reply_free(emu_reply *r);

/* Reply field i (0-based after hr) or "" */
const char *rf(const emu_reply *r, int i);
uint64_t rf_u64(const emu_reply *r, int i);
/* CoTaskMemAlloc'd UTF-16 copy of a UTF-8 string (NULL for NULL). */
WCHAR *co_wstr(const char *s);
/* Store field i as a CoTaskMem string in *out if out is not NULL. */
void rf_out(const emu_reply *r, int i, WCHAR **out);
int parse_guid(const char *s, GUID *g);

/* Events pushed by the emulator to this process: key is the handle id. */
typedef void (CALLBACK *emu_event_cb)(uint64_t handle, uint32_t type, const WCHAR *data, void *slot);
void emu_subscribe(uint64_t handle, int on);
/* Called by the event thread for each event; set by computecore.c. */
void emu_dispatch_event(uint64_t handle, uint32_t type, const char *data);

#define E_EMU_TRANSPORT ((HRESULT)0x80370106) /* HCS_E_SERVICE_NOT_AVAILABLE */
#endif
