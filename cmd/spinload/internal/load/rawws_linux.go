//go:build linux

package load

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

// The plain (ws://) sockets of a worker skip Go's network poller and
// gorilla's reader: the poller below owns their file descriptors, waits
// on all of them with one level-triggered epoll, reads whatever each has
// with one read(2) into a shared buffer and splits it into frames itself.
// Per server frame that is one read instead of two (Go's reader also
// tries once more, gets EAGAIN and parks) and no goroutine wake-up; a
// read that brings several frames (queued and match_found, vote_recorded
// and match_result) costs one. Every frame of a read is timed when the
// read returns. wss:// targets keep gorilla (wsSock).

// rawSupported says raw sockets exist on this system.
const rawSupported = true

// rawReadLimit is the largest message read, as gorilla's SetReadLimit.
const rawReadLimit = 1 << 20

// handler is what a raw socket's reader drives: every message, and once
// the end of the socket. Both are called on the poller's goroutine (or
// before the socket is added to it), never at once.
type handler interface {
	message(data []byte, now time.Time)
	gone()
}

// poller reads a set of raw sockets on one goroutine.
type poller struct {
	epfd int

	mu    sync.RWMutex
	conns map[int32]*rawConn // by id, the epoll event's data
	next  int32

	stop  atomic.Bool
	waits atomic.Int64 // epoll waits begun (tests see the loop reach its wait)
	wake  [2]int       // a pipe whose reading end is in epfd, to end its wait for close

	// step, while pace runs, is called on the loop every paceTick.
	step     atomic.Pointer[func(time.Time)]
	stepDone chan struct{} // closed by the loop when it has let go of step
}

// pace calls step on the poller's goroutine every paceTick until ctx
// ends, and returns once it is no longer called.
func (p *poller) pace(ctx context.Context, step func(time.Time)) {
	done := make(chan struct{})
	p.stepDone = done
	p.step.Store(&step)
	p.kick()
	<-ctx.Done()
	p.step.Store(nil)
	p.kick()
	<-done
}

// kick ends the loop's wait.
func (p *poller) kick() { _, _ = syscall.Write(p.wake[1], []byte{0}) }

func newPoller() (*poller, error) {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll: %w", err)
	}
	p := &poller{epfd: fd, conns: map[int32]*rawConn{}}
	if err := syscall.Pipe2(p.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("pipe: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: 0} // id 0: the wake pipe
	if err := syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		syscall.Close(fd)
		syscall.Close(p.wake[0])
		syscall.Close(p.wake[1])
		return nil, fmt.Errorf("epoll add: %w", err)
	}
	go p.loop()
	return p, nil
}

// close ends the poller once its sockets are gone.
func (p *poller) close() {
	p.stop.Store(true)
	p.kick()
}

// add starts reading c.
func (p *poller) add(c *rawConn) error {
	p.mu.Lock()
	p.next++
	c.id = p.next
	p.conns[c.id] = c
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: c.id}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		p.mu.Lock()
		delete(p.conns, c.id)
		p.mu.Unlock()
		return fmt.Errorf("epoll add: %w", err)
	}
	return nil
}

func (p *poller) loop() {
	events := make([]syscall.EpollEvent, 256)
	buf := make([]byte, 64<<10)
	// With one P, holding it would stop the world's other goroutines, and
	// a garbage collection, for as long as the wait.
	raw := runtime.GOMAXPROCS(0) >= 2
	var stepping *func(time.Time) // the step in use, owned here
	var next time.Time            // when it is due
	for {
		// No timeout but the pacer's: arming a timer for every wait costs;
		// close and pace wake it through the pipe.
		msec := -1
		if stepping != nil {
			msec = max(int((time.Until(next)+time.Millisecond-1)/time.Millisecond), 0)
		}
		var n int
		var err error
		p.waits.Add(1)
		if raw {
			n, err = epollWait(p.epfd, events, msec)
		} else {
			n, err = syscall.EpollWait(p.epfd, events, msec)
		}
		if err != nil && !errors.Is(err, syscall.EINTR) {
			panic(fmt.Sprintf("spinload: epoll_wait: %v", err))
		}
		for _, ev := range events[:max(n, 0)] {
			if ev.Fd == 0 {
				var b [16]byte
				_, _ = syscall.Read(p.wake[0], b[:])
				continue
			}
			p.mu.RLock()
			c := p.conns[ev.Fd]
			p.mu.RUnlock()
			if c != nil {
				c.readable(buf)
			}
		}
		if s := p.step.Load(); s != stepping {
			if stepping != nil {
				close(p.stepDone)
			}
			stepping, next = s, time.Now()
		}
		if stepping != nil {
			if now := time.Now(); !now.Before(next) {
				(*stepping)(now)
				next = now.Truncate(paceTick).Add(paceTick)
			}
		}
		if p.stop.Load() {
			p.mu.RLock()
			left := len(p.conns)
			p.mu.RUnlock()
			if left == 0 {
				syscall.Close(p.epfd)
				syscall.Close(p.wake[0])
				syscall.Close(p.wake[1])
				return
			}
		}
	}
}

