package hcsemu

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/Microsoft/hcsshim/hcn"
)

// HNSVersion is what GET /globals/version answers (Windows Server 2022's
// HNS is 13.x-15.x; hcsshim gates features on it).
var HNSVersion = map[string]int{"Major": 15, "Minor": 1}

const zeroGUID = "00000000-0000-0000-0000-000000000000"

func (s *Server) registerHCN() {
	s.fns["HcnEnumerate"] = s.hcnEnumerate
	s.fns["HcnCreate"] = s.hcnCreate
	s.fns["HcnOpen"] = s.hcnOpen
	s.fns["HcnModify"] = s.hcnModify
	s.fns["HcnQuery"] = s.hcnQuery
	s.fns["HcnDelete"] = s.hcnDelete
	s.fns["HcnClose"] = func(pid uint32, a []string) ([]string, *hcsError) { return s.closeHandle(pid, argN(a, 2)[1:]) }
	s.fns["HNSCall"] = s.hnsCall
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// hcnObject returns a copy-free view of an object (callers hold no lock
// after; only used for existence checks and reads).
func (s *Server) hcnObject(kind, id string) map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hcn[kind][strings.ToLower(id)]
}

// HCNObjects returns the objects of a kind ("network", "endpoint",
// "namespace", ...) as JSON documents, sorted by id.
func (s *Server) HCNObjects(kind string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id := range s.hcn[kind] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var out []map[string]any
	for _, id := range ids {
		b, _ := json.Marshal(s.hcn[kind][id])
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		out = append(out, m)
	}
	return out
}

// AddNetwork creates an HCN network, as a node's network setup (flannel,
// the operator) does before any pod exists.
func (s *Server) AddNetwork(doc string) (string, error) {
	_, err := s.hcnCreate(0, []string{"network", "0", zeroGUID, doc})
	if err != nil {
		return "", err
	}
	objs := s.HCNObjects("network")
	for _, o := range objs {
		var d map[string]any
		_ = json.Unmarshal([]byte(doc), &d)
		if o["Name"] == d["Name"] {
			return o["ID"].(string), nil
		}
	}
	return "", fmt.Errorf("network not stored")
}

type hcnQuery struct {
	SchemaVersion struct{ Major, Minor int }
	Flags         int
	Filter        string
}

func (s *Server) hcnEnumerate(_ uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 2)
	kind := a[0]
	filter := map[string]any{}
	if a[1] != "" {
		var q hcnQuery
		if err := json.Unmarshal([]byte(a[1]), &q); err != nil {
			return nil, fail(hrInvalidJSON, "query: %v", err)
		}
		if q.Filter != "" {
			if err := json.Unmarshal([]byte(q.Filter), &filter); err != nil {
				return nil, fail(hrInvalidJSON, "query filter: %v", err)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := []string{}
	for _, o := range s.hcn[kind] {
		if matches(o, filter) {
			ids = append(ids, o["ID"].(string))
		}
	}
	sort.Strings(ids)
	b, _ := json.Marshal(ids)
	return []string{string(b), ""}, nil
}

// matches compares each filter key with the object's field of that name
// (keys and string values without regard to case, as HNS does).
func matches(o map[string]any, filter map[string]any) bool {
	for k, want := range filter {
		// A v1 field name HNS still takes in queries (hcsshim's
		// ListEndpointsOfNetwork filters on it): an endpoint's network.
		if strings.EqualFold(k, "VirtualNetwork") {
			if _, ok := o["VirtualNetwork"]; !ok {
				k = "HostComputeNetwork"
			}
		}
		var got any
		found := false
		for ok, ov := range o {
			if strings.EqualFold(ok, k) {
				got, found = ov, true
				break
			}
		}
		if !found || !strings.EqualFold(fmt.Sprint(got), fmt.Sprint(want)) {
			return false
		}
	}
	return true
}

func (s *Server) hcnCreate(pid uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 4)
	kind, parent, id, settings := a[0], parseHandle(a[1]), strings.ToLower(a[2]), a[3]
	var o map[string]any
	if err := json.Unmarshal([]byte(settings), &o); err != nil || o == nil {
		return nil, fail(hrInvalidJSON, "%s settings are not a JSON object", kind)
	}
	// HNS takes an absent or zero SchemaVersion as its default (containerd
	// creates namespaces that way); a v1 document is not for HcnCreate*.
	if sv, ok := o["SchemaVersion"].(map[string]any); ok {
		if m := fmt.Sprint(sv["Major"]); m != "0" && m != "2" {
			return nil, fail(hrInvalidArg, "%s settings have SchemaVersion %s.x, HCN takes 2.x", kind, m)
		}
	}
	if id == "" || id == zeroGUID {
		id = newGUID()
	}
	o["ID"] = id
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hcn[kind] == nil {
		s.hcn[kind] = map[string]map[string]any{}
	}
	if s.hcn[kind][id] != nil {
		return nil, fail(hrAlreadyExists, "%s %s already exists", kind, id)
	}
	switch kind {
	case "network":
		if name, _ := o["Name"].(string); name == "" {
			return nil, fail(hrInvalidArg, "a network needs a Name")
		}
		for _, n := range s.hcn[kind] {
			if strings.EqualFold(fmt.Sprint(n["Name"]), fmt.Sprint(o["Name"])) {
				return nil, fail(hrAlreadyExists, "network %v already exists", o["Name"])
			}
		}
	case "endpoint":
		h := s.handles[parent]
		if h != nil && h.owner != pid {
			h = nil // another process's handle
		}
		if h == nil || h.hcnKind != "network" || s.hcn["network"][h.hcnID] == nil {
			return nil, fail(hrElementNotFound, "an endpoint is created in an open network")
		}
		if herr := s.checkEndpoint(h.hcnID, settings); herr != nil {
			return nil, herr
		}
		o["HostComputeNetwork"] = h.hcnID
		if ns, _ := o["HostComputeNamespace"].(string); ns != "" && s.hcn["namespace"][strings.ToLower(ns)] == nil {
			return nil, fail(hrElementNotFound, "namespace %s does not exist", ns)
		}
	case "loadbalancer":
		if herr := s.checkLoadBalancer(settings); herr != nil {
			return nil, herr
		}
	case "namespace":
		if _, ok := o["Resources"]; !ok {
			o["Resources"] = []any{}
		}
		if _, ok := o["Type"]; !ok {
			o["Type"] = "HostDefault"
		}
	}
	s.hcn[kind][id] = o
	if kind == "endpoint" {
		if herr := s.syncEndpoint(id, o); herr != nil {
			delete(s.hcn[kind], id)
			_ = s.syncEndpoint(id, nil)
			return nil, herr
		}
	}
	return []string{strconv.FormatUint(s.newHandle(pid, &handle{hcnKind: kind, hcnID: id}), 10), ""}, nil
}

func (s *Server) hcnOpen(pid uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 2)
	kind, id := a[0], strings.ToLower(a[1])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hcn[kind][id] == nil {
		return nil, fail(hrElementNotFound, "%s %s not found", kind, id)
	}
	return []string{strconv.FormatUint(s.newHandle(pid, &handle{hcnKind: kind, hcnID: id}), 10), ""}, nil
}

