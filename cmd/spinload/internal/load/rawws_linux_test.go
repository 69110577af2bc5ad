//go:build linux

package load

import (
	"bytes"
	"encoding/binary"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// recorder is a handler that keeps what it is given.
type recorder struct {
	msgs  []string
	times []time.Time
	ended int
}

func (r *recorder) message(data []byte, now time.Time) {
	r.msgs = append(r.msgs, string(data))
	r.times = append(r.times, now)
}
func (r *recorder) gone() { r.ended++ }

// serverFrame builds an unmasked frame as a server writes it.
func wsFrame(fin bool, op byte, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, byte(n))
	case n <= 0xffff:
		b = append(b, 126, byte(n>>8), byte(n))
	default:
		b = append(b, 127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	return append(b, payload...)
}

// readClientFrame reads one masked frame from fd and unmasks it.
func readClientFrame(t *testing.T, fd int) (op byte, payload []byte) {
	t.Helper()
	buf := make([]byte, 1024)
	n, err := syscall.Read(fd, buf)
	if err != nil || n < 6 {
		t.Fatalf("read a client frame: %d bytes, %v", n, err)
	}
	b := buf[:n]
	if b[0]&0x80 == 0 || b[1]&0x80 == 0 {
		t.Fatalf("client frame %x: not final or not masked", b)
	}
	l, h := int(b[1]&0x7f), 2
	if l == 126 {
		l, h = int(binary.BigEndian.Uint16(b[2:])), 4
	}
	key := b[h : h+4]
	p := append([]byte(nil), b[h+4:h+4+l]...)
	for i := range p {
		p[i] ^= key[i&3]
	}
	if len(b) != h+4+l {
		t.Fatalf("client frame %x: %d bytes after it", b, len(b)-(h+4+l))
	}
	return b[0] & 0x0f, p
}

// socketPair returns a raw connection reading one end, and the other end.
func socketPair(t *testing.T) (*rawConn, *recorder, int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fds[1]) })
	r := &recorder{}
	return &rawConn{fd: fds[0], h: r}, r, fds[1]
}

func TestRawConnSplitsFramesAcrossReads(t *testing.T) {
	c, r, peer := socketPair(t)
	long := bytes.Repeat([]byte("x"), 300) // a 16-bit length
	var stream []byte
	stream = append(stream, wsFrame(true, opText, resultMsg)...)
	stream = append(stream, wsFrame(false, opText, []byte(`{"type":`))...)
	stream = append(stream, wsFrame(true, opPing, []byte("p1"))...) // between the fragments
	stream = append(stream, wsFrame(false, opCont, []byte(`"cancel`))...)
	stream = append(stream, wsFrame(true, opCont, []byte(`led"}`))...)
	stream = append(stream, wsFrame(true, opPong, nil)...)
	stream = append(stream, wsFrame(true, opText, long)...)
	// Every way of cutting the stream in two reads gives the same messages.
	for cut := 0; cut <= len(stream); cut++ {
		r.msgs = nil
		for _, part := range [][]byte{stream[:cut], stream[cut:]} {
			if len(part) == 0 {
				continue
			}
			if _, err := syscall.Write(peer, part); err != nil {
				t.Fatal(err)
			}
			c.readable(make([]byte, 64)) // a small buffer: several reads each
		}
		want := []string{string(resultMsg), `{"type":"cancelled"}`, string(long)}
		if len(r.msgs) != len(want) {
			t.Fatalf("cut at %d: %d messages %q, want %d", cut, len(r.msgs), r.msgs, len(want))
		}
		for i := range want {
			if r.msgs[i] != want[i] {
				t.Fatalf("cut at %d: message %d is %q, want %q", cut, i, r.msgs[i], want[i])
			}
		}
		if op, p := readClientFrame(t, peer); op != opPong || string(p) != "p1" {
			t.Fatalf("cut at %d: answer to the ping: op %d %q, want a pong p1", cut, op, p)
		}
		if len(c.pending) != 0 || c.inMsg || r.ended != 0 {
			t.Fatalf("cut at %d: pending %d, in a message %v, ended %d", cut, len(c.pending), c.inMsg, r.ended)
		}
	}
}

func TestRawConnWritesMaskedTextFrames(t *testing.T) {
	c, _, peer := socketPair(t)
	for _, msg := range [][]byte{spinFrame, bytes.Repeat([]byte("v"), 200)} {
		if err := c.writeText(msg); err != nil {
			t.Fatal(err)
		}
		if op, p := readClientFrame(t, peer); op != opText || !bytes.Equal(p, msg) {
			t.Fatalf("wrote op %d %q, want text %q", op, p, msg)
		}
	}
}

