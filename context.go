package session

import (
	"context"
	"net/http"
)

// sessionKey is the context key under which the middleware stores sessions.
type sessionKey struct{}

// sessionNode links the sessions of nested managers in one context value.
type sessionNode struct {
	s     *Session
	outer *sessionNode
}

// sessionContext is a request's context with its session added: what
// context.WithValue would make, without an allocation of its own, since it
// lives in the request's requestState.
type sessionContext struct {
	context.Context
	node sessionNode
}

// Value returns the session node for sessionKey, and asks the parent
// context for any other key.
func (c *sessionContext) Value(key any) any {
	if key == (sessionKey{}) {
		return &c.node
	}
	return c.Context.Value(key)
}

// requestState is everything the middleware keeps for one request, in one
// allocation: the session, the response writer that saves it, the context
// that carries it to the handler, and the request the handler gets.
type requestState struct {
	session Session
	writer  responseWriter
	ctx     sessionContext
	req     http.Request
	vary    [1]string // the room of the response's Vary value
}

// attach makes ctx carry st's session, inside any session of an outer
// manager, and returns it.
func (st *requestState) attach(parent context.Context) context.Context {
	outer, _ := parent.Value(sessionKey{}).(*sessionNode)
	st.ctx.Context = parent
	st.ctx.node = sessionNode{s: &st.session, outer: outer}
	return &st.ctx
}

// FromContext returns the request's session, from the innermost Manager's
// middleware, or nil outside any middleware. With several managers, use
// Manager.FromContext.
func FromContext(ctx context.Context) *Session {
	if n, _ := ctx.Value(sessionKey{}).(*sessionNode); n != nil {
		return n.s
	}
	return nil
}

// FromContext returns the request's session of this manager, or nil outside
// its middleware.
func (m *Manager) FromContext(ctx context.Context) *Session {
	n, _ := ctx.Value(sessionKey{}).(*sessionNode)
	for ; n != nil; n = n.outer {
		if n.s.m == m {
			return n.s
		}
	}
	return nil
}
