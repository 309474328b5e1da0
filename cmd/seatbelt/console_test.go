package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seatbelt-go/seatbelt/eventlog"
	"github.com/seatbelt-go/seatbelt/jobs"
	"github.com/seatbelt-go/seatbelt/migcheck/migtest"
)

func TestConsoleRefusesToListenBeyondLoopbackUnsafely(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string // "" for none of these refusals
	}{
		{[]string{"--addr", "0.0.0.0:0"}, "set a token"},
		{[]string{"--addr", "0.0.0.0:0", "--token", "0123456789abcdef0123"}, "--tls-cert and --tls-key, or --plain-http"},
		{[]string{"--addr", "0.0.0.0:0", "--token", "0123456789abcdef0123", "--tls-cert", "c.pem"}, "go together"},
		{[]string{"--addr", "nonsense"}, "write it as host:port"},
		{[]string{"--tz", "Mars/Olympus"}, "IANA name"},
		{[]string{"--delete", "widgets"}, "want table=column"},
	} {
		out, code := runCLI(t, append([]string{"console", "--database-url", "postgres://127.0.0.1:1/none"}, tc.args...)...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("seatbelt console %q: exit %d, want 2 saying %q\n%s", tc.args, code, tc.want, out)
		}
	}
}

func TestConsoleServesHTTPS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "console"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	url := migtest.NewURL(t, eventlog.Migrations, jobs.Migrations)
	base := startConsole(t, "--database-url", url, "--token", "0123456789abcdef-https", "--tls-cert", certFile, "--tls-key", keyFile)
	if !strings.HasPrefix(base, "https://") {
		t.Fatalf("the console with a certificate serves at %s, want https", base)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Get(base + "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Fatalf("GET /jobs over HTTPS: %d to %q, want 303 to the sign-in", resp.StatusCode, resp.Header.Get("Location"))
	}
	client.CloseIdleConnections()
}
