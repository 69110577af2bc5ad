package pool

import (
	"fmt"
	"testing"
	"time"
)

// TestEchoOrderStaysBounded: the echo follows the users out on a date now,
// not every pairing of the last echoSpan. 600 users paired again every 10 s
// for 10 simulated minutes make 36,000 pairings within echoSpan, but at most
// 600 users are ever out at once; before order dropped the entries of users
// already back it held all 36,000.
func TestEchoOrderStaysBounded(t *testing.T) {
	const users = 600
	var x echo
	ids := make([]string, users)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%d", i)
	}
	c, _ := classOf(Male, sF)
	start := timeKey(t0)
	pairings, back, maxOrder := 0, 0, 0
	for s := int64(0); s < 600; s++ {
		k := start + s*int64(time.Second)
		for i, id := range ids {
			switch int64(i)%10 - s%10 {
			case 0: // paired at second i mod 10
				x.dated(id, c, k)
				pairings++
			case 3, -7: // back three seconds later
				if x.returned(id, k, 15*time.Minute) {
					back++
				}
			}
		}
		maxOrder = max(maxOrder, len(x.order)-x.head)
		if n, limit := len(x.order)-x.head, 2*len(x.out)+echoCompactMin; n > limit {
			t.Fatalf("after %d pairings order holds %d entries for %d users out (limit %d)", pairings, n, len(x.out), limit)
		}
	}
	if pairings < 30*users || back < pairings-users {
		t.Fatalf("%d pairings, %d returns learned: the loop did not exercise the echo", pairings, back)
	}
	if len(x.out) > users {
		t.Fatalf("%d users out, more than the %d users", len(x.out), users)
	}
	// Every user still out has exactly its live entry in order.
	live := 0
	for _, o := range x.order[x.head:] {
		if r, ok := x.out[o.id]; ok && r.seq == o.seq {
			live++
		}
	}
	if live != len(x.out) {
		t.Fatalf("%d live entries in order for %d users out", live, len(x.out))
	}
	t.Logf("%d pairings, %d returns, order at most %d entries", pairings, back, maxOrder)
}
