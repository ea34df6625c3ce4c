// Package store persists pod and container records in bbolt and keeps them
// in memory for reads. Every write is committed (fsync'd) before it returns,
// so after a crash the database says what had been done.
package store

import (
	"fmt"
	"sort"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/wincri/wincri/proto/records"
)

var (
	podsBucket       = []byte("pods")
	containersBucket = []byte("containers")
)

// Store holds the records. It is safe for concurrent use; callers get copies.
type Store struct {
	db   *bolt.DB
	mu   sync.RWMutex
	pods map[string]*records.Pod
	ctrs map[string]*records.Container
}

// Open opens (or creates) the database at path and loads every record. A
// record that does not decode is an error: nothing is silently dropped.
func Open(path string) (*Store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true})
	if err != nil {
		return nil, fmt.Errorf("open %s (is another wincri using this root?): %w", path, err)
	}
	s := &Store{db: db, pods: map[string]*records.Pod{}, ctrs: map[string]*records.Container{}}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{podsBucket, containersBucket} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		if err := tx.Bucket(podsBucket).ForEach(func(k, v []byte) error {
			p := &records.Pod{}
			if err := proto.Unmarshal(v, p); err != nil {
				return fmt.Errorf("pod record %s: %w", k, err)
			}
			s.pods[p.Id] = p
			return nil
		}); err != nil {
			return err
		}
		return tx.Bucket(containersBucket).ForEach(func(k, v []byte) error {
			c := &records.Container{}
			if err := proto.Unmarshal(v, c); err != nil {
				return fmt.Errorf("container record %s: %w", k, err)
			}
			s.ctrs[c.Id] = c
			return nil
		})
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// PutPod writes a pod record.
func (s *Store) PutPod(p *records.Pod) error {
	return s.put(podsBucket, p.Id, p, func() { s.pods[p.Id] = proto.Clone(p).(*records.Pod) })
}

// PutContainer writes a container record.
func (s *Store) PutContainer(c *records.Container) error {
	return s.put(containersBucket, c.Id, c, func() { s.ctrs[c.Id] = proto.Clone(c).(*records.Container) })
}

// DeletePod removes a pod record; a missing one is not an error.
func (s *Store) DeletePod(id string) error {
	return s.del(podsBucket, id, func() { delete(s.pods, id) })
}

// DeleteContainer removes a container record; a missing one is not an error.
func (s *Store) DeleteContainer(id string) error {
	return s.del(containersBucket, id, func() { delete(s.ctrs, id) })
}

// Pod returns a copy of a pod record.
func (s *Store) Pod(id string) (*records.Pod, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.pods[id]
	if !ok {
		return nil, false
	}
	return proto.Clone(p).(*records.Pod), true
}

// Container returns a copy of a container record.
func (s *Store) Container(id string) (*records.Container, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.ctrs[id]
	if !ok {
		return nil, false
	}
	return proto.Clone(c).(*records.Container), true
}

// Pods returns copies of every pod record, oldest first.
func (s *Store) Pods() []*records.Pod { return cloneSorted(&s.mu, s.pods) }

// Containers returns copies of every container record, oldest first.
func (s *Store) Containers() []*records.Container { return cloneSorted(&s.mu, s.ctrs) }

func cloneSorted[T interface {
	proto.Message
	GetCreatedAt() int64
}](mu *sync.RWMutex, m map[string]T) []T {
	mu.RLock()
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, proto.Clone(v).(T))
	}
	mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].GetCreatedAt() < out[j].GetCreatedAt() })
	return out
}

func (s *Store) put(bucket []byte, id string, m proto.Message, apply func()) error {
	if id == "" {
		return fmt.Errorf("record without id")
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(id), b) }); err != nil {
		return fmt.Errorf("persist %s %s: %w", bucket, id, err)
	}
	apply()
	return nil
}

func (s *Store) del(bucket []byte, id string, apply func()) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(id)) }); err != nil {
		return fmt.Errorf("delete %s %s: %w", bucket, id, err)
	}
	apply()
	return nil
}
