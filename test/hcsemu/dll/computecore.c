/* computecore.dll: the HCS v2 API (operations, compute systems, processes,
 * per-handle event callbacks). The emulator takes each request during the
 * call, as HCS accepts it, and most operations complete then; a shutdown
 * completes when the system has stopped (a worker thread waits for it), so
 * HcsWaitForOperationResult can time out (HCS_E_OPERATION_TIMEOUT) and
 * HcsCancelOperation can end an operation still in flight. An operation
 * closed while in flight is freed when it completes. */
#include "hcsemu.h"
#include <stdlib.h>
#include <string.h>

typedef struct {
	DWORD ProcessId;
	DWORD Reserved;
	HANDLE StdInput, StdOutput, StdError;
} HCS_PROCESS_INFORMATION;

typedef struct {
	uint32_t Type;
	PCWSTR EventData;
	void *Operation;
} HCS_EVENT;

typedef void (CALLBACK *HCS_EVENT_CALLBACK)(HCS_EVENT *event, void *context);
typedef void (CALLBACK *HCS_OPERATION_COMPLETION)(void *operation, void *context);

typedef struct {
	HRESULT hr;
	char *result;
	int done;
	HCS_PROCESS_INFORMATION info;
	void *context;
	HCS_OPERATION_COMPLETION callback;
	HANDLE evt;          /* set when done */
	LONG refs;           /* the caller's, and a worker's while in flight */
	CRITICAL_SECTION cs;
} emu_op;

/* E_ABORT for a cancelled operation: the code HCS gives is not known here
 * (docs/windows.md). */
#define EMU_OP_CANCELLED ((HRESULT)0x80004004)
#define HCS_E_OPERATION_TIMEOUT ((HRESULT)0x80370118)

/* Completes the operation once (a cancelled one keeps its result). */
static void op_complete(emu_op *op, HRESULT hr, const char *result) {
	if (!op) return;
	EnterCriticalSection(&op->cs);
	if (op->done) {
		LeaveCriticalSection(&op->cs);
		return;
	}
	op->hr = hr;
	free(op->result);
	op->result = result && result[0] ? strdup(result) : NULL;
	op->done = 1;
	SetEvent(op->evt);
	LeaveCriticalSection(&op->cs);
	if (op->callback) op->callback(op, op->context);
}

static void op_set(emu_op *op, const emu_reply *rep, int resultField) {
	op_complete(op, rep->hr, rf(rep, resultField));
}

static void op_release(emu_op *op) {
	if (InterlockedDecrement(&op->refs) != 0) return;
	CloseHandle(op->evt);
	DeleteCriticalSection(&op->cs);
	free(op->result);
	free(op);
}

__declspec(dllexport) void *WINAPI HcsCreateOperation(void *context, HCS_OPERATION_COMPLETION callback) {
	emu_op *op = calloc(1, sizeof *op);
	if (!op) return NULL;
	op->evt = CreateEventW(NULL, TRUE, FALSE, NULL);
	if (!op->evt) {
		free(op);
		return NULL;
	}
	InitializeCriticalSection(&op->cs);
	op->refs = 1;
	op->context = context;
	op->callback = callback;
	return op;
}

__declspec(dllexport) void WINAPI HcsCloseOperation(emu_op *op) {
	if (op) op_release(op);
}

__declspec(dllexport) void *WINAPI HcsGetOperationContext(emu_op *op) { return op ? op->context : NULL; }

__declspec(dllexport) HRESULT WINAPI HcsSetOperationContext(emu_op *op, void *context) {
	if (!op) return E_INVALIDARG;
	op->context = context;
	return S_OK;
}

__declspec(dllexport) HRESULT WINAPI HcsSetOperationCallback(emu_op *op, void *context, HCS_OPERATION_COMPLETION cb) {
	if (!op) return E_INVALIDARG;
	op->context = context;
	op->callback = cb;
	return S_OK;
}

static HRESULT op_result(emu_op *op, HCS_PROCESS_INFORMATION *info, WCHAR **doc) {
	if (doc) *doc = NULL;
	if (!op) return E_INVALIDARG;
	EnterCriticalSection(&op->cs);
	HRESULT hr = op->hr;
	if (!op->done) hr = (HRESULT)0x80370119; /* HCS_E_OPERATION_PENDING */
	else {
		if (doc && op->result) *doc = co_wstr(op->result);
		if (info) *info = op->info;
	}
	LeaveCriticalSection(&op->cs);
	return hr;
}

