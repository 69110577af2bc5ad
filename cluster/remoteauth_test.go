//go:build !race

// Excluded under -race and run by make test's multi-node step instead: the
// forged connection's ServerConnection makes the node dial the forger back,
// and that gRPC client keeps redialling after the test; under -race a node
// started later in the package races with it on grpclog's globals (the
// pinned protoactor-go sets grpclog's logger in every remote.Start).

package cluster_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/spinmatch/spinmatch/actors/msg"
	"github.com/spinmatch/spinmatch/cluster"
	"github.com/spinmatch/spinmatch/cluster/clustertest"
)

// forge speaks protoactor's remoting protocol to addr as a member would:
// it opens the Receive stream, sends a ConnectRequest, waits for the
// ConnectResponse and sends a MessageBatch delivering vote to target. It
// returns the first error. The connection stays open until the test ends
// (closing it at once could cancel the stream before the batch is read).
func forge(t *testing.T, addr string, creds credentials.TransportCredentials, target *actor.PID, vote *msg.Vote) error {
	conn, err := grpc.Dial(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(func() {
		cancel()
		conn.Close()
	})
	stream, err := remote.NewRemotingClient(conn).Receive(ctx)
	if err != nil {
		return err
	}
	err = stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{
		ConnectRequest: &remote.ConnectRequest{ConnectionType: &remote.ConnectRequest_ServerConnection{
			ServerConnection: &remote.ServerConnection{SystemId: "forger", Address: "127.0.0.1:1"},
		}},
	}})
	if err != nil {
		return err
	}
	if _, err := stream.Recv(); err != nil {
		return err
	}
	data, err := proto.Marshal(vote)
	if err != nil {
		return err
	}
	err = stream.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{
		MessageBatch: &remote.MessageBatch{
			TypeNames: []string{string(proto.MessageName(vote))},
			Targets:   []*actor.PID{target},
			Envelopes: []*remote.MessageEnvelope{{TypeId: 0, MessageData: data, Target: 0}},
		},
	}})
	return err
}

// TestRemoteRefusesForgedMessages dials a keyed node's actor remote with a
// raw gRPC client carrying a msg.Vote for an actor on that node. Without
// TLS, with TLS but no client certificate, with a self-made certificate
// and with the certificate of another cluster key, the connection is
// refused and nothing is delivered; the same client with the cluster key's
// certificate delivers (so the forgery would have worked without the key).
func TestRemoteRefusesForgedMessages(t *testing.T) {
	n := clustertest.Local(t)
	got := make(chan *msg.Vote, 16)
	sink, err := n.System().Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if v, ok := ctx.Message().(*msg.Vote); ok {
			select {
			case got <- v:
			default:
			}
		}
	}), "forge-sink")
	if err != nil {
		t.Fatal(err)
	}

	tlsWith := func(certs ...tls.Certificate) credentials.TransportCredentials {
		return credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, Certificates: certs})
	}
	otherKey, err := cluster.RemoteClientTLS([][]byte{[]byte("somebody-elses-cluster-key-00003")})
	if err != nil {
		t.Fatal(err)
	}
	otherKey.VerifyPeerCertificate = nil // trust the node, so that the node is the one refusing
	for _, tc := range []struct {
		name  string
		creds credentials.TransportCredentials
	}{
		{"without TLS", insecure.NewCredentials()},
		{"TLS without a client certificate", tlsWith()},
		{"TLS with a self-made certificate", tlsWith(selfMadeCert(t))},
		{"TLS with another cluster key's certificate", credentials.NewTLS(otherKey)},
	} {
		t.Run(tc.name+" is refused", func(t *testing.T) {
			err := forge(t, n.Address(), tc.creds, sink, &msg.Vote{MatchId: "forged", Choice: "yes"})
			if err == nil {
				t.Fatal("the forged batch was accepted")
			}
			t.Logf("refused: %v", err)
		})
	}

	t.Run("the cluster key's certificate delivers, and only that vote arrived", func(t *testing.T) {
		member, err := cluster.RemoteClientTLS(clustertest.Keys())
		if err != nil {
			t.Fatal(err)
		}
		if err := forge(t, n.Address(), credentials.NewTLS(member), sink, &msg.Vote{MatchId: "authentic", Choice: "yes"}); err != nil {
			t.Fatal(err)
		}
		select {
		case v := <-got:
			if v.GetMatchId() != "authentic" {
				t.Fatalf("the sink got %q first: a refused connection delivered", v.GetMatchId())
			}
		case <-time.After(5 * time.Second):
			t.Fatal("the member's vote did not arrive")
		}
		if len(got) != 0 {
			t.Fatalf("%d more votes arrived", len(got))
		}
	})
}

// selfMadeCert is a self-signed certificate for a fresh Ed25519 key.
func selfMadeCert(t *testing.T) tls.Certificate {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv}
}
