package cluster

import (
	"net"
	"testing"

	"github.com/hashicorp/memberlist"
)

func TestEventDelegate(t *testing.T) {
	ch := make(chan struct{}, 1)
	d := newEventDelegate(ch)
	n1 := &memberlist.Node{Name: "n1", Addr: net.ParseIP("127.0.0.1"), Port: 7946, Meta: []byte("m1")}
	n2 := &memberlist.Node{Name: "n2", Addr: net.ParseIP("127.0.0.2"), Port: 7946, Meta: []byte("m2")}

	steps := []struct {
		name  string
		event func()
		want  []string // names, then metas, in order
	}{
		{"join", func() { d.NotifyJoin(n1); d.NotifyJoin(n2) }, []string{"n1=m1", "n2=m2"}},
		{"update copies meta", func() {
			n1.Meta = []byte("m1b")
			d.NotifyUpdate(n1)
			n1.Meta[0] = 'X' // memberlist may rewrite its own bytes later
		}, []string{"n1=m1b", "n2=m2"}},
		{"leave", func() { d.NotifyLeave(n2) }, []string{"n1=m1b"}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.event() // never blocks, however many events arrive
			if len(ch) != 1 {
				t.Fatalf("pending signals = %d, want 1 (coalesced)", len(ch))
			}
			<-ch
			var got []string
			for _, n := range d.snapshot() {
				got = append(got, n.name+"="+string(n.meta))
			}
			if len(got) != len(s.want) {
				t.Fatalf("snapshot = %v, want %v", got, s.want)
			}
			for i := range got {
				if got[i] != s.want[i] {
					t.Fatalf("snapshot = %v, want %v", got, s.want)
				}
			}
		})
	}
}

func TestEventDelegateRemembersGracefulLeaves(t *testing.T) {
	d := newEventDelegate(make(chan struct{}, 1))
	meta := func(leaving bool) []byte {
		b, err := encodeMeta(nodeMeta{ID: "id1", Host: "127.0.0.2", Port: 7947, Leaving: leaving})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	n := &memberlist.Node{Name: "n", Addr: net.ParseIP("127.0.0.2"), Port: 7946, Meta: meta(false)}
	d.NotifyJoin(n)
	if d.leftGracefully("127.0.0.2:7947") {
		t.Fatal("a node that only joined counts as leaving")
	}
	n.Meta = meta(true)
	d.NotifyUpdate(n)
	d.NotifyLeave(n) // memberlist does not say why: the flag does
	if !d.leftGracefully("127.0.0.2:7947") {
		t.Fatal("a node that announced its leave does not count as a graceful leave")
	}
	n.Meta = meta(false) // restarted at the same address
	d.NotifyJoin(n)
	if d.leftGracefully("127.0.0.2:7947") {
		t.Fatal("a restarted node still counts as having left gracefully")
	}
}

func TestEventDelegateCountsLostMembers(t *testing.T) {
	d := newEventDelegate(make(chan struct{}, 1))
	meta := func(host string, leaving bool) []byte {
		b, err := encodeMeta(nodeMeta{ID: "id-" + host, Host: host, Port: 7947, Leaving: leaving})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	dead := &memberlist.Node{Name: "dead", Addr: net.ParseIP("127.0.0.2"), Port: 7946, Meta: meta("127.0.0.2", false)}
	left := &memberlist.Node{Name: "left", Addr: net.ParseIP("127.0.0.3"), Port: 7946, Meta: meta("127.0.0.3", false)}
	d.NotifyJoin(dead)
	d.NotifyJoin(left)
	// The graceful one announces its leave before it goes; memberlist's
	// leave event then passes the node as it last knew it.
	d.NotifyUpdate(&memberlist.Node{Name: "left", Addr: left.Addr, Port: 7946, Meta: meta("127.0.0.3", true)})
	d.NotifyLeave(left)
	if n := d.lost.Load(); n != 0 {
		t.Fatalf("lost = %d after a graceful leave; want 0", n)
	}
	d.NotifyLeave(dead)
	if n := d.lost.Load(); n != 1 {
		t.Fatalf("lost = %d after a death; want 1", n)
	}
}
