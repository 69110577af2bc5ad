package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendFrame appends f's JSON to dst and returns the extended slice: the
// bytes json.Marshal(f) gives (the same fields in the same order, the
// same escaping of strings, numbers and raw values), without reflection
// or an allocation of its own on the hot frames, so a socket can encode
// into a buffer it reuses. FuzzAppendFrame holds the two to the same
// bytes. On an error (a ref or data that is not JSON, a number that is
// not finite) dst comes back as it was given.
func AppendFrame(dst []byte, f *Frame) ([]byte, error) {
	start := len(dst)
	out, err := appendFrame(dst, f)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

// errNotFinite is AppendFrame's error for a NaN or infinite number (which
// json.Marshal refuses too).
var errNotFinite = errors.New("wire: a number that is not finite")

func appendFrame(b []byte, f *Frame) ([]byte, error) {
	var err error
	b = append(b, `{"type":`...)
	b = appendString(b, f.Type)
	if len(f.Ref) > 0 {
		b = append(b, `,"ref":`...)
		if b, err = appendRaw(b, f.Ref); err != nil {
			return b, err
		}
	}
	b = appendStringField(b, `,"state":`, f.State)
	if q := f.Queue; q != nil {
		b = append(b, `,"queue":{"pool":`...)
		b = appendString(b, q.Pool)
		b = append(b, `,"position":`...)
		b = strconv.AppendInt(b, int64(q.Position), 10)
		b = append(b, `,"waiting":`...)
		b = appendCounts(b, q.Waiting)
		b = append(b, '}')
	}
	if e := f.Eta; e != nil {
		b = append(b, `,"eta":{"p50_s":`...)
		if b, err = appendFloat(b, e.P50S); err != nil {
			return b, err
		}
		b = append(b, `,"p90_s":`...)
		if b, err = appendFloat(b, e.P90S); err != nil {
			return b, err
		}
		b = append(b, `,"confidence":`...)
		b = appendString(b, e.Confidence)
		b = append(b, `,"reason":`...)
		b = appendString(b, e.Reason)
		b = append(b, '}')
	}
	if m := f.Match; m != nil {
		b = append(b, `,"match":{"match_id":`...)
		b = appendString(b, m.MatchID)
		b = append(b, `,"partner":`...)
		b = appendPartner(b, &m.Partner)
		b = append(b, `,"date_ends_at":`...)
		b = appendString(b, m.DateEndsAt)
		b = append(b, `,"vote_deadline":`...)
		b = appendString(b, m.VoteDeadline)
		b = append(b, '}')
	}
	b = appendStringField(b, `,"match_id":`, f.MatchID)
	if f.Partner != nil {
		b = append(b, `,"partner":`...)
		b = appendPartner(b, f.Partner)
	}
	b = appendStringField(b, `,"date_ends_at":`, f.DateEndsAt)
	b = appendStringField(b, `,"vote_deadline":`, f.VoteDeadline)
	b = appendStringField(b, `,"choice":`, f.Choice)
	b = appendStringField(b, `,"result":`, f.Result)
	b = appendStringField(b, `,"from":`, f.From)
	if len(f.Data) > 0 {
		b = append(b, `,"data":`...)
		if b, err = appendRaw(b, f.Data); err != nil {
			return b, err
		}
	}
	b = appendStringField(b, `,"code":`, f.Code)
	b = appendStringField(b, `,"message":`, f.Message)
	b = appendStringField(b, `,"help_url":`, f.HelpURL)
	if f.RetryAfterS != 0 {
		b = append(b, `,"retry_after_s":`...)
		if b, err = appendFloat(b, f.RetryAfterS); err != nil {
			return b, err
		}
	}
	return append(b, '}'), nil
}

// appendStringField appends key and s, unless s is empty (omitempty).
func appendStringField(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

func appendPartner(b []byte, p *Partner) []byte {
	b = append(b, `{"user_id":`...)
	b = appendString(b, p.UserID)
	b = append(b, `,"display_name":`...)
	b = appendString(b, p.DisplayName)
	b = append(b, `,"gender":`...)
	b = appendString(b, p.Gender)
	return append(b, '}')
}

// appendCounts appends a map as json.Marshal does: keys sorted as strings,
// null for a nil map. The waiting counts have a key per gender, so the
// keys are sorted in a small array on the stack.
func appendCounts(b []byte, m map[string]int32) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	var small [8]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ { // insertion sort: a handful of keys
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(m[k]), 10)
	}
	return append(b, '}')
}

// appendFloat formats v as json.Marshal formats a float64: the shortest
// form that reads back as v, in exponent form below 1e-6 and from 1e21 on
// (with a one-digit negative exponent written without its leading zero).
func appendFloat(b []byte, v float64) ([]byte, error) {
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return b, errNotFinite
	}
	abs := math.Abs(v)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, v, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

// appendRaw appends raw JSON as json.Marshal writes a json.RawMessage:
// validated, compacted, with <, >, &, U+2028 and U+2029 escaped. A ref is
// a short number or string that needs neither, and is appended as it is.
func appendRaw(b []byte, raw []byte) ([]byte, error) {
	plain := true
	for _, c := range raw {
		if c <= ' ' || c >= utf8.RuneSelf || c == '<' || c == '>' || c == '&' {
			plain = false
			break
		}
	}
	if plain {
		if !json.Valid(raw) {
			return b, errors.New("wire: a raw value that is not JSON")
		}
		return append(b, raw...), nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return b, err
	}
	out := bytes.NewBuffer(b)
	json.HTMLEscape(out, compact.Bytes())
	return out.Bytes(), nil
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string as json.Marshal writes it (with
// its HTML escaping): ", \ and control characters escaped (\b, \f, \n, \r
// and \t by name), <, > and & as \u00XX, U+2028 and U+2029 escaped, and
// each byte of invalid UTF-8 replaced by \ufffd.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
