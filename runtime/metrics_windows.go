package runtime

func openFiles(uint32) (fds, sockets uint64) { return 0, 0 }

func fsCapacity(string) (bytes, inodes, inodesFree uint64) { return 0, 0, 0 }
