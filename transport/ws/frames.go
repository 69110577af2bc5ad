package ws

import (
	"encoding/binary"

	"github.com/gorilla/websocket"

	"github.com/spinmatch/spinmatch/transport/wire"
)

// The writer builds the WebSocket frames itself (RFC 6455, section 5.2):
// a server's frames are unmasked, never fragmented and, with compression
// off, just a header and the payload, so every frame queued for a socket
// goes out in one write of one buffer. gorilla's Conn still reads; it
// writes only the close it answers a protocol error with (one write of
// the whole frame, which the network connection keeps whole beside
// ours), and nothing else: pings, pongs and closes are the writer's.

const (
	finBit = 0x80
	// maxControlPayload is the longest payload of a control frame.
	maxControlPayload = 125
)

// outBuf is a buffer of encoded frames, lent by Handler.outBufs while a
// socket has something to write (an idle socket holds none).
type outBuf struct {
	b []byte
}

// maxPooledOut is the largest outBuf put back in Handler.outBufs.
const maxPooledOut = 64 << 10

// appendTextFrame appends f as one text frame: the header, then
// wire.AppendFrame's JSON. The payload is encoded after a 4-byte header
// (the form for 126 to 65535 bytes, which a queued or match_found frame
// takes) and moved when it needs the 2-byte or the 10-byte form. On an
// encoding error b comes back as it was given.
func appendTextFrame(b []byte, f *wire.Frame) ([]byte, error) {
	start := len(b)
	b = append(b, finBit|websocket.TextMessage, 126, 0, 0)
	b, err := wire.AppendFrame(b, f)
	if err != nil {
		return b[:start], err
	}
	n := len(b) - start - 4
	switch {
	case n <= 125:
		b[start+1] = byte(n)
		copy(b[start+2:], b[start+4:])
		b = b[:len(b)-2]
	case n <= 0xffff:
		binary.BigEndian.PutUint16(b[start+2:], uint16(n))
	default:
		b = append(b, 0, 0, 0, 0, 0, 0)
		copy(b[start+10:], b[start+4:start+4+n])
		b[start+1] = 127
		binary.BigEndian.PutUint64(b[start+2:], uint64(n))
	}
	return b, nil
}

// appendControl appends a control frame (ping, pong or close) with at
// most maxControlPayload bytes of payload (longer is cut).
func appendControl(b []byte, typ int, payload string) []byte {
	if len(payload) > maxControlPayload {
		payload = payload[:maxControlPayload]
	}
	b = append(b, finBit|byte(typ), byte(len(payload)))
	return append(b, payload...)
}
