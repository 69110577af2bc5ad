package limit

// Action is one thing a client does that has a budget of its own.
type Action uint8

// The limited actions. The REST routes are grouped in classes (see
// transport/api): Rest* actions.
const (
	// Upgrade is a WebSocket upgrade (GET /ws).
	Upgrade Action = iota
	// Spin is a spin, from a socket or POST /api/spin.
	Spin
	// Vote is a vote, from a socket or POST /api/vote.
	Vote
	// Signal is a WebRTC signal relayed to the partner (trickle ICE comes
	// in bursts: its budget is larger).
	Signal
	// Command is every other socket or REST command (cancel, status).
	Command
	// Profile is a profile write (PUT /api/me, POST /api/dev/token).
	Profile
	// RestUser is any REST call of a signed-in user.
	RestUser
	// RestPublic is a public REST route (/api/queue/status, /status/ws,
	// an unknown /api/ route).
	RestPublic
	// RestToken is a route that issues tokens (/api/dev/token).
	RestToken
	// RestReport is the page's error reports (POST /api/client-errors).
	RestReport
	// RestAdmin is the admin and test routes (they need keys as well).
	RestAdmin
	// Sockets labels the refusals of the socket caps; it has no rate.
	Sockets
	// NumActions is the number of actions.
	NumActions
)

var actionNames = [NumActions]string{
	Upgrade: "upgrade", Spin: "spin", Vote: "vote", Signal: "signal", Command: "command",
	Profile: "profile", RestUser: "rest_user", RestPublic: "rest_public", RestToken: "rest_token",
	RestReport: "rest_report", RestAdmin: "rest_admin", Sockets: "sockets",
}

// String returns the action's name (a metric label and a header's policy name).
func (a Action) String() string {
	if a < NumActions {
		return actionNames[a]
	}
	return "unknown"
}

// ParseAction returns the action of a name.
func ParseAction(name string) (Action, bool) {
	for a, n := range actionNames {
		if n == name {
			return Action(a), true
		}
	}
	return 0, false
}

// Scope says whose budget a limit is.
type Scope uint8

// The scopes.
const (
	// User is a signed-in user's budget (kept by the UserSession).
	User Scope = iota
	// Address is a client address's budget (kept by its Limiter grain).
	Address
)

// String returns the scope's name (a metric label).
func (s Scope) String() string {
	if s == User {
		return "user"
	}
	return "address"
}
