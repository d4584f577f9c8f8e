package node

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/custos-network/custos/node/config"
)

// maxPEMFile caps what is read of tls.cert and tls.key: a certificate chain
// is a few KiB, and the cap keeps a wrong path from being read whole.
const maxPEMFile = 1 << 20

// certRecheck is how often, at most, a TLS handshake looks at whether the
// certificate files changed on disk.
const certRecheck = time.Second

// ErrCertKeyMismatch means tls.key is not the private key of tls.cert.
var ErrCertKeyMismatch = errors.New("tls.key is not the private key of the certificate in tls.cert")

// certFiles serves the operator's certificate (config.TLS) to the WebSocket
// listeners with TLS, and reads the files again when they change, so that a
// renewed certificate takes effect without a restart. A renewal that cannot
// be used (a half-written file, a key that does not match) is logged and the
// certificate in use is kept.
type certFiles struct {
	certPath, keyPath string
	log               *zap.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp // of certPath and keyPath when cert was read
	checked time.Time
}

// fileStamp is what tells that a file changed: its modification time and size.
type fileStamp struct {
	mod  time.Time
	size int64
}

// loadCertFiles reads the certificate and key that t names, and refuses a
// missing or unreadable file, a file that holds no PEM block of the right
// kind, a key that is not the certificate's, and a certificate that has
// expired or is not valid yet.
func loadCertFiles(t config.TLS, log *zap.Logger) (*certFiles, error) {
	c := &certFiles{certPath: t.Cert, keyPath: t.Key, log: log}
	stamp, err := c.stamps()
	if err != nil {
		return nil, err
	}
	cert, err := readKeyPair(c.certPath, c.keyPath, time.Now())
	if err != nil {
		return nil, err
	}
	c.cert, c.stamp, c.checked = cert, stamp, time.Now()
	return c, nil
}

// tlsConfig is the listeners' TLS configuration: TLS 1.2 at least (what
// browsers speak), the certificate from getCertificate.
func (c *certFiles) tlsConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.getCertificate}
}

func (c *certFiles) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	if now.Sub(c.checked) < certRecheck {
		return c.cert, nil
	}
	c.checked = now
	stamp, err := c.stamps()
	if err != nil || stamp == c.stamp {
		if err != nil {
			c.log.Warn("tls certificate files unreadable; keeping the certificate in use", zap.Error(err))
		}
		return c.cert, nil
	}
	cert, err := readKeyPair(c.certPath, c.keyPath, now)
	if err != nil {
		// Not remembered as seen: a renewal written in two steps (the
		// certificate, then the key) is tried again at the next check.
		c.log.Warn("tls certificate files changed but cannot be used; keeping the certificate in use", zap.Error(err))
		return c.cert, nil
	}
	c.cert, c.stamp = cert, stamp
	c.log.Info("tls certificate reloaded", zap.Strings("names", cert.Leaf.DNSNames), zap.Time("not_after", cert.Leaf.NotAfter))
	return c.cert, nil
}

func (c *certFiles) stamps() ([2]fileStamp, error) {
	var s [2]fileStamp
	for i, p := range []string{c.certPath, c.keyPath} {
		fi, err := os.Stat(p)
		if err != nil {
			return s, fmt.Errorf("read %s: %w", tlsField(i), err)
		}
		s[i] = fileStamp{fi.ModTime(), fi.Size()}
	}
	return s, nil
}

func tlsField(i int) string { return [...]string{"tls.cert", "tls.key"}[i] }

// readKeyPair reads and checks the pair, as loadCertFiles describes. Its
// errors name the setting and the file, never the key's bytes.
func readKeyPair(certPath, keyPath string, now time.Time) (*tls.Certificate, error) {
	var files [2][]byte
	for i, p := range []string{certPath, keyPath} {
		b, err := readCapped(p)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", tlsField(i), err)
		}
		files[i] = b
	}
	defer clear(files[1])
	cert, err := tls.X509KeyPair(files[0], files[1])
	if err != nil {
		return nil, keyPairError(certPath, keyPath, files[0], err)
	}
	leaf := cert.Leaf
	switch {
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("tls.cert %s expired on %s; renew it", certPath, leaf.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("tls.cert %s is not valid before %s; is the clock right?", certPath, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return &cert, nil
}

// keyPairError says which of the two files is wrong. crypto/tls's own
// message is not passed on: the operator needs the file, not its parser.
func keyPairError(certPath, keyPath string, certPEM []byte, err error) error {
	switch {
	case !hasCertBlock(certPEM):
		return fmt.Errorf("tls.cert %s holds no PEM certificate (want -----BEGIN CERTIFICATE-----)", certPath)
	case strings.Contains(err.Error(), "does not match"):
		return fmt.Errorf("tls.cert %s and tls.key %s: %w", certPath, keyPath, ErrCertKeyMismatch)
	default:
		return fmt.Errorf("tls.key %s holds no private key custosd can use (want a PEM block such as -----BEGIN PRIVATE KEY-----)", keyPath)
	}
}

// hasCertBlock reports whether b holds a PEM CERTIFICATE block.
func hasCertBlock(b []byte) bool {
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			return false
		}
		if blk.Type == "CERTIFICATE" {
			return true
		}
	}
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEMFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxPEMFile {
		return nil, fmt.Errorf("%s is larger than %d KiB; is it the right file?", path, maxPEMFile>>10)
	}
	return b, nil
}