static HRESULT op_wait(emu_op *op, DWORD timeoutMs, HCS_PROCESS_INFORMATION *info, WCHAR **doc) {
	if (doc) *doc = NULL;
	if (!op) return E_INVALIDARG;
	if (WaitForSingleObject(op->evt, timeoutMs) != WAIT_OBJECT_0) return HCS_E_OPERATION_TIMEOUT;
	return op_result(op, info, doc);
}

__declspec(dllexport) HRESULT WINAPI HcsGetOperationResult(emu_op *op, WCHAR **doc) { return op_result(op, NULL, doc); }
__declspec(dllexport) HRESULT WINAPI HcsGetOperationResultAndProcessInfo(emu_op *op, HCS_PROCESS_INFORMATION *info, WCHAR **doc) {
	return op_result(op, info, doc);
}
__declspec(dllexport) HRESULT WINAPI HcsWaitForOperationResult(emu_op *op, DWORD timeoutMs, WCHAR **doc) {
	return op_wait(op, timeoutMs, NULL, doc);
}
__declspec(dllexport) HRESULT WINAPI HcsWaitForOperationResultAndProcessInfo(emu_op *op, DWORD timeoutMs, HCS_PROCESS_INFORMATION *info, WCHAR **doc) {
	return op_wait(op, timeoutMs, info, doc);
}

/* Ends an operation still in flight (EMU_OP_CANCELLED); the request
 * itself goes on, as HCS discards the result of an abandoned one. Cancelling
 * a completed operation is refused (what HCS answers is not known here). */
__declspec(dllexport) HRESULT WINAPI HcsCancelOperation(emu_op *op) {
	if (!op) return E_INVALIDARG;
	EnterCriticalSection(&op->cs);
	int done = op->done;
	LeaveCriticalSection(&op->cs);
	if (done) return HRESULT_FROM_WIN32(ERROR_INVALID_STATE);
	op_complete(op, EMU_OP_CANCELLED, NULL);
	return S_OK;
}

/* A call whose reply is "hr, result document". */
static HRESULT op_call(emu_req *r, emu_op *op) {
	emu_reply rep;
	emu_call(r, &rep);
	op_set(op, &rep, 0);
	HRESULT hr = rep.hr;
	reply_free(&rep);
	return hr;
}

#define HANDLE_ID(h) ((uint64_t)(uintptr_t)(h))

__declspec(dllexport) HRESULT WINAPI HcsEnumerateComputeSystems(PCWSTR query, emu_op *op) {
	emu_req r;
	req_init(&r, "HcsEnumerateComputeSystems");
	req_wstr(&r, query);
	return op_call(&r, op);
}

/* Reply: hr, handle id, result document. */
static HRESULT open_call(emu_req *r, emu_op *op, void **out) {
	emu_reply rep;
	emu_call(r, &rep);
	if (out) *out = (void *)(uintptr_t)rf_u64(&rep, 0);
	op_set(op, &rep, 1);
	HRESULT hr = rep.hr;
	reply_free(&rep);
	return hr;
}

__declspec(dllexport) HRESULT WINAPI HcsCreateComputeSystem(PCWSTR id, PCWSTR config, emu_op *op, const void *sd, void **system) {
	(void)sd;
	emu_req r;
	req_init(&r, "HcsCreateComputeSystem");
	req_wstr(&r, id);
	req_wstr(&r, config);
	return open_call(&r, op, system);
}

__declspec(dllexport) HRESULT WINAPI HcsOpenComputeSystem(PCWSTR id, DWORD access, void **system) {
	emu_req r;
	req_init(&r, "HcsOpenComputeSystem");
	req_wstr(&r, id);
	req_u64(&r, access);
	return open_call(&r, NULL, system);
}

static void close_call(const char *fn, void *h) {
	emu_req r;
	emu_reply rep;
	req_init(&r, fn);
	req_u64(&r, HANDLE_ID(h));
	emu_call(&r, &rep);
	reply_free(&rep);
}

__declspec(dllexport) void WINAPI HcsCloseComputeSystem(void *system) { close_call("HcsCloseComputeSystem", system); }

static HRESULT sys_call(const char *fn, void *h, emu_op *op, PCWSTR doc) {
	emu_req r;
	req_init(&r, fn);
	req_u64(&r, HANDLE_ID(h));
	req_wstr(&r, doc);
	return op_call(&r, op);
}

__declspec(dllexport) HRESULT WINAPI HcsStartComputeSystem(void *s, emu_op *op, PCWSTR o) { return sys_call("HcsStartComputeSystem", s, op, o); }
/* A shutdown is accepted during the call (reply: hr, result, the system's
 * id); its operation completes when the emulator says the system stopped. */
