package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"time"

	"github.com/spinmatch/spinmatch/actors/pool"
)

// A scenario file is JSON:
//
//	{"scenarios": [{
//	  "name": "my-3to1",
//	  "rate_per_s": 4,
//	  "classes": [{"gender": "male", "weight": 3}, {"gender": "female", "seeking": ["male"], "weight": 1}],
//	  "patience": {"dist": "lognormal", "mean_s": 45, "sigma": 1},
//	  "ramp": [{"at_s": 0, "mult": 1}, {"at_s": 600, "mult": 4}, {"at_s": 1200, "mult": 1}],
//	  "votes": {"yes": 0.5, "respin": 0.5, "date_s": 180, "vote_s": 30, "respin_delay_s": 2},
//	  "warmup_s": 300, "duration_s": 1200
//	}]}
//
// Required: name, rate_per_s, classes (gender and weight), patience.dist and
// patience.mean_s. Omitted: seeking is DefaultSeeking, sigma 1, no ramp,
// votes DefaultVotes field by field, warmup_s 300, duration_s warm-up + 900.
// Unknown fields are refused.

type fileJSON struct {
	Scenarios []json.RawMessage `json:"scenarios"`
}

type scenarioJSON struct {
	Name     string      `json:"name"`
	Rate     float64     `json:"rate_per_s"`
	Classes  []classJSON `json:"classes"`
	Patience struct {
		Dist  string   `json:"dist"`
		Mean  float64  `json:"mean_s"`
		Sigma *float64 `json:"sigma"`
	} `json:"patience"`
	Ramp []struct {
		At   float64 `json:"at_s"`
		Mult float64 `json:"mult"`
	} `json:"ramp"`
	Votes struct {
		Yes         *float64 `json:"yes"`
		Respin      *float64 `json:"respin"`
		DateLength  *float64 `json:"date_s"`
		VoteWindow  *float64 `json:"vote_s"`
		RespinDelay *float64 `json:"respin_delay_s"`
	} `json:"votes"`
	Warmup   *float64 `json:"warmup_s"`
	Duration *float64 `json:"duration_s"`
}

type classJSON struct {
	Gender  string   `json:"gender"`
	Seeking []string `json:"seeking"`
	Weight  *float64 `json:"weight"`
}

// ParseScenarios reads a scenario file. A bad one gives a *FieldError whose
// Field says where ("scenarios[1].patience.mean_s"), or "scenarios" for the
// file as a whole.
func ParseScenarios(r io.Reader) ([]Scenario, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20+1))
	if err != nil {
		return nil, &FieldError{"scenarios", "cannot read the file: " + err.Error()}
	}
	if len(data) > 1<<20 {
		return nil, &FieldError{"scenarios", "the file is larger than 1 MiB"}
	}
	var f fileJSON
	if err := strictDecode(data, &f); err != nil {
		return nil, jsonFieldError("", err)
	}
	if len(f.Scenarios) == 0 {
		return nil, &FieldError{"scenarios", "must list at least one scenario"}
	}
	seen := map[string]bool{}
	out := make([]Scenario, 0, len(f.Scenarios))
	for i, raw := range f.Scenarios {
		at := fmt.Sprintf("scenarios[%d]", i)
		var sj scenarioJSON
		if err := strictDecode(raw, &sj); err != nil {
			return nil, jsonFieldError(at, err)
		}
		s, ferr := sj.scenario()
		if ferr == nil {
			ferr = s.validate()
		}
		if ferr == nil && seen[s.Name] {
			ferr = &FieldError{"name", fmt.Sprintf("%q is used twice", s.Name)}
		}
		if ferr != nil {
			return nil, &FieldError{at + "." + ferr.Field, ferr.Msg}
		}
		seen[s.Name] = true
		out = append(out, s)
	}
	return out, nil
}

func strictDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// jsonFieldError names the field of a decoding error under at.
func jsonFieldError(at string, err error) *FieldError {
	field := func(f string) string {
		switch {
		case at == "" && f == "":
			return "scenarios"
		case at == "":
			return f
		case f == "":
			return at
		}
		return at + "." + f
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return &FieldError{field(te.Field), fmt.Sprintf("must be %s, not a JSON %s", jsonKind(te.Type), te.Value)}
	case errors.As(err, &se):
		return &FieldError{field(""), fmt.Sprintf("not valid JSON at byte %d: %v", se.Offset, se)}
	}
	msg := err.Error()
	if name, ok := unknownField(msg); ok {
		return &FieldError{field(name), "unknown field"}
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "the JSON ends too early"
	}
	return &FieldError{field(""), msg}
}

