package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// The memory tests' client process: the test binary re-run with
// memClientEnv set connects users to a server and reports on stdout, so
// the server's sockets and the clients' are in different processes (each
// may hold at most 20,000 open files).
//
// Its environment: MEM_URL (the /ws address), MEM_TOKENS (a file of
// tokens, one a line), MEM_FROM and MEM_TO (its share of them), MEM_SRC
// (the source address, or memPerUser) and MEM_MODE:
//
//   - memModeHold: connect every user, read its state, print
//     "connected N failed F", hold the sockets until stdin closes.
//   - memModeChurn: for MEM_CHURN, connect users, read the state, hold
//     a moment, disconnect (half with a close frame, half by dropping the
//     TCP connection), then print "churned N failed F".
const (
	memClientEnv = "SPINMATCH_TEST_MEM_CLIENT"
	memModeHold  = "hold"
	memModeChurn = "churn"
	memPerUser   = "per-user"
)

// memSource is the source address of user i (its index among all the
// test's users) when every user has its own: 127.a.b.c, never .0 or .255.
func memSource(i int) net.IP {
	return net.IPv4(127, byte(1+i/62500), byte(1+(i/250)%250), byte(1+i%250))
}

// memClientMain runs a client process; it returns the exit code.
func memClientMain() int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(os.Stderr, "mem client: "+format+"\n", args...)
		return 2
	}
	data, err := os.ReadFile(os.Getenv("MEM_TOKENS"))
	if err != nil {
		return fail("tokens: %v", err)
	}
	toks := strings.Split(string(data), "\n")
	from, err1 := strconv.Atoi(os.Getenv("MEM_FROM"))
	to, err2 := strconv.Atoi(os.Getenv("MEM_TO"))
	if err1 != nil || err2 != nil || from < 0 || to > len(toks) || from >= to {
		return fail("MEM_FROM/MEM_TO %q/%q out of %d tokens", os.Getenv("MEM_FROM"), os.Getenv("MEM_TO"), len(toks))
	}
	mc := &memClient{url: os.Getenv("MEM_URL"), src: os.Getenv("MEM_SRC")}
	switch os.Getenv("MEM_MODE") {
	case memModeHold:
		return mc.hold(toks, from, to)
	case memModeChurn:
		d, err := time.ParseDuration(os.Getenv("MEM_CHURN"))
		if err != nil {
			return fail("MEM_CHURN: %v", err)
		}
		return mc.churn(toks, from, to, d)
	}
	return fail("MEM_MODE %q: want hold or churn", os.Getenv("MEM_MODE"))
}

// memClient dials users. Static after construction.
type memClient struct {
	url string
	src string // source address, or memPerUser
}

// dial connects user i with token tok and reads its state frame.
func (mc *memClient) dial(i int, tok string) (*websocket.Conn, error) {
	var ip net.IP
	if mc.src == memPerUser {
		ip = memSource(i)
	} else {
		ip = net.ParseIP(mc.src)
	}
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 30 * time.Second}
	d := websocket.Dialer{NetDialContext: nd.DialContext, HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws, res, err := d.DialContext(ctx, mc.url, http.Header{"Authorization": {"Bearer " + tok}})
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("dial: %w (HTTP %d)", err, res.StatusCode)
		}
		return nil, fmt.Errorf("dial: %w", err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(30 * time.Second))
	_, data, err := ws.ReadMessage()
	if err != nil {
		_ = ws.Close()
		return nil, fmt.Errorf("read state: %w", err)
	}
	var f struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(data, &f) != nil || f.Type != "state" {
		_ = ws.Close()
		return nil, fmt.Errorf("first frame %s, want state", data)
	}
	_ = ws.SetReadDeadline(time.Time{})
	return ws, nil
}

// hold connects users from..to-1, reports, and holds them until stdin closes.
func (mc *memClient) hold(toks []string, from, to int) int {
	var (
		mu     sync.Mutex
		conns  []*websocket.Conn // guarded by mu
		failed atomic.Int64
		wg     sync.WaitGroup
		next   atomic.Int64
	)
	next.Store(int64(from))
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= to {
					return
				}
				ws, err := mc.dial(i, toks[i])
				if err != nil {
					if failed.Add(1) <= 5 {
						fmt.Fprintf(os.Stderr, "user %d: %v\n", i, err)
					}
					continue
				}
				// A reader answers pings and notices the close.
				go func() {
					for {
						if _, _, err := ws.NextReader(); err != nil {
							return
						}
					}
				}()
				mu.Lock()
				conns = append(conns, ws)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Printf("connected %d failed %d\n", len(conns), failed.Load())
	_, _ = bufio.NewReader(os.Stdin).ReadString(0) // until stdin closes
	for _, ws := range conns {
		_ = ws.Close()
	}
	return 0
}

// churn connects and disconnects users from..to-1 for d, from 16 workers,
// each cycling through its own users (so no user reconnects faster than
// its upgrade budget allows).
func (mc *memClient) churn(toks []string, from, to int, d time.Duration) int {
	const workers = 16
	var (
		done, failed atomic.Int64
		wg           sync.WaitGroup
	)
	end := time.Now().Add(d)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), uint64(from)))
			var own []int
			for i := from + w; i < to; i += workers {
				own = append(own, i)
			}
			if len(own) == 0 {
				return
			}
			for k := 0; time.Now().Before(end); k++ {
				i := own[k%len(own)]
				ws, err := mc.dial(i, toks[i])
				if err != nil {
					if failed.Add(1) <= 5 {
						fmt.Fprintf(os.Stderr, "user %d: %v\n", i, err)
					}
					continue
				}
				time.Sleep(time.Duration(r.IntN(50)) * time.Millisecond) // the user stays a moment
				if r.IntN(2) == 0 {
					_ = ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
				}
				_ = ws.Close()
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("churned %d failed %d\n", done.Load(), failed.Load())
	return 0
}
