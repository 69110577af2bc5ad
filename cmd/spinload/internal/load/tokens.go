package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"syscall"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Mint signs a user token as the server's transport/auth expects: HS256
// with the shared secret, sub the user id, aud authenticated.
func Mint(secret, userID string, ttl time.Duration) (string, error) {
	now := time.Now()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": userID, "aud": "authenticated", "role": "authenticated",
		"iat": now.Unix(), "exp": now.Add(ttl).Unix(),
	}).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	return s, nil
}

// Check makes sure every target answers /readyz, and (when tokens are
// minted) accepts a minted token, so a wrong address or secret stops the
// run before any worker starts, with one line.
func Check(ctx context.Context, cfg Config) error {
	c := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(cfg.WaitReady)
	for _, base := range cfg.Targets {
		for {
			err := ready(ctx, c, base)
			if err == nil {
				break
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return err
			}
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
			}
		}
		if cfg.Secret == "" {
			continue
		}
		tok, err := Mint(cfg.Secret, UserID(cfg.RunID, 0), time.Minute)
		if err != nil {
			return err
		}
		res, err := get(ctx, c, base+"/api/me", tok)
		if err != nil {
			return reachError(base, err)
		}
		code := errorCode(res)
		if res.StatusCode == http.StatusUnauthorized {
			return fmt.Errorf("%s refused a minted token (401 %s): -secret must be the server's JWT_SECRET", base, code)
		}
	}
	return nil
}

// ready asks base's /readyz once.
func ready(ctx context.Context, c *http.Client, base string) error {
	res, err := get(ctx, c, base+"/readyz", "")
	if err != nil {
		return reachError(base, err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s is not ready: /readyz answered %d", base, res.StatusCode)
	}
	return nil
}

func get(ctx context.Context, c *http.Client, url, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return c.Do(req)
}

func reachError(base string, err error) error {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("cannot reach %s: connection refused (is the server running?)", base)
	}
	return fmt.Errorf("cannot reach %s: %v", base, err)
}

// BatchTokens fetches n users' tokens from POST /api/test/batch-setup, at
// most 1,000 a call, user i from Targets[i % len] and Pools[i % len], so
// they line up with the users the workers connect.
func BatchTokens(ctx context.Context, cfg Config) ([]string, error) {
	c := &http.Client{Timeout: 60 * time.Second}
	tokens := make([]string, cfg.Users)
	// Users are grouped by (target, pool) and each group is set up in
	// calls of at most 1,000.
	type group struct{ target, pool int }
	members := map[group][]int{}
	var order []group
	for i := range cfg.Users {
		g := group{i % len(cfg.Targets), i % len(cfg.Pools)}
		if _, ok := members[g]; !ok {
			order = append(order, g)
		}
		members[g] = append(members[g], i)
	}
	for _, g := range order {
		idx := members[g]
		for len(idx) > 0 {
			chunk := idx[:min(len(idx), 1000)]
			idx = idx[len(chunk):]
			got, err := batch(ctx, c, cfg, cfg.Targets[g.target], cfg.Pools[g.pool], len(chunk))
			if err != nil {
				return nil, err
			}
			for k, i := range chunk {
				tokens[i] = got[k]
			}
		}
	}
	return tokens, nil
}

func batch(ctx context.Context, c *http.Client, cfg Config, base, pool string, n int) ([]string, error) {
	body, _ := json.Marshal(map[string]any{"count": n, "pool": pool, "genders": cfg.Genders, "spin": false})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/test/batch-setup", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if cfg.TestKey != "" {
		req.Header.Set("x-test-api-key", cfg.TestKey)
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, reachError(base, err)
	}
	if res.StatusCode != http.StatusCreated {
		code := errorCode(res)
		switch res.StatusCode {
		case http.StatusUnauthorized:
			return nil, fmt.Errorf("%s refused batch-setup (401 %s): give -test-key the server's TEST_API_KEY, or mint tokens with -secret", base, code)
		case http.StatusNotFound:
			return nil, fmt.Errorf("%s has no /api/test/batch-setup (404): the server needs TEST_API_KEY set (or development mode), or mint tokens with -secret", base)
		}
		return nil, fmt.Errorf("%s: batch-setup answered %d %s", base, res.StatusCode, code)
	}
	defer res.Body.Close()
	var out struct {
		Users []struct {
			Token string `json:"token"`
		} `json:"users"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 16<<20)).Decode(&out); err != nil || len(out.Users) != n {
		return nil, fmt.Errorf("%s: batch-setup answered %d users, want %d (%v)", base, len(out.Users), n, err)
	}
	tokens := make([]string, n)
	for i, u := range out.Users {
		tokens[i] = u.Token
	}
	return tokens, nil
}
