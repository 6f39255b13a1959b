//go:build dlq_redis || dlq_all

package dlq

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dlqkit/dlq/internal/testenv"
)

// writeSelfSignedCert writes a certificate for 127.0.0.1 that is its own
// CA, and its key, as PEM files; it returns their paths.
func writeSelfSignedCert(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "dlq redis test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	return certFile, keyFile
}

// TestRedisTLS: rediss:// speaks TLS and verifies the server's certificate
// unless the URL says skip_verify=true.
func TestRedisTLS(t *testing.T) {
	cert, key := writeSelfSignedCert(t)
	tlsPort := testenv.FreePort(t)
	srv := testenv.StartRedis(t, "--tls-port", fmt.Sprint(tlsPort), "--tls-cert-file", cert, "--tls-key-file", key,
		"--tls-ca-cert-file", cert, "--tls-auth-clients", "no")
	c := redisClient(t, srv.Addr) // the plain port, to read back
	tlsAddr := fmt.Sprintf("127.0.0.1:%d", tlsPort)
	for _, test := range []struct {
		name, query string
		written     bool
	}{
		{"skip_verify when asked", "?skip_verify=true", true},
		{"self-signed refused by default", "", false},
	} {
		t.Run(test.name, func(t *testing.T) {
			stream := uniqueStream(t, c)
			dir := t.TempDir()
			o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, File: FileConfig{Dir: dir}, Logger: quiet,
				Redis: RedisConfig{URL: "rediss://" + tlsAddr + "/0" + test.query, Stream: stream}})
			require.NoError(t, err)
			ps := payloads(5, "tls")
			sendAll(t, o, ps)
			flushOK(t, o)
			closeOK(t, o)
			s := o.Stats()
			if test.written {
				requireHolds(t, readStream(t, c, stream), ps)
				assert.Equal(t, uint64(5), s.Backends[0].Entries)
				return
			}
			assert.Empty(t, readStream(t, c, stream))
			assert.Contains(t, s.Backends[0].LastError, "certificate")
			assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 5)
		})
	}
	t.Run("plain redis:// to the TLS port fails", func(t *testing.T) {
		dir := t.TempDir()
		o, err := New(Config{Service: "svc", Order: []Kind{KindRedis, KindFile}, File: FileConfig{Dir: dir}, Logger: quiet,
			Redis: RedisConfig{URL: "redis://" + tlsAddr, TimeoutMS: 500}})
		require.NoError(t, err)
		sendAll(t, o, payloads(2, "plain"))
		flushOK(t, o)
		closeOK(t, o)
		assert.Zero(t, o.Stats().Backends[0].Entries)
		assert.Len(t, readDir(t, filepath.Join(dir, "svc")), 2)
	})
}