// epollWait is epoll_wait(2) without telling the runtime it blocks
// (RawSyscall): told, the runtime's monitor would wake every 20 µs to take
// the P of a thread blocked in a system call, and the thread would have to
// win one back each time it wakes, costing more than the reads it waits
// for. Held this way the P stays with the poller; the runtime still gets
// it back at once when it needs it (a garbage collection, another
// goroutine after 10 ms), for its preemption signal ends the wait with
// EINTR.
func epollWait(epfd int, events []syscall.EpollEvent, msec int) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd), uintptr(unsafe.Pointer(&events[0])), uintptr(len(events)), uintptr(msec), 0, 0) // msec -1 is no timeout: as uintptr, all ones, which the kernel reads as int -1
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// rawConn is one client WebSocket on a file descriptor of its own.
type rawConn struct {
	fd int
	id int32
	p  *poller
	h  handler

	// Owned by the poller's goroutine (or the dialer before add).
	pending []byte // the start of a frame not wholly read yet
	msg     []byte // a fragmented message so far
	inMsg   bool

	wmu    sync.Mutex // serializes writes; guards closed, wbuf and fd's closing
	closed bool
	wbuf   []byte
}

// readable reads what the socket has; the poller calls it.
func (c *rawConn) readable(buf []byte) {
	for {
		n, err := syscall.Read(c.fd, buf)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.EAGAIN) {
			return
		}
		if err != nil || n <= 0 {
			c.end()
			return
		}
		now := time.Now()
		data := buf[:n]
		fromPending := len(c.pending) > 0
		if fromPending {
			c.pending = append(c.pending, data...)
			data = c.pending
		}
		rest, ok := c.frames(data, now)
		if !ok {
			c.end()
			return
		}
		switch {
		case len(rest) == 0:
			if cap(c.pending) > 64<<10 {
				c.pending = nil
			} else {
				c.pending = c.pending[:0]
			}
		case fromPending:
			c.pending = c.pending[:copy(c.pending, rest)]
		default:
			c.pending = append(c.pending[:0], rest...)
		}
		if n < len(buf) {
			return
		}
	}
}

// WebSocket opcodes.
const (
	opCont  = 0
	opText  = 1
	opBin   = 2
	opClose = 8
	opPing  = 9
	opPong  = 10
)

