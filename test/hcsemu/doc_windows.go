package hcsemu

import (
	"encoding/json"
	"strings"
)

// systemDoc is HCS's ComputeSystem document (hcsshim's schema2, whose
// package is internal to hcsshim: the same JSON names, decoded strictly, so
// a field HCS does not know is refused).
type systemDoc struct {
	Owner                             string
	SchemaVersion                     *struct{ Major, Minor int }
	HostingSystemId                   string
	HostedSystem                      json.RawMessage
	Container                         *containerDoc
	VirtualMachine                    json.RawMessage // refused: no utility VM runs here
	ShouldTerminateOnLastHandleClosed bool
}

// containerDoc is schema2's Container. The fields the emulator cannot give
// a process-isolated container (HvSocket, ContainerCredentialGuard,
// AssignedDevices, AdditionalDeviceNamespace, storage QoS, IsolationType)
// are decoded only to be refused (docs/windows.md).
type containerDoc struct {
	GuestOs *struct{ HostName string }
	Storage *struct {
		Layers                      []struct{ Id, Path, PathType, Cache string }
		Path                        string
		QoS                         json.RawMessage
		PrivilegedContainerRootPath string
	}
	MappedDirectories []struct {
		HostPath, HostPathType, ContainerPath string
		ReadOnly                              bool
	}
	MappedPipes []struct{ ContainerPipeName, HostPath, HostPathType string }
	Memory      *struct{ SizeInMB uint64 }
	Processor   *Processor
	Networking  *struct {
		AllowUnqualifiedDnsQuery   bool
		DnsSearchList              string
		NetworkSharedContainerName string
		Namespace                  string
		NetworkAdapters            []string
	}
	HvSocket                  json.RawMessage
	ContainerCredentialGuard  json.RawMessage
	RegistryChanges           *registryChanges
	AssignedDevices           json.RawMessage
	AdditionalDeviceNamespace json.RawMessage
	IsolationType             string
}

type registryKey struct {
	Hive, Name string
	Volatile   bool
}

type registryChanges struct {
	AddValues []struct {
		Key                                  *registryKey
		Name, Type, StringValue, BinaryValue string
		DWordValue, QWordValue, CustomType   int32
	}
	DeleteKeys []registryKey
}

// checkContainerFields refuses what a process-isolated container cannot
// have here and values outside schema2's ranges: memory (a positive even
// size in MB, as hcsshim aligns it), processor (at most one of count,
// maximum, weight), registry hives and value types, mapped directory and pipe paths.
func checkContainerFields(c *containerDoc) *hcsError {
	for name, v := range map[string]json.RawMessage{"HvSocket": c.HvSocket, "ContainerCredentialGuard": c.ContainerCredentialGuard,
		"AssignedDevices": c.AssignedDevices, "AdditionalDeviceNamespace": c.AdditionalDeviceNamespace} {
		if len(v) > 0 && string(v) != "null" {
			return fail(hrInvalidArg, "Container.%s: not emulated; refused (docs/windows.md)", name)
		}
	}
	if c.IsolationType != "" {
		return fail(hrInvalidArg, "Container.IsolationType %q: not emulated; refused (docs/windows.md)", c.IsolationType)
	}
	if c.Storage != nil && len(c.Storage.QoS) > 0 {
		return fail(hrInvalidArg, "Container.Storage.QoS: not emulated; refused (docs/windows.md)")
	}
	if m := c.Memory; m != nil && (m.SizeInMB == 0 || m.SizeInMB%2 != 0) {
		return fail(hrInvalidArg, "Container.Memory.SizeInMB %d is not a positive multiple of 2", m.SizeInMB)
	}
	if p := c.Processor; p != nil {
		if err := checkProcessor("Container.Processor", *p, 0); err != nil {
			return err
		}
	}
	for _, m := range c.MappedDirectories {
		if m.HostPathType != "" && m.HostPathType != "AbsolutePath" {
			return fail(hrInvalidArg, "mapped directory HostPathType %q for a process-isolated container", m.HostPathType)
		}
		if !absWindowsPath(m.ContainerPath) {
			return fail(hrInvalidArg, "mapped directory ContainerPath %q is not absolute", m.ContainerPath)
		}
	}
	for _, p := range c.MappedPipes {
		if p.ContainerPipeName == "" || !strings.HasPrefix(p.HostPath, `\\.\pipe\`) {
			return fail(hrInvalidArg, "mapped pipe %q -> %q", p.ContainerPipeName, p.HostPath)
		}
	}
	if r := c.RegistryChanges; r != nil {
		keys := append([]registryKey(nil), r.DeleteKeys...)
		for _, v := range r.AddValues {
			if v.Key == nil || v.Name == "" {
				return fail(hrInvalidArg, "registry value without a key or name: %+v", v)
			}
			switch v.Type {
			case "None", "String", "ExpandedString", "MultiString", "Binary", "DWord", "QWord", "CustomType":
			default:
				return fail(hrInvalidArg, "registry value %s: type %q", v.Name, v.Type)
			}
			keys = append(keys, *v.Key)
		}
		for _, k := range keys {
			switch k.Hive {
			case "System", "Software", "Security", "Sam":
			default:
				return fail(hrInvalidArg, "registry key %q: hive %q", k.Name, k.Hive)
			}
			if k.Name == "" {
				return fail(hrInvalidArg, "registry key without a name in hive %s", k.Hive)
			}
		}
	}
	return nil
}

// absWindowsPath: C:\... (any drive) or \....
func absWindowsPath(p string) bool {
	if len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') {
		return true
	}
	return strings.HasPrefix(p, `\`)
}
