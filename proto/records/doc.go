// Package records holds wincri's persisted records, generated from
// records.proto with `make proto`.
package records