func TestRawConnEnds(t *testing.T) {
	for _, c := range []struct {
		name   string
		stream []byte
		answer []byte // the close frame's payload sent back, if any
	}{
		{"a close frame, answered with its code", wsFrame(true, opClose, []byte{0x0f, 0xa1, 'b', 'y', 'e'}), []byte{0x0f, 0xa1}},
		{"a masked server frame", []byte{0x81, 0x82, 1, 2, 3, 4, 'a', 'b'}, nil},
		{"reserved bits", []byte{0xc1, 0x01, 'a'}, nil},
		{"a message over the limit", append([]byte{0x81, 127}, binary.BigEndian.AppendUint64(nil, rawReadLimit+1)...), nil},
		{"a fragmented control frame", wsFrame(false, opPing, nil), nil},
		{"a continuation out of a message", wsFrame(true, opCont, []byte("x")), nil},
		{"an unknown opcode", wsFrame(true, 3, nil), nil},
		{"the end of the stream", nil, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			rc, r, peer := socketPair(t)
			if len(c.stream) > 0 {
				if _, err := syscall.Write(peer, c.stream); err != nil {
					t.Fatal(err)
				}
			} else if err := syscall.Shutdown(peer, syscall.SHUT_WR); err != nil {
				t.Fatal(err)
			}
			rc.readable(make([]byte, 1024))
			if r.ended != 1 || len(r.msgs) != 0 {
				t.Fatalf("ended %d times with messages %q, want once and none", r.ended, r.msgs)
			}
			if c.answer != nil {
				if op, p := readClientFrame(t, peer); op != opClose || !bytes.Equal(p, c.answer) {
					t.Fatalf("answer op %d %x, want close %x", op, p, c.answer)
				}
			}
			if err := rc.writeText(spinFrame); err != errClosed {
				t.Fatalf("a write after the end: %v, want errClosed", err)
			}
			rc.end() // again: nothing more
			if r.ended != 1 {
				t.Fatalf("ended %d times", r.ended)
			}
		})
	}
}

// A poller hands every socket's messages to its handler, and shut ends
// a socket through it.
func TestPollerReadsAndShuts(t *testing.T) {
	p, err := newPoller()
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	done := make(chan string, 4)
	type pair struct {
		c    *rawConn
		peer int
	}
	var pairs []pair
	for range 3 {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		_ = syscall.SetNonblock(fds[0], true)
		defer syscall.Close(fds[1])
		c := &rawConn{fd: fds[0], pending: wsFrame(true, opText, []byte("hello"))} // as if it came with the upgrade
		if err := c.start(p, chanHandler(done)); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, pair{c, fds[1]})
	}
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-done:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %q within 5 s", want)
		}
	}
	for range pairs {
		expect("hello")
	}
	for i, pr := range pairs {
		if _, err := syscall.Write(pr.peer, wsFrame(true, opText, []byte{'0' + byte(i)})); err != nil {
			t.Fatal(err)
		}
		expect(string([]byte{'0' + byte(i)}))
	}
	pairs[1].c.shut(true)
	if op, pl := readClientFrame(t, pairs[1].peer); op != opClose || !bytes.Equal(pl, []byte{0x03, 0xe8}) {
		t.Fatalf("shut sent op %d %x, want a normal close", op, pl)
	}
	expect("gone")
	p.mu.RLock()
	n := len(p.conns)
	p.mu.RUnlock()
	if n != 2 {
		t.Fatalf("the poller holds %d sockets after one of three ended, want 2", n)
	}
}

// chanHandler sends each message, and "gone", to a channel.
type chanHandler chan string

func (h chanHandler) message(data []byte, _ time.Time) { h <- string(data) }
func (h chanHandler) gone()                            { h <- "gone" }

// The poller's wait holds its P (or, with one P, blocks in the runtime's
// sight): either way a garbage collection, which stops every P, must not
// wait for a socket to have something.
func TestPollerLetsTheWorldStop(t *testing.T) {
	for _, procs := range []int{1, 2} {
		prev := runtime.GOMAXPROCS(procs)
		p, err := newPoller()
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for p.waits.Load() == 0 { // the loop reaches its wait (and stays: nothing comes)
			if time.Now().After(deadline) {
				t.Fatal("the poller never began its wait")
			}
			runtime.Gosched()
		}
		var worst time.Duration
		for range 10 {
			start := time.Now()
			runtime.GC()
			worst = max(worst, time.Since(start))
		}
		p.close()
		runtime.GOMAXPROCS(prev)
		if worst > time.Second {
			t.Fatalf("GOMAXPROCS %d: a collection waited %v for the idle poller", procs, worst)
		}
		t.Logf("GOMAXPROCS %d: the slowest of 10 collections %v", procs, worst)
	}
}
