package load

import (
	"bytes"
	"encoding/json"
)

// frame is the part of a server message the tool reads, as slices of the
// message (valid only while it is handled) so that reading one allocates
// nothing.
type frame struct {
	typ, matchID, result, code, state []byte
	stateMatchID                      []byte // match.match_id, of a state frame
}

// serverFrame is frame for encoding/json, the fallback of scanFrame.
type serverFrame struct {
	Type    string `json:"type"`
	MatchID string `json:"match_id"`
	Result  string `json:"result"`
	Code    string `json:"code"`
	State   string `json:"state"`
	Match   struct {
		MatchID string `json:"match_id"`
	} `json:"match"`
}

// parseFrame reads a server message into f: by scanFrame, or, for
// anything it does not read plainly, by encoding/json, whose answer is the
// reference (scanFrame agrees with it wherever it answers; the fuzz test
// checks so).
func parseFrame(data []byte, f *frame) error {
	if scanFrame(data, f) {
		return nil
	}
	var sf serverFrame
	if err := json.Unmarshal(data, &sf); err != nil {
		return err
	}
	*f = frame{
		typ: []byte(sf.Type), matchID: []byte(sf.MatchID), result: []byte(sf.Result),
		code: []byte(sf.Code), state: []byte(sf.State), stateMatchID: []byte(sf.Match.MatchID),
	}
	return nil
}

// The keys scanFrame reads, at the top level of a message and (match_id)
// inside its "match" object.
var (
	keyType    = []byte("type")
	keyMatchID = []byte("match_id")
	keyResult  = []byte("result")
	keyCode    = []byte("code")
	keyState   = []byte("state")
	keyMatch   = []byte("match")
)

// scanFrame reads the fields of frame from one JSON object without
// encoding/json. It validates the whole message as JSON as it goes, and
// answers false, leaving the message to encoding/json, for whatever it
// would not read exactly as encoding/json does: a field it reads that is
// not a plain string (escapes, non-ASCII, null, another type), a key that
// matches one of its keys only without regard to case, or anything
// malformed (so that encoding/json names the error).
func scanFrame(b []byte, f *frame) bool {
	*f = frame{}
	s := scanner{b: b}
	if !s.object(f, 0) {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

// scanner walks a JSON message; i is the next byte.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space; 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// object reads an object whose fields of interest go into f: depth 0 is
// the message, depth 1 its "match" object (only match_id is read there).
// With f nil the object is only validated.
func (s *scanner) object(f *frame, depth int) bool {
	if s.peek() != '{' {
		return false
	}
	s.i++
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		if s.peek() != '"' {
			return false
		}
		key, plain, ok := s.str()
		if !ok {
			return false
		}
		if s.peek() != ':' {
			return false
		}
		s.i++
		var dst *[]byte
		nested := false
		if f != nil {
			if !plain {
				return false // an escaped or non-ASCII key: it may decode to one of ours
			}
			switch {
			case depth == 0 && bytes.Equal(key, keyType):
				dst = &f.typ
			case bytes.Equal(key, keyMatchID):
				if depth == 0 {
					dst = &f.matchID
				} else {
					dst = &f.stateMatchID
				}
			case depth == 0 && bytes.Equal(key, keyResult):
				dst = &f.result
			case depth == 0 && bytes.Equal(key, keyCode):
				dst = &f.code
			case depth == 0 && bytes.Equal(key, keyState):
				dst = &f.state
			case depth == 0 && bytes.Equal(key, keyMatch):
				nested = true
			case wantedFold(key, depth):
				return false // "Type", "MATCH_ID": encoding/json matches them too
			}
		}
		switch {
		case dst != nil:
			if s.peek() != '"' {
				return false
			}
			v, plain, ok := s.str()
			if !ok || !plain {
				return false
			}
			*dst = v
		case nested:
			if s.peek() != '{' {
				return false
			}
			// Later duplicates replace earlier ones, as in encoding/json,
			// which also keeps fields an earlier "match" set; so does this.
			if !s.object(f, 1) {
				return false
			}
		default:
			if !s.value(0) {
				return false
			}
		}
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// wantedFold reports whether the plain ASCII key matches a key read at
// depth regardless of case.
func wantedFold(key []byte, depth int) bool {
	if depth > 0 {
		return bytes.EqualFold(key, keyMatchID)
	}
	for _, k := range [][]byte{keyType, keyMatchID, keyResult, keyCode, keyState, keyMatch} {
		if bytes.EqualFold(key, k) {
			return true
		}
	}
	return false
}

// maxDepth bounds the nesting scanFrame walks; deeper messages go to
// encoding/json.
const maxDepth = 64

// value validates one value of any kind.
func (s *scanner) value(depth int) bool {
	if depth > maxDepth {
		return false
	}
	switch c := s.peek(); {
	case c == '"':
		_, _, ok := s.str()
		return ok
	case c == '{':
		s.i++
		if s.peek() == '}' {
			s.i++
			return true
		}
		for {
			if s.peek() != '"' {
				return false
			}
			if _, _, ok := s.str(); !ok {
				return false
			}
			if s.peek() != ':' {
				return false
			}
			s.i++
			if !s.value(depth + 1) {
				return false
			}
			switch s.peek() {
			case ',':
				s.i++
			case '}':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return true
		}
		for {
			if !s.value(depth + 1) {
				return false
			}
			switch s.peek() {
			case ',':
				s.i++
			case ']':
				s.i++
				return true
			default:
				return false
			}
		}
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// number validates a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() bool {
	b := s.b
	if s.i < len(b) && b[s.i] == '-' {
		s.i++
	}
	digits := func() int {
		n := 0
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
			n++
		}
		return n
	}
	if s.i < len(b) && b[s.i] == '0' {
		s.i++
	} else if digits() == 0 {
		return false
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if digits() == 0 {
			return false
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if digits() == 0 {
			return false
		}
	}
	return true
}

// str reads a string at s.i (a '"'): its raw contents, whether they are
// plain (printable ASCII, no escapes: the same bytes once decoded), and
// whether it is valid JSON.
func (s *scanner) str() (v []byte, plain, ok bool) {
	b := s.b
	s.i++ // the opening quote
	start := s.i
	plain = true
	for s.i < len(b) {
		c := b[s.i]
		switch {
		case c == '"':
			v = b[start:s.i]
			s.i++
			return v, plain, true
		case c < 0x20:
			return nil, false, false
		case c == '\\':
			plain = false
			s.i++
			if s.i >= len(b) {
				return nil, false, false
			}
			switch b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if len(b)-s.i < 5 {
					return nil, false, false
				}
				for _, h := range b[s.i+1 : s.i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return nil, false, false
					}
				}
				s.i += 5
			default:
				return nil, false, false
			}
		case c >= 0x80:
			plain = false
			s.i++
		default:
			s.i++
		}
	}
	return nil, false, false
}

// voteFrame appends the vote message for matchID to dst, as
// encoding/json would write it.
func voteFrame(dst []byte, matchID string, yes bool) []byte {
	choice := "no"
	if yes {
		choice = "yes"
	}
	if !plainString(matchID) {
		b, _ := json.Marshal(struct {
			Type    string `json:"type"`
			MatchID string `json:"match_id"`
			Choice  string `json:"choice"`
		}{"vote", matchID, choice})
		return append(dst, b...)
	}
	dst = append(dst, `{"type":"vote","match_id":"`...)
	dst = append(dst, matchID...)
	dst = append(dst, `","choice":"`...)
	dst = append(dst, choice...)
	return append(dst, `"}`...)
}

// plainString reports whether encoding/json writes s as it is: printable
// ASCII with nothing it escapes.
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
