package cluster

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"
)

func TestRemoteAuthDerivation(t *testing.T) {
	a1, err := newRemoteAuth([][]byte{[]byte("key-a-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	a2, err := newRemoteAuth([][]byte{[]byte("key-a-0123456789"), []byte("key-b-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	b, err := newRemoteAuth([][]byte{[]byte("key-b-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a1.cert.Certificate[0], a2.cert.Certificate[0]) {
		t.Fatal("the same primary key derived two different certificates")
	}
	if a1.allowed[0].Equal(b.allowed[0]) {
		t.Fatal("two keys derived the same public key")
	}
	if len(a2.allowed) != 2 || !a2.allowed[1].Equal(b.allowed[0]) {
		t.Fatal("a secondary key's public key is not accepted")
	}
	if _, err := newRemoteAuth(nil); err == nil {
		t.Fatal("no keys accepted")
	}
}

func TestValidateKeys(t *testing.T) {
	for _, tc := range []struct {
		name string
		keys [][]byte
		ok   bool
	}{
		{"16, 24 and 32 bytes", [][]byte{make([]byte, 16), make([]byte, 24), make([]byte, 32)}, true},
		{"none", nil, false},
		{"short", [][]byte{[]byte("secret-15-bytes")}, false},
		{"bad secondary", [][]byte{make([]byte, 16), make([]byte, 33)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := validateKeys(tc.keys)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), "secret-15-bytes") {
				t.Fatalf("error %q shows the key", err)
			}
		})
	}
	cfg := DefaultLocalConfig()
	cfg.NodeName = "n"
	cfg.Keys = [][]byte{[]byte("secret-15-bytes")}
	if _, err := cfg.withDefaults(); err == nil || !strings.Contains(err.Error(), "key 1 of 1 is 15 bytes") {
		t.Fatalf("withDefaults err = %v", err)
	}
}

// selfMade returns a certificate for a fresh Ed25519 key that no cluster
// key derives.
func selfMade(t *testing.T) tls.Certificate {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := selfSigned(priv)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// handshake runs one TLS connection over loopback TCP: the server writes a
// byte once its handshake succeeds, the client reads it. It returns the
// server's and the client's error.
func handshake(t *testing.T, server, client *tls.Config) (serverErr, clientErr error) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if err := c.(*tls.Conn).Handshake(); err != nil {
			served <- err
			return
		}
		_, err = c.Write([]byte{'k'})
		served <- err
	}()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), client)
	if err == nil {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		var b [1]byte
		if _, err = c.Read(b[:]); err == nil && b[0] != 'k' {
			t.Fatalf("client read %q", b[0])
		}
		c.Close()
	}
	return <-served, err
}

func TestRemoteMutualTLS(t *testing.T) {
	keyA, keyB := []byte("key-a-0123456789"), []byte("key-b-0123456789")
	auth := func(keys ...[]byte) *remoteAuth {
		a, err := newRemoteAuth(keys)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	unpinned := func(a *remoteAuth) *tls.Config { // presents a's certificate, trusts any server
		c := a.clientConfig()
		c.VerifyPeerCertificate = nil
		return c
	}
	forged := selfMade(t)
	for _, tc := range []struct {
		name         string
		server       *tls.Config
		client       *tls.Config
		ok           bool
		serverRefuse bool // the server (not only the client) must fail
	}{
		{"same key", auth(keyA).serverConfig(), auth(keyA).clientConfig(), true, false},
		{"rotation: old primary meets new primary, both know both", auth(keyA, keyB).serverConfig(), auth(keyB, keyA).clientConfig(), true, false},
		{"rotation: new primary meets a node that only has the old key", auth(keyA).serverConfig(), unpinned(auth(keyB, keyA)), false, true},
		{"other key", auth(keyA).serverConfig(), unpinned(auth(keyB)), false, true},
		{"no client certificate", auth(keyA).serverConfig(), &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true}, false, true},
		{"self-made client certificate", auth(keyA).serverConfig(), &tls.Config{
			MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, Certificates: []tls.Certificate{forged},
		}, false, true},
		{"client refuses a self-made server certificate", &tls.Config{MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{forged}},
			auth(keyA).clientConfig(), false, false},
		{"client refuses a server of another key", auth(keyB).serverConfig(), auth(keyA).clientConfig(), false, false},
		{"TLS 1.2 client", auth(keyA).serverConfig(), func() *tls.Config {
			c := auth(keyA).clientConfig()
			c.MinVersion, c.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
			return c
		}(), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serverErr, clientErr := handshake(t, tc.server, tc.client)
			if tc.ok {
				if serverErr != nil || clientErr != nil {
					t.Fatalf("server err %v, client err %v; want a connection", serverErr, clientErr)
				}
				return
			}
			if clientErr == nil {
				t.Fatalf("client connected and read (server err %v)", serverErr)
			}
			if tc.serverRefuse && serverErr == nil {
				t.Fatalf("server accepted the client (client err %v)", clientErr)
			}
			t.Logf("refused: server %v; client %v", serverErr, clientErr)
		})
	}
}
