package images

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/containerd/errdefs"
)

// credentials returns the function the resolver asks for a host's
// credential. A credential naming a server address is given to that host only.
func (a *Auth) credentials() func(host string) (string, string, error) {
	if a == nil {
		return nil
	}
	return func(host string) (string, string, error) {
		if a.ServerAddress != "" && serverHost(a.ServerAddress) != serverHost(host) {
			return "", "", nil
		}
		switch {
		case a.IdentityToken != "":
			return "", a.IdentityToken, nil
		case a.Username != "":
			return a.Username, a.Password, nil
		case a.Auth != "":
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return "", "", fmt.Errorf("auth is not base64: %w", errdefs.ErrInvalidArgument)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return "", "", fmt.Errorf("auth is not base64 of user:password: %w", errdefs.ErrInvalidArgument)
			}
			return user, strings.TrimSpace(pass), nil
		case a.RegistryToken != "":
			return "", a.RegistryToken, nil
		}
		return "", "", nil
	}
}

// key identifies the credential without keeping the secret in clear text.
func (a *Auth) key() string {
	h := sha256.Sum256([]byte(strings.Join([]string{a.Username, a.Password, a.Auth, a.ServerAddress, a.IdentityToken, a.RegistryToken}, "\x00")))
	return hex.EncodeToString(h[:])
}

// serverHost turns a docker-style server address ("https://index.docker.io/v1/",
// "myregistry:5000") into the host the resolver asks about.
func serverHost(addr string) string {
	if !strings.Contains(addr, "://") {
		addr = "dummy://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return addr
	}
	switch u.Host {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return u.Host
}
