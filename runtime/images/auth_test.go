package images

import "testing"

func TestCredentials(t *testing.T) {
	for _, tc := range []struct {
		auth             Auth
		host, user, pass string
	}{
		{Auth{Username: "u", Password: "p"}, "r.example", "u", "p"},
		{Auth{Auth: "dTpwOnE="}, "r.example", "u", "p:q"}, // "u:p:q"
		{Auth{IdentityToken: "tok"}, "r.example", "", "tok"},
		{Auth{Username: "u", Password: "p", ServerAddress: "https://r.example/v1/"}, "r.example", "u", "p"},
		{Auth{Username: "u", Password: "p", ServerAddress: "other.example"}, "r.example", "", ""},
		{Auth{Username: "u", Password: "p", ServerAddress: "https://index.docker.io/v1/"}, "registry-1.docker.io", "u", "p"},
	} {
		u, p, err := tc.auth.credentials()(tc.host)
		if err != nil || u != tc.user || p != tc.pass {
			t.Errorf("%+v for %s: %q %q %v, want %q %q", tc.auth, tc.host, u, p, err, tc.user, tc.pass)
		}
	}
	if _, _, err := (&Auth{Auth: "%%%"}).credentials()("h"); err == nil {
		t.Error("undecodable auth accepted")
	}
	if (*Auth)(nil).credentials() != nil {
		t.Error("nil auth gives a credential function")
	}
}

func TestNormalizeRef(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                 "docker.io/library/busybox:latest",
		"registry.k8s.io/pause:3": "registry.k8s.io/pause:3",
		"localhost:5000/a/b":      "localhost:5000/a/b:latest",
	} {
		if got, err := NormalizeRef(in); err != nil || got != want {
			t.Errorf("NormalizeRef(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizeRef("library/UPPER"); err == nil {
		t.Error("invalid reference accepted")
	}
}
