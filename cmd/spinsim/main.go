// Command spinsim drives the real matching core (actors/pool.Pool) with a
// simulated clock against generated traffic and scores the wait estimates
// users were told against the waits they then had (issue 9; package
// actors/pool/sim does the work). It prints a table per scenario, and with
// -check exits 1 when any gender of any scenario misses a bar.
//
//	spinsim [-scenario NAME|all] [-scenario-file FILE] [-quick] [-seed N]
//	        [-warmup D] [-check] [-json FILE] [-svg DIR] [-whatif=false] [-list]
//
// Exit status: 0 done (and every bar held, with -check), 1 a bar missed
// (with -check), 2 bad input (one line on stderr naming the flag or field).
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
