package runtime

// Features is what the runtime handlers support, as CRI's Status reports it.
type Features struct {
	RecursiveReadOnlyMounts  bool
	UserNamespaces           bool
	SupplementalGroupsPolicy bool
}

// Features reports what this host's runtime supports.
func (r *Runtime) Features() Features { return platformFeatures() }
