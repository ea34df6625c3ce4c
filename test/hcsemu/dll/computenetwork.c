/* computenetwork.dll: HCN networks, endpoints, namespaces, load balancers
 * and SDN routes. Objects are kept by the emulator; handles are its ids. */
#include "hcsemu.h"

static HRESULT reply_out(emu_req *r, void **handle, WCHAR **props, WCHAR **result) {
	emu_reply rep;
	emu_call(r, &rep);
	int i = 0;
	if (handle) *handle = (void *)(uintptr_t)rf_u64(&rep, i++);
	if (props) rf_out(&rep, i++, props);
	rf_out(&rep, i, result);
	HRESULT hr = rep.hr;
	reply_free(&rep);
	return hr;
}

/* The same eight functions for each kind of object. */
#define HCN_KIND(Kind, Name) \
__declspec(dllexport) HRESULT WINAPI HcnEnumerate##Kind##s(PCWSTR query, WCHAR **list, WCHAR **result) { \
	emu_req r; req_init(&r, "HcnEnumerate"); req_str(&r, Name); req_wstr(&r, query); \
	return reply_out(&r, NULL, list, result); } \
__declspec(dllexport) HRESULT WINAPI HcnCreate##Kind(const GUID *id, PCWSTR settings, void **h, WCHAR **result) { \
	emu_req r; req_init(&r, "HcnCreate"); req_str(&r, Name); req_u64(&r, 0); req_guid(&r, id); req_wstr(&r, settings); \
	return reply_out(&r, h, NULL, result); } \
__declspec(dllexport) HRESULT WINAPI HcnOpen##Kind(const GUID *id, void **h, WCHAR **result) { \
	emu_req r; req_init(&r, "HcnOpen"); req_str(&r, Name); req_guid(&r, id); \
	return reply_out(&r, h, NULL, result); } \
__declspec(dllexport) HRESULT WINAPI HcnModify##Kind(void *h, PCWSTR settings, WCHAR **result) { \
	emu_req r; req_init(&r, "HcnModify"); req_str(&r, Name); req_u64(&r, (uintptr_t)h); req_wstr(&r, settings); \
	return reply_out(&r, NULL, NULL, result); } \
__declspec(dllexport) HRESULT WINAPI HcnQuery##Kind##Properties(void *h, PCWSTR query, WCHAR **props, WCHAR **result) { \
	emu_req r; req_init(&r, "HcnQuery"); req_str(&r, Name); req_u64(&r, (uintptr_t)h); req_wstr(&r, query); \
	return reply_out(&r, NULL, props, result); } \
__declspec(dllexport) HRESULT WINAPI HcnDelete##Kind(const GUID *id, WCHAR **result) { \
	emu_req r; req_init(&r, "HcnDelete"); req_str(&r, Name); req_guid(&r, id); \
	return reply_out(&r, NULL, NULL, result); } \
__declspec(dllexport) HRESULT WINAPI HcnClose##Kind(void *h) { \
	emu_req r; req_init(&r, "HcnClose"); req_str(&r, Name); req_u64(&r, (uintptr_t)h); \
	return reply_out(&r, NULL, NULL, NULL); }

HCN_KIND(Network, "network")
HCN_KIND(Namespace, "namespace")
HCN_KIND(LoadBalancer, "loadbalancer")
HCN_KIND(SdnRoute, "route")

/* An endpoint is created in a network. */
__declspec(dllexport) HRESULT WINAPI HcnEnumerateEndpoints(PCWSTR query, WCHAR **list, WCHAR **result) {
	emu_req r; req_init(&r, "HcnEnumerate"); req_str(&r, "endpoint"); req_wstr(&r, query);
	return reply_out(&r, NULL, list, result);
}
__declspec(dllexport) HRESULT WINAPI HcnCreateEndpoint(void *network, const GUID *id, PCWSTR settings, void **h, WCHAR **result) {
	emu_req r; req_init(&r, "HcnCreate"); req_str(&r, "endpoint"); req_u64(&r, (uintptr_t)network); req_guid(&r, id); req_wstr(&r, settings);
	return reply_out(&r, h, NULL, result);
}
__declspec(dllexport) HRESULT WINAPI HcnOpenEndpoint(const GUID *id, void **h, WCHAR **result) {
	emu_req r; req_init(&r, "HcnOpen"); req_str(&r, "endpoint"); req_guid(&r, id);
	return reply_out(&r, h, NULL, result);
}
__declspec(dllexport) HRESULT WINAPI HcnModifyEndpoint(void *h, PCWSTR settings, WCHAR **result) {
	emu_req r; req_init(&r, "HcnModify"); req_str(&r, "endpoint"); req_u64(&r, (uintptr_t)h); req_wstr(&r, settings);
	return reply_out(&r, NULL, NULL, result);
}
__declspec(dllexport) HRESULT WINAPI HcnQueryEndpointProperties(void *h, PCWSTR query, WCHAR **props, WCHAR **result) {
	emu_req r; req_init(&r, "HcnQuery"); req_str(&r, "endpoint"); req_u64(&r, (uintptr_t)h); req_wstr(&r, query);
	return reply_out(&r, NULL, props, result);
}
__declspec(dllexport) HRESULT WINAPI HcnDeleteEndpoint(const GUID *id, WCHAR **result) {
	emu_req r; req_init(&r, "HcnDelete"); req_str(&r, "endpoint"); req_guid(&r, id);
	return reply_out(&r, NULL, NULL, result);
}
__declspec(dllexport) HRESULT WINAPI HcnCloseEndpoint(void *h) {
	emu_req r; req_init(&r, "HcnClose"); req_str(&r, "endpoint"); req_u64(&r, (uintptr_t)h);
	return reply_out(&r, NULL, NULL, NULL);
}

void emu_dispatch_event(uint64_t handle, uint32_t type, const char *data) { (void)handle; (void)type; (void)data; }
