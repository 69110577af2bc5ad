// Package actors is Spinmatch's actor model: the three cluster grains
// (UserSession, MatchPool and Match), the messages they exchange (package
// msg, protobuf), the Store interface they persist through, and System, the
// facade the transport layer calls.
//
// Concurrency: grain state is owned by the grain and touched only inside its
// Receive. Timers never touch state; they send a message to the grain's own
// PID. Synchronous requests only flow one way, so no two grains ever wait on
// each other: UserSession -> MatchPool, UserSession -> Match. The other
// directions (MatchPool -> Match, Match -> UserSession, MatchPool ->
// UserSession) are fire-and-forget sends.
package actors
