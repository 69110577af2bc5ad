package actors

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// BenchmarkResumeStale measures a pool tick's search for stale waiters at
// 1k, 10k and 100k waiters (issue 10: no scan of every waiter per tick):
// each op is one waiter's re-announcement (its ref seen again, moved to the
// tail of the list) and one tick's resumeStale, with nobody stale; at 100k
// the ref list no longer fits the cache, which the move to the tail pays.
func BenchmarkResumeStale(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("waiters=%d", n), func(b *testing.B) {
			now := time.Unix(1_700_000_000, 0)
			cfg := TestConfig()
			cfg.Refresh = time.Hour // nobody goes stale (a stale one is sent a Resume)
			p := &matchPool{d: &Deps{Config: cfg, Now: func() time.Time { return now }}, refs: newRefList()}
			for i := range n {
				p.refs.add("u"+strconv.Itoa(i), now, false)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				now = now.Add(time.Millisecond)
				p.refs.touch(p.refs.get("u"+strconv.Itoa(i%n)), now)
				p.resumeStale()
			}
			b.StopTimer()
			if stale := now.Sub(p.refs.head.seen); stale > staleAfter*cfg.Refresh {
				b.Fatalf("the oldest ref is %v old, over the stale limit", stale)
			}
		})
	}
}
