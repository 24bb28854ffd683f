package redistest

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Counter is a go-redis hook, added with AddHook, that counts what a client
// sends: its round trips, one per command sent alone and one per pipeline,
// and its commands by name. It keeps counts, not a log, so that a
// benchmark's allocations do not grow with b.N. The zero value is ready; it
// is safe for concurrent use.
type Counter struct {
	mu   sync.Mutex
	sent Sent
}

// Sent is what a client sent between two calls of Counter.Take.
type Sent struct {
	Trips int            // round trips
	Calls map[string]int // commands by lower-case name, such as "evalsha"
	Order []string       // the names in Calls, in the order each was first sent
}

// String lists the commands in the order each was first sent, with a count
// where it was sent more than once: "hgetall evalsha", "evalsha×2".
func (s Sent) String() string {
	names := make([]string, len(s.Order))
	for i, name := range s.Order {
		names[i] = name
		if n := s.Calls[name]; n > 1 {
			names[i] = fmt.Sprintf("%s×%d", name, n)
		}
	}
	return strings.Join(names, " ")
}

// Take returns what was sent since the last Take, and starts counting anew.
func (c *Counter) Take() Sent {
	c.mu.Lock()
	defer c.mu.Unlock()
	sent := c.sent
	c.sent = Sent{}
	return sent
}

// DialHook leaves dialing as it is.
func (c *Counter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook counts a command sent alone.
func (c *Counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.record(cmd)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook counts a pipeline as one round trip.
func (c *Counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.record(cmds...)
		return next(ctx, cmds)
	}
}

// record counts one round trip that sent cmds.
func (c *Counter) record(cmds ...redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.sent.Calls == nil {
		c.sent.Calls = map[string]int{}
	}
	c.sent.Trips++
	for _, cmd := range cmds {
		name := cmd.Name()
		if c.sent.Calls[name] == 0 {
			c.sent.Order = append(c.sent.Order, name)
		}
		c.sent.Calls[name]++
	}
}
