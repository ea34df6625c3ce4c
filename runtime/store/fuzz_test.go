package store

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/wincri/wincri/proto/records"
)

// FuzzOpenRecords: a state database holding arbitrary record bytes opens
// with an error or with the records, never a panic.
func FuzzOpenRecords(f *testing.F) {
	good, _ := proto.Marshal(&records.Pod{Id: "p", State: records.PodState_POD_READY, Ips: []string{"10.0.0.1"}})
	ctr, _ := proto.Marshal(&records.Container{Id: "c", PodId: "p", ExitCode: 3})
	f.Add(good, ctr)
	f.Add([]byte{0xff, 0x01}, []byte{})
	f.Fuzz(func(t *testing.T, pod, container []byte) {
		path := filepath.Join(t.TempDir(), "state.db")
		db, err := bolt.Open(path, 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Update(func(tx *bolt.Tx) error {
			p, _ := tx.CreateBucketIfNotExists(podsBucket)
			c, _ := tx.CreateBucketIfNotExists(containersBucket)
			p.Put([]byte("k"), pod)
			return c.Put([]byte("k"), container)
		})
		db.Close()
		s, err := Open(path)
		if err != nil {
			return
		}
		s.Pods()
		s.Containers()
		s.Close()
	})
}
