//go:build !linux

package load

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Without epoll every socket goes through gorilla (wsSock).
const rawSupported = false

type handler interface {
	message(data []byte, now time.Time)
	gone()
}

type poller struct{}

func newPoller() (*poller, error) { return nil, errors.New("raw sockets need Linux") }

func (p *poller) close() {}

func (p *poller) pace(ctx context.Context, step func(time.Time)) {}

type rawConn struct{}

func (c *rawConn) writeText(b []byte) error { return errors.New("raw sockets need Linux") }

func (c *rawConn) shut(closeFrame bool) {}

var errBadHandshake = errors.New("bad handshake")

func (c *rawConn) start(p *poller, h handler) error { return errors.New("raw sockets need Linux") }

func dialRaw(ctx context.Context, nd *net.Dialer, wsURL string, header http.Header) (*rawConn, *http.Response, error) {
	return nil, nil, errors.New("raw sockets need Linux")
}
