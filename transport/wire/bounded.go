package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// MaxDepth is how deeply a client's JSON may nest (objects and arrays). No
// message of PROTOCOL.md needs more than a few levels; a signal's WebRTC
// payload needs about five. encoding/json's own limit is 10,000, which lets
// a 64 KiB frame of brackets cost far more than its size.
const MaxDepth = 32

// MaxBody bounds every REST request body.
const MaxBody = 64 << 10

// Errors of DecodeBody; the REST layer maps them to typed errors.
var (
	ErrTooLarge = errors.New("wire: body too large")
	ErrTooDeep  = errors.New("wire: JSON nested too deeply")
	ErrSyntax   = errors.New("wire: not valid JSON")
)

// DepthOK reports whether data nests objects and arrays at most max deep.
// It does not validate the JSON (the decoder does); brackets inside
// strings do not count. One pass, no allocation.
func DepthOK(data []byte, max int) bool {
	depth := 0
	inString, escaped := false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			if depth++; depth > max {
				return false
			}
		case '}', ']':
			depth--
		}
	}
	return true
}

// Unmarshal decodes one JSON value into v after the depth check.
func Unmarshal(data []byte, v any) error {
	if !DepthOK(data, MaxDepth) {
		return ErrTooDeep
	}
	if err := json.Unmarshal(data, v); err != nil {
		return errors.Join(ErrSyntax, err)
	}
	return nil
}

// ReadBody reads at most limit bytes of r; a longer body is ErrTooLarge.
func ReadBody(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, ErrTooLarge // an http.MaxBytesReader in front
		}
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, ErrTooLarge
	}
	return data, nil
}

// DecodeBody reads a REST body of at most MaxBody bytes and decodes it into
// v. An empty body is io.EOF (the caller decides whether that is fine).
func DecodeBody(r io.Reader, v any) error {
	data, err := ReadBody(r, MaxBody)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return io.EOF
	}
	return Unmarshal(data, v)
}
