package runtime

import (
	"github.com/wincri/wincri/proto/records"
	"github.com/wincri/wincri/stats"
)

func openFiles(uint32) (fds, sockets uint64) { return 0, 0 }

func fsCapacity(string) (bytes, inodes, inodesFree uint64) { return 0, 0, 0 }

func podInterfaces(*records.Pod) []stats.InterfaceSample { return nil }
