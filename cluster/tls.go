package cluster

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// remoteAuthInfo is the HMAC message that turns a cluster key into the seed
// of the actor remote's Ed25519 key pair. Changing it changes every derived
// certificate, so nodes of different versions would no longer talk.
const remoteAuthInfo = "spinmatch cluster remote mTLS v1"

// errNoPeerCert is returned when the peer presented no certificate.
var errNoPeerCert = errors.New("cluster remote: peer presented no certificate")

// remoteAuth is the mutual TLS of the actor remote (gRPC), derived from the
// cluster keys: each key yields one Ed25519 key pair and one self-signed
// certificate. A node presents the primary key's certificate, as server and
// as client, and accepts a peer only when the peer's certificate carries
// the public key derived from one of the configured keys (pinning; there
// is no certificate authority). TLS 1.3 proves the peer holds the matching
// private key, which only a holder of a cluster key can derive.
//
// Static after construction; safe for concurrent use.
type remoteAuth struct {
	cert    tls.Certificate     // derived from the primary key
	allowed []ed25519.PublicKey // derived from every key, primary first
}

// newRemoteAuth derives the key pairs of keys (primary first, at least one).
func newRemoteAuth(keys [][]byte) (*remoteAuth, error) {
	if len(keys) == 0 {
		return nil, errors.New("cluster remote: no key")
	}
	a := &remoteAuth{}
	for i, k := range keys {
		priv := deriveRemoteKey(k)
		a.allowed = append(a.allowed, priv.Public().(ed25519.PublicKey))
		if i > 0 {
			continue
		}
		cert, err := selfSigned(priv)
		if err != nil {
			return nil, fmt.Errorf("cluster remote: certificate: %w", err)
		}
		a.cert = cert
	}
	return a, nil
}

// deriveRemoteKey returns the Ed25519 key pair whose seed is
// HMAC-SHA256(key, remoteAuthInfo): the same on every node holding key.
func deriveRemoteKey(key []byte) ed25519.PrivateKey {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(remoteAuthInfo))
	return ed25519.NewKeyFromSeed(mac.Sum(nil))
}

// selfSigned makes the certificate of priv. Its fields are fixed (serial,
// names, validity) and Ed25519 signatures are deterministic, so every node
// derives the same bytes. Nobody checks its dates or names: peers compare
// only the public key.
func selfSigned(priv ed25519.PrivateKey) (tls.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "spinmatch cluster member"},
		NotBefore:             time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

// verifyPeer accepts the peer's leaf certificate only if its public key is
// one derived from a configured key. It is the tls.Config
// VerifyPeerCertificate hook of both sides; chain verification is off
// (self-signed certificates), so verifiedChains is always nil.
func (a *remoteAuth) verifyPeer(rawCerts [][]byte, _ [][]*x509.Certificate) error {
	if len(rawCerts) == 0 {
		return errNoPeerCert
	}
	cert, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return fmt.Errorf("cluster remote: peer certificate: %w", err)
	}
	if pub, ok := cert.PublicKey.(ed25519.PublicKey); ok {
		for _, k := range a.allowed {
			if pub.Equal(k) {
				return nil
			}
		}
	}
	return errors.New("cluster remote: peer certificate is not derived from a cluster key")
}

// serverConfig is the TLS configuration of this node's remote listener: a
// client certificate is required and must pass verifyPeer.
func (a *remoteAuth) serverConfig() *tls.Config {
	return &tls.Config{
		MinVersion:            tls.VersionTLS13,
		Certificates:          []tls.Certificate{a.cert},
		ClientAuth:            tls.RequireAnyClientCert,
		VerifyPeerCertificate: a.verifyPeer,
	}
}

// clientConfig is the TLS configuration this node dials other remotes with.
func (a *remoteAuth) clientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{a.cert},
		// The server's certificate is self-signed and names no host:
		// standard verification is replaced by verifyPeer, which pins the
		// public keys derived from the cluster keys.
		InsecureSkipVerify:    true,
		VerifyPeerCertificate: a.verifyPeer,
	}
}

// remoteOptions replaces protoactor's default insecure dial option with
// TLS and gives the remote's gRPC server the same credentials.
func (a *remoteAuth) remoteOptions() []remote.ConfigOption {
	return []remote.ConfigOption{
		remote.WithServerOptions(grpc.Creds(credentials.NewTLS(a.serverConfig()))),
		remote.WithDialOptions(grpc.WithTransportCredentials(credentials.NewTLS(a.clientConfig()))),
	}
}

// RemoteClientTLS returns the TLS configuration a member dials other
// members' actor remotes with, for cluster keys keys (primary first): it
// presents the primary key's certificate and accepts only a server whose
// certificate derives from one of keys. For tools and tests that speak the
// remote protocol themselves.
func RemoteClientTLS(keys [][]byte) (*tls.Config, error) {
	if err := validateKeys(keys); err != nil {
		return nil, err
	}
	a, err := newRemoteAuth(keys)
	if err != nil {
		return nil, err
	}
	return a.clientConfig(), nil
}
