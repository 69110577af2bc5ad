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
