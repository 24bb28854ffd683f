package redisstore

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"
)

// call is one run of a script.
type call struct {
	script *redis.Script
	keys   []string
	args   []any
}

// run runs c: EVALSHA, and EVAL once should the server not have the script
// (the first run on a node, or after a restart).
func (s *Store) run(ctx context.Context, c call) error {
	return c.script.Run(ctx, s.client, c.keys, c.args...).Err()
}

// runAll runs calls in one pipeline, which in cluster mode goes to each
// node concerned in parallel: one round trip. It returns each call's reply
// and error. A call refused for an unknown script is sent again with its
// source; the others are never sent twice.
func (s *Store) runAll(ctx context.Context, calls []call) ([]any, []error) {
	replies, errs := make([]any, len(calls)), make([]error, len(calls))
	if len(calls) == 1 {
		replies[0], errs[0] = calls[0].script.Run(ctx, s.client, calls[0].keys, calls[0].args...).Result()
		return replies, errs
	}
	var retry []int
	s.pipeline(ctx, len(calls), func(p redis.Pipeliner, i int) *redis.Cmd {
		c := calls[i]
		return c.script.EvalSha(ctx, p, c.keys, c.args...)
	}, func(i int, reply any, err error) {
		if isNoScript(err) {
			retry = append(retry, i)
		}
		replies[i], errs[i] = reply, err
	})
	if len(retry) > 0 {
		s.pipeline(ctx, len(retry), func(p redis.Pipeliner, j int) *redis.Cmd {
			c := calls[retry[j]]
			return c.script.Eval(ctx, p, c.keys, c.args...)
		}, func(j int, reply any, err error) {
			replies[retry[j]], errs[retry[j]] = reply, err
		})
	}
	return replies, errs
}

// pipeline sends n commands built by queue in one pipeline and hands each
// reply to done.
func (s *Store) pipeline(ctx context.Context, n int, queue func(redis.Pipeliner, int) *redis.Cmd, done func(int, any, error)) {
	p := s.client.Pipeline()
	cmds := make([]*redis.Cmd, n)
	for i := range cmds {
		cmds[i] = queue(p, i)
	}
	_, _ = p.Exec(ctx) // each command carries its own error
	for i, cmd := range cmds {
		reply, err := cmd.Result()
		done(i, reply, err)
	}
}

func isNoScript(err error) bool {
	return err != nil && (errors.Is(err, redis.ErrNoScript) || redis.HasErrorPrefix(err, "NOSCRIPT"))
}