typedef struct {
	emu_op *op;
	char *id;
} stop_wait;

static DWORD WINAPI wait_stopped(void *arg) {
	stop_wait *w = arg;
	emu_req r;
	emu_reply rep;
	req_init(&r, "HcsemuWaitStopped");
	req_str(&r, w->id);
	emu_call(&r, &rep);
	op_set(w->op, &rep, 0);
	reply_free(&rep);
	op_release(w->op);
	free(w->id);
	free(w);
	return 0;
}

__declspec(dllexport) HRESULT WINAPI HcsShutDownComputeSystem(void *s, emu_op *op, PCWSTR o) {
	emu_req r;
	emu_reply rep;
	req_init(&r, "HcsShutDownComputeSystem");
	req_u64(&r, HANDLE_ID(s));
	req_wstr(&r, o);
	emu_call(&r, &rep);
	HRESULT hr = rep.hr;
	stop_wait *w = NULL;
	if (op && SUCCEEDED(hr) && rf(&rep, 1)[0] && (w = calloc(1, sizeof *w)) && (w->id = strdup(rf(&rep, 1)))) {
		w->op = op;
		InterlockedIncrement(&op->refs);
		HANDLE t = CreateThread(NULL, 0, wait_stopped, w, 0, NULL);
		if (t) CloseHandle(t);
		else { /* cannot wait: complete now */
			op_release(op);
			free(w->id);
			free(w);
			op_set(op, &rep, 0);
		}
	} else {
		if (w) free(w);
		op_set(op, &rep, 0);
	}
	reply_free(&rep);
	return hr;
}
__declspec(dllexport) HRESULT WINAPI HcsTerminateComputeSystem(void *s, emu_op *op, PCWSTR o) { return sys_call("HcsTerminateComputeSystem", s, op, o); }
__declspec(dllexport) HRESULT WINAPI HcsCrashComputeSystem(void *s, emu_op *op, PCWSTR o) { return sys_call("HcsTerminateComputeSystem", s, op, o); }
__declspec(dllexport) HRESULT WINAPI HcsPauseComputeSystem(void *s, emu_op *op, PCWSTR o) { return sys_call("HcsPauseComputeSystem", s, op, o); }
__declspec(dllexport) HRESULT WINAPI HcsResumeComputeSystem(void *s, emu_op *op, PCWSTR o) { return sys_call("HcsResumeComputeSystem", s, op, o); }
__declspec(dllexport) HRESULT WINAPI HcsSaveComputeSystem(void *s, emu_op *op, PCWSTR o) { return sys_call("HcsSaveComputeSystem", s, op, o); }
__declspec(dllexport) HRESULT WINAPI HcsGetComputeSystemProperties(void *s, emu_op *op, PCWSTR q) { return sys_call("HcsGetComputeSystemProperties", s, op, q); }
__declspec(dllexport) HRESULT WINAPI HcsModifyComputeSystem(void *s, emu_op *op, PCWSTR c, HANDLE identity) {
	(void)identity;
	return sys_call("HcsModifyComputeSystem", s, op, c);
}

/* Callbacks are per handle, as in HCS: two handles to one compute system
 * each get SystemExited. */
typedef struct {
	uint64_t handle;
	HCS_EVENT_CALLBACK cb;
	void *context;
} cb_slot;

#define NSLOTS 4096
static cb_slot slots[NSLOTS];
static SRWLOCK slots_lock = SRWLOCK_INIT;

static HRESULT set_callback(uint64_t h, void *context, HCS_EVENT_CALLBACK cb) {
	if (!h) return E_HANDLE;
	AcquireSRWLockExclusive(&slots_lock);
	int free_i = -1, found = -1;
	for (int i = 0; i < NSLOTS; i++) {
		if (slots[i].handle == h) { found = i; break; }
		if (!slots[i].handle && free_i < 0) free_i = i;
	}
	int i = found >= 0 ? found : free_i;
	if (i < 0) { ReleaseSRWLockExclusive(&slots_lock); return E_OUTOFMEMORY; }
	if (cb) { slots[i].handle = h; slots[i].cb = cb; slots[i].context = context; }
	else memset(&slots[i], 0, sizeof slots[i]);
	ReleaseSRWLockExclusive(&slots_lock);
	emu_subscribe(h, cb != NULL);
	return S_OK;
}

