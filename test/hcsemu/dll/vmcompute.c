/* vmcompute.dll: the layer functions (wclayer) and HNSCall. Layer
 * operations are done by the emulator on directories. */
#include "hcsemu.h"

typedef struct {
	int32_t Flavour;
	PCWSTR HomeDir;
} DriverInfo;

typedef struct {
	GUID LayerId;
	uint32_t Flags;
	PCWSTR Path;
} WC_LAYER_DESCRIPTOR;

static void req_layer(emu_req *r, const char *fn, const DriverInfo *info, PCWSTR id) {
	req_init(r, fn);
	req_wstr(r, info ? info->HomeDir : NULL);
	req_wstr(r, id);
}

static void req_descs(emu_req *r, const WC_LAYER_DESCRIPTOR *d, UINT32 n) {
	req_u64(r, n);
	for (UINT32 i = 0; i < n; i++) req_wstr(r, d[i].Path);
}

static HRESULT simple(emu_req *r) {
	emu_reply rep;
	emu_call(r, &rep);
	HRESULT hr = rep.hr;
	reply_free(&rep);
	return hr;
}

#define LAYER_FN(name) \
	__declspec(dllexport) HRESULT WINAPI name(const DriverInfo *info, PCWSTR id) { \
		emu_req r; req_layer(&r, #name, info, id); return simple(&r); }

LAYER_FN(ActivateLayer)
LAYER_FN(DeactivateLayer)
LAYER_FN(DestroyLayer)
LAYER_FN(UnprepareLayer)

__declspec(dllexport) HRESULT WINAPI CreateLayer(const DriverInfo *info, PCWSTR id, PCWSTR parent) {
	emu_req r;
	req_layer(&r, "CreateLayer", info, id);
	req_wstr(&r, parent);
	return simple(&r);
}

__declspec(dllexport) HRESULT WINAPI CreateSandboxLayer(const DriverInfo *info, PCWSTR id, PCWSTR parent, const WC_LAYER_DESCRIPTOR *d, UINT32 n) {
	emu_req r;
	req_layer(&r, "CreateSandboxLayer", info, id);
	req_wstr(&r, parent);
	req_descs(&r, d, n);
	return simple(&r);
}

__declspec(dllexport) HRESULT WINAPI ExpandSandboxSize(const DriverInfo *info, PCWSTR id, UINT64 size) {
	emu_req r;
	req_layer(&r, "ExpandSandboxSize", info, id);
	req_u64(&r, size);
	return simple(&r);
}

__declspec(dllexport) HRESULT WINAPI PrepareLayer(const DriverInfo *info, PCWSTR id, const WC_LAYER_DESCRIPTOR *d, UINT32 n) {
	emu_req r;
	req_layer(&r, "PrepareLayer", info, id);
	req_descs(&r, d, n);
	return simple(&r);
}

#define PATH_LAYER_FN(name) \
	__declspec(dllexport) HRESULT WINAPI name(const DriverInfo *info, PCWSTR id, PCWSTR path, const WC_LAYER_DESCRIPTOR *d, UINT32 n) { \
		emu_req r; req_layer(&r, #name, info, id); req_wstr(&r, path); req_descs(&r, d, n); return simple(&r); }

PATH_LAYER_FN(ImportLayer)
PATH_LAYER_FN(ExportLayer)

__declspec(dllexport) HRESULT WINAPI GetLayerMountPath(const DriverInfo *info, PCWSTR id, UINT_PTR *length, WCHAR *buffer) {
	emu_req r;
	emu_reply rep;
	req_layer(&r, "GetLayerMountPath", info, id);
	emu_call(&r, &rep);
	HRESULT hr = rep.hr;
	if (SUCCEEDED(hr)) {
		const char *p = rf(&rep, 0);
		int n = MultiByteToWideChar(CP_UTF8, 0, p, -1, NULL, 0);
		if (buffer == NULL) *length = (UINT_PTR)n;
		else if (*length < (UINT_PTR)n) hr = HRESULT_FROM_WIN32(ERROR_INSUFFICIENT_BUFFER);
		else MultiByteToWideChar(CP_UTF8, 0, p, -1, buffer, n);
	}
	reply_free(&rep);
	return hr;
}

__declspec(dllexport) HRESULT WINAPI LayerExists(const DriverInfo *info, PCWSTR id, UINT32 *exists) {
	emu_req r;
	emu_reply rep;
	req_layer(&r, "LayerExists", info, id);
	emu_call(&r, &rep);
	if (exists) *exists = (UINT32)rf_u64(&rep, 0);
	HRESULT hr = rep.hr;
	reply_free(&rep);
	return hr;
}

__declspec(dllexport) HRESULT WINAPI NameToGuid(PCWSTR name, GUID *g) {
	emu_req r;
	emu_reply rep;
	req_init(&r, "NameToGuid");
	req_wstr(&r, name);
	emu_call(&r, &rep);
	HRESULT hr = rep.hr;
	if (SUCCEEDED(hr) && !parse_guid(rf(&rep, 0), g)) hr = E_FAIL;
	reply_free(&rep);
	return hr;
}

__declspec(dllexport) HRESULT WINAPI GetBaseImages(WCHAR **out) {
	emu_req r;
	emu_reply rep;
	req_init(&r, "GetBaseImages");
	emu_call(&r, &rep);
	rf_out(&rep, 0, out);
	HRESULT hr = rep.hr;
	reply_free(&rep);
	return hr;
}

#define PATH_FN(name) \
	__declspec(dllexport) HRESULT WINAPI name(PCWSTR path) { \
		emu_req r; req_init(&r, #name); req_wstr(&r, path); return simple(&r); }

PATH_FN(ProcessBaseImage)
PATH_FN(ProcessUtilityImage)

__declspec(dllexport) HRESULT WINAPI GrantVmAccess(PCWSTR vmid, PCWSTR path) {
	emu_req r;
	req_init(&r, "GrantVmAccess");
	req_wstr(&r, vmid);
	req_wstr(&r, path);
	return simple(&r);
}

__declspec(dllexport) HRESULT WINAPI HNSCall(PCWSTR method, PCWSTR path, PCWSTR object, WCHAR **response) {
	emu_req r;
	emu_reply rep;
	req_init(&r, "HNSCall");
	req_wstr(&r, method);
	req_wstr(&r, path);
	req_wstr(&r, object);
	emu_call(&r, &rep);
	rf_out(&rep, 0, response);
	HRESULT hr = rep.hr;
	reply_free(&rep);
	return hr;
}

/* computecore's callbacks live in computecore.c; vmcompute gets no events. */
void emu_dispatch_event(uint64_t handle, uint32_t type, const char *data) { (void)handle; (void)type; (void)data; }
