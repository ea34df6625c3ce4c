package config

import "testing"

// FuzzDecode: no config file, however broken, panics the decoder or the
// validation.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(DefaultTOML()))
	f.Add([]byte("root = 1\n[runtimes.x]\nshim = \"\"\n"))
	f.Add([]byte("[registry]\npull_progress_timeout = \"-5s\"\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Default()
		if Decode(b, c) == nil {
			c.Validate()
			c.RuntimeNames()
		}
	})
}
