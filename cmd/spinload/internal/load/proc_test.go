package load

import (
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"
)

func TestCPUTimeOfThisProcess(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until /proc counts 100 ms of it (on a busy machine that
	// takes longer than 100 ms of wall time, never less).
	start := time.Now()
	var used time.Duration
	for used < 100*time.Millisecond {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("20 s of spinning counted as %v", used)
		}
		for end := time.Now().Add(10 * time.Millisecond); time.Now().Before(end); {
		}
		now, err := CPUTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		used = now - before
	}
	if wall := time.Since(start); used > wall*time.Duration(runtime.NumCPU())+20*time.Millisecond {
		t.Fatalf("%v of CPU counted in %v of wall time on %d CPUs", used, wall, runtime.NumCPU())
	}
	if _, err := CPUTime(1 << 30); err == nil {
		t.Fatal("CPU time of a process that does not exist")
	}
}

func TestListenerPID(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	base := fmt.Sprintf("http://%s", ln.Addr())
	if got := ListenerPID(base); got != os.Getpid() {
		t.Fatalf("ListenerPID(%s) = %d, want %d", base, got, os.Getpid())
	}
	if got := ListenerPID("http://192.0.2.1:80"); got != 0 {
		t.Fatalf("a remote host gave pid %d", got)
	}
}

// TestRSSOfThisProcess: the figure follows memory the process touches.
func TestRSSOfThisProcess(t *testing.T) {
	before, err := RSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if before < 1<<20 {
		t.Fatalf("RSS %d bytes: a Go test binary holds more than 1 MiB", before)
	}
	b := make([]byte, 64<<20)
	for i := range b {
		b[i] = 1 // touch every page
	}
	after, err := RSS(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(b)
	if after < before+48<<20 {
		t.Fatalf("RSS %d -> %d bytes after touching 64 MiB", before, after)
	}
	if _, err := RSS(1 << 30); err == nil {
		t.Fatal("RSS of a process that does not exist")
	}
	if _, ok := sumRSS(nil); ok {
		t.Fatal("no process has no RSS")
	}
}
