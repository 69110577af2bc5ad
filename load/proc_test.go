package load

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"
)

func TestCPUTimeOfThisProcess(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(150 * time.Millisecond); time.Now().Before(end); {
	}
	after, err := CPUTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 50*time.Millisecond {
		t.Fatalf("150 ms of spinning counted as %v", after-before)
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
