package session

import (
	"context"
	"net/http"
)

type sessionKey struct{}

// sessionNode links the sessions of nested managers in one context value.
type sessionNode struct {
	s     *Session
	outer *sessionNode
}

// sessionContext is what context.WithValue would make, but it lives in the
// requestState, saving an allocation.
type sessionContext struct {
	context.Context
	node sessionNode
}

func (c *sessionContext) Value(key any) any {
	if key == (sessionKey{}) {
		return &c.node
	}
	return c.Context.Value(key)
}

// requestState is everything the middleware keeps for one request, in one
// allocation.
type requestState struct {
	session Session
	writer  responseWriter
	ctx     sessionContext
	req     http.Request
	vary    [1]string // room for the response's Vary value
}

// attach returns parent carrying st's session, inside any of an outer manager.
func (st *requestState) attach(parent context.Context) context.Context {
	outer, _ := parent.Value(sessionKey{}).(*sessionNode)
	st.ctx.Context = parent
	st.ctx.node = sessionNode{s: &st.session, outer: outer}
	return &st.ctx
}

// FromContext returns the request's session, from the innermost Manager's
// middleware, or nil outside any middleware. With several managers, use
// [Manager.FromContext].
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