func (s *Server) hcnHandle(pid uint32, kind, arg string) (map[string]any, *hcsError) {
	h := s.handleOf(pid, arg)
	if h == nil || h.hcnKind != kind {
		return nil, fail(hrInvalidHandle, "not a %s handle: %s", kind, arg)
	}
	o := s.hcn[kind][h.hcnID]
	if o == nil {
		return nil, fail(hrElementNotFound, "%s %s was deleted", kind, h.hcnID)
	}
	return o, nil
}

func (s *Server) hcnQuery(pid uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 3)
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.hcnHandle(pid, a[0], a[1])
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(o)
	return []string{string(b), ""}, nil
}

type modifyRequest struct {
	ResourceType string
	RequestType  string
	Settings     json.RawMessage
}

func (s *Server) hcnModify(pid uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 3)
	kind := a[0]
	var req modifyRequest
	if err := json.Unmarshal([]byte(a[2]), &req); err != nil {
		return nil, fail(hrInvalidJSON, "modify %s: %v", kind, err)
	}
	switch req.RequestType {
	case "Add", "Remove", "Update", "Refresh":
	default:
		return nil, fail(hrInvalidArg, "unknown RequestType %q", req.RequestType)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.hcnHandle(pid, kind, a[1])
	if err != nil {
		return nil, err
	}
	if kind == "namespace" {
		if err := s.modifyNamespace(o, req); err != nil {
			return nil, err
		}
		return []string{""}, nil
	}
	if req.ResourceType != "Policy" {
		return nil, fail(hrInvalidArg, "%s takes Policy requests, not %q", kind, req.ResourceType)
	}
	var pr struct{ Policies []json.RawMessage }
	if err := strictJSON(string(req.Settings), &pr); err != nil {
		return nil, fail(hrInvalidJSON, "policies: %v", err)
	}
	policies, _ := o["Policies"].([]any)
	for _, raw := range pr.Policies {
		if kind == "endpoint" {
			var p hcn.EndpointPolicy
			if err := strictJSON(string(raw), &p); err != nil {
				return nil, fail(hrInvalidJSON, "endpoint policy: %v", err)
			}
			if err := checkEndpointPolicy(p); err != nil {
				return nil, err
			}
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fail(hrInvalidJSON, "policy: %v", err)
		}
		switch req.RequestType {
		case "Add", "Update":
			policies = append(policies, v)
		case "Remove": // the same policy must be there
			i := 0
			for i < len(policies) && !reflect.DeepEqual(policies[i], v) {
				i++
			}
			if i == len(policies) {
				return nil, fail(hrElementNotFound, "policy %s is not on %s %v", raw, kind, o["ID"])
			}
			policies = append(policies[:i:i], policies[i+1:]...)
		}
	}
	old := o["Policies"]
	o["Policies"] = policies
	if kind == "endpoint" {
		if herr := s.syncEndpoint(fmt.Sprint(o["ID"]), o); herr != nil {
			o["Policies"] = old
			_ = s.syncEndpoint(fmt.Sprint(o["ID"]), o)
			return nil, herr
		}
	}
	return []string{""}, nil
}

