// Package sim drives the real matching core (pool.Pool: the queue, the
// estimator and the wait_update rule) with a simulated clock against
// generated traffic, and scores what users were told against what they
// then waited (issue 9). cmd/spinsim is its front end.
//
// A run is a discrete-event loop: Poisson arrivals (thinned for a rush-hour
// ramp) of users drawn from the scenario's classes, each giving up after a
// random patience; the pool's wait updates every Config.Tick; dates, votes
// and re-spins with the rematch cooldown. Nothing reads the wall clock and
// nothing runs concurrently: a run is deterministic for a given seed (each
// random stream is a PCG seeded from it; no result depends on map order).
//
// Scoring (Score, Judge) takes the spins that started after the warm-up and
// before the scenario's Duration, and holds each gender's first pushed
// estimates and later wait_updates against the bars of issue 9, beside the
// predecessor's estimator (the mean matched wait of the same gender over
// the last five minutes).
//
// Nothing here is safe for concurrent use; separate runs share nothing.
package sim