void emu_dispatch_event(uint64_t handle, uint32_t type, const char *data) {
	HCS_EVENT_CALLBACK cb = NULL;
	void *context = NULL;
	AcquireSRWLockShared(&slots_lock);
	for (int i = 0; i < NSLOTS; i++) {
		if (slots[i].handle == handle) { cb = slots[i].cb; context = slots[i].context; break; }
	}
	ReleaseSRWLockShared(&slots_lock);
	if (!cb) return;
	HCS_EVENT ev = {type, co_wstr(data), NULL};
	cb(&ev, context);
	CoTaskMemFree((void *)ev.EventData);
}

__declspec(dllexport) HRESULT WINAPI HcsSetComputeSystemCallback(void *s, DWORD options, void *context, HCS_EVENT_CALLBACK cb) {
	(void)options;
	return set_callback(HANDLE_ID(s), context, cb);
}

__declspec(dllexport) HRESULT WINAPI HcsSetProcessCallback(void *p, DWORD options, void *context, HCS_EVENT_CALLBACK cb) {
	(void)options;
	return set_callback(HANDLE_ID(p), context, cb);
}

/* Reply: hr, process handle id, pid, stdin, stdout, stderr (handle values
 * already duplicated into this process), result document. */
static void set_info(emu_op *op, const emu_reply *rep, int first) {
	if (!op) return;
	op->info.ProcessId = (DWORD)rf_u64(rep, first);
	op->info.StdInput = (HANDLE)(uintptr_t)rf_u64(rep, first + 1);
	op->info.StdOutput = (HANDLE)(uintptr_t)rf_u64(rep, first + 2);
	op->info.StdError = (HANDLE)(uintptr_t)rf_u64(rep, first + 3);
}

__declspec(dllexport) HRESULT WINAPI HcsCreateProcess(void *s, PCWSTR params, emu_op *op, const void *sd, void **process) {
	(void)sd;
	emu_req r;
	emu_reply rep;
	req_init(&r, "HcsCreateProcess");
	req_u64(&r, HANDLE_ID(s));
	req_wstr(&r, params);
	emu_call(&r, &rep);
	if (process) *process = (void *)(uintptr_t)rf_u64(&rep, 0);
	set_info(op, &rep, 1);
	op_set(op, &rep, 5);
	HRESULT hr = rep.hr;
	reply_free(&rep);
	return hr;
}

__declspec(dllexport) HRESULT WINAPI HcsOpenProcess(void *s, DWORD pid, DWORD access, void **process) {
	(void)access;
	emu_req r;
	req_init(&r, "HcsOpenProcess");
	req_u64(&r, HANDLE_ID(s));
	req_u64(&r, pid);
	return open_call(&r, NULL, process);
}

__declspec(dllexport) void WINAPI HcsCloseProcess(void *p) { close_call("HcsCloseProcess", p); }

__declspec(dllexport) HRESULT WINAPI HcsTerminateProcess(void *p, emu_op *op, PCWSTR o) { return sys_call("HcsTerminateProcess", p, op, o); }
__declspec(dllexport) HRESULT WINAPI HcsSignalProcess(void *p, emu_op *op, PCWSTR o) { return sys_call("HcsSignalProcess", p, op, o); }
__declspec(dllexport) HRESULT WINAPI HcsGetProcessProperties(void *p, emu_op *op, PCWSTR q) { return sys_call("HcsGetProcessProperties", p, op, q); }
__declspec(dllexport) HRESULT WINAPI HcsModifyProcess(void *p, emu_op *op, PCWSTR s) { return sys_call("HcsModifyProcess", p, op, s); }

__declspec(dllexport) HRESULT WINAPI HcsGetProcessInfo(void *p, emu_op *op) {
	emu_req r;
	emu_reply rep;
	req_init(&r, "HcsGetProcessInfo");
	req_u64(&r, HANDLE_ID(p));
	emu_call(&r, &rep);
	set_info(op, &rep, 0);
	op_set(op, &rep, 4);
	HRESULT hr = rep.hr;
	reply_free(&rep);
	return hr;
}

__declspec(dllexport) HRESULT WINAPI HcsGetServiceProperties(PCWSTR query, WCHAR **result) {
	emu_req r;
	emu_reply rep;
	req_init(&r, "HcsGetServiceProperties");
	req_wstr(&r, query);
	emu_call(&r, &rep);
	rf_out(&rep, 0, result);
	HRESULT hr = rep.hr;
	reply_free(&rep);
	return hr;
}

__declspec(dllexport) HRESULT WINAPI HcsAddResourceToOperation(emu_op *op, DWORD type, PCWSTR uri, HANDLE h) {
	(void)op; (void)type; (void)uri; (void)h;
	return E_NOTIMPL;
}
