package testenv

import "time"

// WaitFor polls cond until it holds or d has passed, and reports whether it
// held: for what a background goroutine does in its own time.
func WaitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}
