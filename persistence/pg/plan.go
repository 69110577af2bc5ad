package pg

// Planning a batch: which writes share a statement, and in what order the
// statements go.
//
// Each write names the rows it reads and writes (keys). Two writes
// conflict when one writes a row the other reads or writes: a vote reads
// its match, which CreateMatch writes; a queue delete and a queue put of
// one user write the same row. Of two conflicting writes, the later in
// the batch must run in a later statement, since a shared statement has
// no order among its rows (and an upsert may not touch one row twice).
// Writes that do not conflict commute, so their order may change.
//
// The statements of a batch are slots, (phase, kind) in that order, with
// the kinds in a fixed rank (kind.go). A write goes to the first slot of its
// kind after every slot that holds a write it conflicts with; a batch
// without conflicts is one phase, a statement per kind. The cost is one
// pass over the batch with a map of the keys.

// keys are the rows a write reads and the rows it writes, each named by
// a table letter and the row's key ("m\x00id", "q\x00user").
type keys struct {
	reads, writes []string
}

// unit is one statement of a batch (with its read back, if any): the
// writes of one kind it carries, in batch order.
type unit struct {
	kind *kind
	ws   []*write
}

// key names a row for keys: a table tag and its key columns.
func key(table string, cols ...string) string {
	n := len(table)
	for _, c := range cols {
		n += 1 + len(c)
	}
	b := make([]byte, 0, n)
	b = append(b, table...)
	for _, c := range cols {
		b = append(b, 0)
		b = append(b, c...)
	}
	return string(b)
}

// planAlone gives every write a statement of its own, in batch order.
func planAlone(ws []*write) []unit {
	units := make([]unit, len(ws))
	for i, w := range ws {
		units[i] = unit{kind: w.kind, ws: []*write{w}}
	}
	return units
}

// plan groups ws into shared statements, keeping conflicting writes in
// their batch order (see above).
func plan(ws []*write) []unit {
	const nk = numKinds
	// The latest slot that wrote, or read, each key so far.
	wrote := make(map[string]int, 2*len(ws))
	read := make(map[string]int, len(ws))
	slotOf := make([]int, len(ws))
	maxSlot := -1
	for i, w := range ws {
		first := 0 // the first slot this write may take
		for _, k := range w.keys.reads {
			if s, ok := wrote[k]; ok && s+1 > first {
				first = s + 1
			}
		}
		for _, k := range w.keys.writes {
			if s, ok := wrote[k]; ok && s+1 > first {
				first = s + 1
			}
			if s, ok := read[k]; ok && s+1 > first {
				first = s + 1
			}
		}
		// The first slot of w's kind at or after first.
		slot := (first/nk)*nk + w.kind.rank
		if slot < first {
			slot += nk
		}
		slotOf[i] = slot
		maxSlot = max(maxSlot, slot)
		for _, k := range w.keys.reads {
			read[k] = max(read[k], slot)
		}
		for _, k := range w.keys.writes {
			wrote[k] = max(wrote[k], slot)
		}
	}
	bySlot := make(map[int][]*write, nk)
	for i, w := range ws {
		bySlot[slotOf[i]] = append(bySlot[slotOf[i]], w)
	}
	units := make([]unit, 0, len(bySlot))
	for s := 0; s <= maxSlot; s++ {
		if us := bySlot[s]; len(us) > 0 {
			units = append(units, unit{kind: us[0].kind, ws: us})
		}
	}
	return units
}