// modifyNamespace adds or removes an endpoint (or a container) of a
// namespace; the endpoint must exist.
func (s *Server) modifyNamespace(ns map[string]any, req modifyRequest) *hcsError {
	var set struct{ EndpointId, ContainerId string }
	if err := json.Unmarshal(req.Settings, &set); err != nil {
		return fail(hrInvalidJSON, "namespace settings: %v", err)
	}
	res, _ := ns["Resources"].([]any)
	var key, val string
	switch req.ResourceType {
	case "Endpoint":
		key, val = "Id", strings.ToLower(set.EndpointId)
		ep := s.hcn["endpoint"][val]
		if ep == nil {
			return fail(hrElementNotFound, "endpoint %s not found", set.EndpointId)
		}
		if req.RequestType == "Add" {
			ep["HostComputeNamespace"] = ns["ID"]
		} else {
			delete(ep, "HostComputeNamespace")
		}
	case "Container":
		key, val = "Id", set.ContainerId
	default:
		return fail(hrInvalidArg, "unknown namespace resource type %q", req.ResourceType)
	}
	kept := []any{}
	for _, r := range res {
		m, _ := r.(map[string]any)
		data, _ := m["Data"].(map[string]any)
		if m["Type"] == req.ResourceType && strings.EqualFold(fmt.Sprint(data[key]), val) {
			if req.RequestType == "Add" {
				return fail(hrAlreadyExists, "%s %s is already in namespace %v", req.ResourceType, val, ns["ID"])
			}
			continue
		}
		kept = append(kept, r)
	}
	if req.RequestType == "Add" {
		kept = append(kept, map[string]any{"Type": req.ResourceType, "Data": map[string]any{key: val}})
	} else if len(kept) == len(res) {
		return fail(hrElementNotFound, "%s %s is not in namespace %v", req.ResourceType, val, ns["ID"])
	}
	ns["Resources"] = kept
	return nil
}

func (s *Server) hcnDelete(_ uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 2)
	kind, id := a[0], strings.ToLower(a[1])
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.hcn[kind][id]
	if o == nil {
		return nil, fail(hrElementNotFound, "%s %s not found", kind, id)
	}
	switch kind {
	case "network":
		for _, ep := range s.hcn["endpoint"] {
			if strings.EqualFold(fmt.Sprint(ep["HostComputeNetwork"]), id) {
				return nil, fail(hrInvalidState, "network %s still has endpoint %v", id, ep["ID"])
			}
		}
	case "endpoint":
		for _, ns := range s.hcn["namespace"] {
			_ = s.modifyNamespace(ns, modifyRequest{ResourceType: "Endpoint", RequestType: "Remove",
				Settings: json.RawMessage(fmt.Sprintf(`{"EndpointId":%q}`, id))})
		}
		if herr := s.syncEndpoint(id, nil); herr != nil {
			return nil, herr
		}
	}
	delete(s.hcn[kind], id)
	return []string{""}, nil
}

// hnsCall answers the HNS v1 calls hcsshim and the kubelet still make: the
// HNS version, the endpoint list and endpoint statistics (the counters of
// what reached the endpoint's address on the host, dataplane_windows.go).
func (s *Server) hnsCall(_ uint32, a []string) ([]string, *hcsError) {
	a = argN(a, 3)
	method, path := strings.ToUpper(a[0]), strings.ToLower(a[1])
	var out any
	switch {
	case method == "GET" && path == "/globals/version":
		out = HNSVersion
	case method == "GET" && (path == "/endpoints/" || path == "/endpoints"):
		out = s.v1Endpoints()
	case method == "GET" && (path == "/policylists/" || path == "/policylists"):
		out = s.v1PolicyLists()
	case method == "GET" && strings.HasPrefix(path, "/endpointstats/"):
		id := strings.TrimPrefix(path, "/endpointstats/")
		if s.hcnObject("endpoint", id) == nil {
			return nil, fail(hrElementNotFound, "endpoint %s not found", id)
		}
		rx, tx, rxp, txp, err := s.endpointCounters(id)
		if err != nil {
			return nil, fail(hrFail, "endpoint %s counters: %v", id, err)
		}
		out = map[string]any{"EndpointID": id, "BytesReceived": rx, "BytesSent": tx,
			"DroppedPacketsIncoming": 0, "DroppedPacketsOutgoing": 0, "PacketsReceived": rxp, "PacketsSent": txp}
	default:
		return nil, fail(hrNotImpl, "HNS v1 %s %s is not emulated", method, path)
	}
	b, _ := json.Marshal(map[string]any{"Success": true, "Output": out})
	return []string{string(b)}, nil
}