// jsonKind names what a field of Go type t holds, as JSON spells it.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64, reflect.Int, reflect.Int64, reflect.Uint64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Bool:
		return "true or false"
	}
	return "an object"
}

// unknownField extracts the name from encoding/json's `json: unknown field "x"`.
func unknownField(msg string) (string, bool) {
	const prefix = `json: unknown field "`
	if len(msg) > len(prefix)+1 && msg[:len(prefix)] == prefix && msg[len(msg)-1] == '"' {
		return msg[len(prefix) : len(msg)-1], true
	}
	return "", false
}

// seconds converts a count of seconds of a file to a Duration; ok is false
// for NaN, infinities and more than a year.
func fileSeconds(x float64) (time.Duration, bool) {
	if math.IsNaN(x) || math.Abs(x) > 365*24*3600 {
		return 0, false
	}
	return time.Duration(x * float64(time.Second)), true
}

// scenario converts sj, applying the defaults; validate checks the result.
func (sj *scenarioJSON) scenario() (Scenario, *FieldError) {
	s := Scenario{Name: sj.Name, Rate: sj.Rate, Votes: DefaultVotes()}
	for i, c := range sj.Classes {
		g, ok := pool.ParseGender(c.Gender)
		if !ok {
			return s, &FieldError{fmt.Sprintf("classes[%d].gender", i), fmt.Sprintf("must be male, female or nonbinary, not %q", c.Gender)}
		}
		seek := DefaultSeeking(g)
		if c.Seeking != nil {
			if seek, ok = pool.ParseSeeking(c.Seeking); !ok {
				return s, &FieldError{fmt.Sprintf("classes[%d].seeking", i), fmt.Sprintf("must list male, female or nonbinary, not %q", c.Seeking)}
			}
		}
		if c.Weight == nil {
			return s, &FieldError{fmt.Sprintf("classes[%d].weight", i), "is required"}
		}
		s.Classes = append(s.Classes, Class{Gender: g, Seeking: seek, Weight: *c.Weight})
	}
	switch sj.Patience.Dist {
	case "exponential":
		s.Patience.Dist = Exponential
	case "lognormal":
		s.Patience.Dist, s.Patience.Sigma = Lognormal, 1
	case "":
		return s, &FieldError{"patience.dist", "is required (exponential or lognormal)"}
	default:
		return s, &FieldError{"patience.dist", fmt.Sprintf("must be exponential or lognormal, not %q", sj.Patience.Dist)}
	}
	if sj.Patience.Sigma != nil {
		if s.Patience.Dist != Lognormal {
			return s, &FieldError{"patience.sigma", "applies to lognormal patience only"}
		}
		s.Patience.Sigma = *sj.Patience.Sigma
	}
	var ok bool
	if s.Patience.Mean, ok = fileSeconds(sj.Patience.Mean); !ok {
		return s, &FieldError{"patience.mean_s", "must be a positive number of seconds"}
	}
	for i, p := range sj.Ramp {
		at, ok := fileSeconds(p.At)
		if !ok {
			return s, &FieldError{fmt.Sprintf("ramp[%d].at_s", i), "must be a number of seconds up to a year"}
		}
		s.Ramp = append(s.Ramp, RampPoint{At: at, Mult: p.Mult})
	}
	v := sj.Votes
	if v.Yes != nil {
		s.Votes.Yes = *v.Yes
	}
	if v.Respin != nil {
		s.Votes.Respin = *v.Respin
	}
	for _, d := range []struct {
		field string
		src   *float64
		dst   *time.Duration
	}{
		{"votes.date_s", v.DateLength, &s.Votes.DateLength},
		{"votes.vote_s", v.VoteWindow, &s.Votes.VoteWindow},
		{"votes.respin_delay_s", v.RespinDelay, &s.Votes.RespinDelay},
	} {
		if d.src == nil {
			continue
		}
		if *d.dst, ok = fileSeconds(*d.src); !ok {
			return s, &FieldError{d.field, "must be a number of seconds up to a year"}
		}
	}
	s.Warmup = 5 * time.Minute
	if sj.Warmup != nil {
		if s.Warmup, ok = fileSeconds(*sj.Warmup); !ok {
			return s, &FieldError{"warmup_s", "must be a number of seconds up to a year"}
		}
	}
	s.Duration = s.Warmup + judged
	if sj.Duration != nil {
		if s.Duration, ok = fileSeconds(*sj.Duration); !ok {
			return s, &FieldError{"duration_s", "must be a number of seconds up to a year"}
		}
	}
	return s, nil
}