// frames handles the whole frames at the start of data and returns the
// rest; false on a protocol error, a message over the limit, or a close
// frame (answered), which all end the socket as they end gorilla's reader.
func (c *rawConn) frames(data []byte, now time.Time) ([]byte, bool) {
	for len(data) >= 2 {
		b0, b1 := data[0], data[1]
		if b0&0x70 != 0 || b1&0x80 != 0 {
			return nil, false // reserved bits (no extension was agreed), or a masked server frame
		}
		fin, op := b0&0x80 != 0, b0&0x0f
		n, h := uint64(b1&0x7f), 2
		switch n {
		case 126:
			if len(data) < 4 {
				return data, true
			}
			n, h = uint64(binary.BigEndian.Uint16(data[2:])), 4
		case 127:
			if len(data) < 10 {
				return data, true
			}
			n, h = binary.BigEndian.Uint64(data[2:]), 10
		}
		if n > rawReadLimit {
			return nil, false
		}
		if uint64(len(data)-h) < n {
			return data, true
		}
		payload := data[h : h+int(n)]
		data = data[h+int(n):]
		switch op {
		case opText, opBin:
			if c.inMsg {
				return nil, false
			}
			if fin {
				c.h.message(payload, now)
			} else {
				c.msg, c.inMsg = append(c.msg[:0], payload...), true
			}
		case opCont:
			if !c.inMsg || len(c.msg)+len(payload) > rawReadLimit {
				return nil, false
			}
			c.msg = append(c.msg, payload...)
			if fin {
				c.inMsg = false
				c.h.message(c.msg, now)
				c.msg = c.msg[:0]
			}
		case opPing, opPong, opClose:
			if !fin || n > 125 {
				return nil, false
			}
			switch op {
			case opPing:
				_ = c.write(opPong, payload)
			case opClose:
				// Answer with the peer's code, as gorilla's close handler does.
				var reply []byte
				if len(payload) >= 2 {
					reply = payload[:2]
				}
				_ = c.write(opClose, reply)
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return data, true
}

// errClosed is a write on a socket already closed.
var errClosed = errors.New("socket closed")

// write sends one masked frame; a socket that takes nothing for 5 s is
// given up, as gorilla's write deadline does.
func (c *rawConn) write(op byte, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed {
		return errClosed
	}
	b := append(c.wbuf[:0], 0x80|op)
	switch n := len(payload); {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	var key [4]byte
	binary.LittleEndian.PutUint32(key[:], rand.Uint32())
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range b[start:] {
		b[start+i] ^= key[i&3]
	}
	c.wbuf = b
	if cap(c.wbuf) > 4<<10 {
		c.wbuf = nil
	}
	var deadline time.Time
	for len(b) > 0 {
		n, err := syscall.Write(c.fd, b)
		switch {
		case err == nil:
			b = b[n:]
		case errors.Is(err, syscall.EINTR):
		case errors.Is(err, syscall.EAGAIN):
			if deadline.IsZero() {
				deadline = time.Now().Add(5 * time.Second)
			} else if time.Now().After(deadline) {
				return syscall.ETIMEDOUT
			}
			time.Sleep(time.Millisecond)
		default:
			return err
		}
	}
	return nil
}

// writeText sends one text message.
func (c *rawConn) writeText(b []byte) error { return c.write(opText, b) }

// shut ends the socket from this side: a close frame when asked, then
// shutdown(2), which the poller reads as the end and closes on.
func (c *rawConn) shut(closeFrame bool) {
	if closeFrame {
		_ = c.write(opClose, []byte{0x03, 0xe8}) // 1000, normal closure
	}
	c.wmu.Lock()
	if !c.closed {
		_ = syscall.Shutdown(c.fd, syscall.SHUT_RDWR)
	}
	c.wmu.Unlock()
}

// end closes the socket, on the poller's goroutine, and tells the handler.
func (c *rawConn) end() {
	c.wmu.Lock()
	if c.closed {
		c.wmu.Unlock()
		return
	}
	c.closed = true
	if c.p != nil {
		_ = syscall.EpollCtl(c.p.epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
	}
	_ = syscall.Close(c.fd)
	c.wmu.Unlock()
	if c.p != nil {
		c.p.mu.Lock()
		delete(c.p.conns, c.id)
		c.p.mu.Unlock()
	}
	c.h.gone()
}

// start hands c to p, reading for h: first the frames that came with
// the upgrade's answer, then whatever comes. A failure ends c (h.gone).
func (c *rawConn) start(p *poller, h handler) error {
	c.h = h
	if len(c.pending) > 0 {
		rest, ok := c.frames(c.pending, time.Now())
		if !ok {
			c.end()
			return errors.New("protocol error right after the upgrade")
		}
		c.pending = append([]byte(nil), rest...)
	}
	c.p = p
	if err := p.add(c); err != nil {
		c.p = nil
		c.end()
		return err
	}
	return nil
}

// errBadHandshake is an upgrade the server answered with something other
// than 101; the response goes with it.
var errBadHandshake = errors.New("bad handshake")

// dialRaw opens a client WebSocket to wsURL (ws://), to be started; on a
// refused upgrade it returns errBadHandshake and the response, its body
// read, as gorilla's dialer does. What came after the upgrade's answer
// waits in pending for start.
func dialRaw(ctx context.Context, nd *net.Dialer, wsURL string, header http.Header) (*rawConn, *http.Response, error) {
	u, err := url.Parse(wsURL)
	if err != nil {
		return nil, nil, err
	}
	if u.Scheme != "ws" {
		return nil, nil, fmt.Errorf("raw socket: scheme %q", u.Scheme)
	}
	hostPort := u.Host
	if u.Port() == "" {
		hostPort = net.JoinHostPort(u.Hostname(), "80")
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	nc, err := nd.DialContext(ctx, "tcp", hostPort)
	if err != nil {
		return nil, nil, err
	}
	defer nc.Close() // the socket lives on in a duplicate descriptor
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	var key [16]byte
	_, _ = crand.Read(key[:])
	k := base64.StdEncoding.EncodeToString(key[:])
	req := &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: "http", Host: u.Host, Path: u.Path, RawQuery: u.RawQuery},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: http.Header{}, Host: u.Host}
	for name, vs := range header {
		req.Header[name] = vs
	}
	req.Header["Upgrade"] = []string{"websocket"}
	req.Header["Connection"] = []string{"Upgrade"}
	req.Header["Sec-WebSocket-Key"] = []string{k}
	req.Header["Sec-WebSocket-Version"] = []string{"13"}
	if err := req.Write(nc); err != nil {
		return nil, nil, err
	}
	br := bufio.NewReaderSize(nc, 4096)
	res, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, nil, err
	}
	if res.StatusCode != http.StatusSwitchingProtocols ||
		!strings.EqualFold(res.Header.Get("Upgrade"), "websocket") ||
		res.Header.Get("Sec-WebSocket-Accept") != acceptKey(k) {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 16<<10))
		res.Body.Close()
		res.Body = io.NopCloser(strings.NewReader(string(body)))
		return nil, res, errBadHandshake
	}
	leftover, _ := br.Peek(br.Buffered())
	var fd int
	var dupErr error
	sc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	if err := sc.Control(func(s uintptr) { fd, dupErr = syscall.Dup(int(s)) }); err != nil {
		return nil, nil, err
	}
	if dupErr != nil {
		return nil, nil, fmt.Errorf("dup: %w", dupErr)
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, nil, err
	}
	return &rawConn{fd: fd, pending: append([]byte(nil), leftover...)}, res, nil
}

// acceptKey is the Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func acceptKey(k string) string {
	s := sha1.Sum([]byte(k + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(s[:])
}
