package server

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/veil-auth/veil/internal/config"
)

// MaxHeaderBytes bounds the request line and headers of a request; a
// larger one is answered 431. Veil's largest legitimate header, a Basic
// Authorization of two 256-bit secrets, is far below it.
const MaxHeaderBytes = 16 << 10

// newTLSConfig returns the listeners' TLS configuration, or nil when the
// configuration asks for plain HTTP.
func newTLSConfig(cfg *config.Config, log *slog.Logger) (*tls.Config, error) {
	if !cfg.TLS() {
		return nil, nil
	}
	cert, err := cfg.Certificate()
	if err != nil {
		return nil, err
	}
	if leaf := cert.Leaf; leaf != nil && time.Now().After(leaf.NotAfter) {
		// Serve it all the same: refusing to start would not bring
		// clients back, and the log says what to do.
		log.Error("tls certificate has expired; replace VEIL_TLS_CERT_FILE and VEIL_TLS_KEY_FILE",
			"not_after", leaf.NotAfter)
	}

	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		// TLS 1.0 and 1.1 are deprecated (RFC 8996); OAuth 2.0 needs
		// the protection of a current TLS for every credential it
		// carries (RFC 9700 §2.6 and RFC 6749 §1.6).
		MinVersion: tls.VersionTLS12,
		// For TLS 1.2, only ECDHE key exchange with AEAD ciphers, as
		// RFC 9325 §4.2 recommends: forward secrecy, and none of the
		// CBC constructions with their padding-oracle history. TLS 1.3
		// suites cannot be configured in Go, and all of them qualify.
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}, nil
}

// newHTTPServer returns a server for h whose timeouts keep slow clients
// from holding connections: headers must arrive within ReadHeaderTimeout
// and the whole request within ReadTimeout, the answer must be written
// within WriteTimeout, and an idle connection is closed after IdleTimeout.
// The TLS handshake falls under the read timeouts too. Each server gets its
// own copy of the TLS configuration: serving HTTP/2 adjusts it, which must
// not race with the other listener.
func (s *Server) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		TLSConfig:         s.tls.Clone(),
		ReadHeaderTimeout: s.settings.readHeaderTimeout,
		ReadTimeout:       s.settings.readTimeout,
		WriteTimeout:      s.settings.writeTimeout,
		IdleTimeout:       s.settings.idleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// serveOne serves hs on ln, over TLS when it is configured.
func (s *Server) serveOne(hs *http.Server, ln net.Listener) error {
	if s.tls != nil {
		// The certificate is in hs.TLSConfig already.
		return hs.ServeTLS(ln, "", "")
	}
	return hs.Serve(ln)
}
