//go:build dlq_kafka || dlq_http || dlq_all

package dlq

import (
	"crypto/x509"
	"fmt"
	"os"
)

// certPool returns the system's CAs plus those in the PEM file at path.
func certPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no PEM certificate in %s", path)
	}
	return pool, nil
}
