package frameworktest_test

import (
	"bufio"
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/sessionid/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// changedBeforePanic is the value the /panic route sets before it panics.
const changedBeforePanic = "changed before the panic"

// streamHold bounds how long the /stream route keeps its response open; the
// client gives up on the first line after half of it.
const streamHold = 10 * time.Second

// hold keeps a streaming response open until the client hangs up, or for
// streamHold at most.
func hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(streamHold):
	}
}

// frameworks are the routers under test. Each app serves the same routes,
// written in the framework's own idiom:
//
//	POST /login/{user}   Login(user), "hello {user}"
//	PUT  /values/{key}   Set(key, body), 204
//	GET  /values/{key}   the value, or 404
//	POST /logout         Invalidate, 204
//	POST /panic/{key}    Set(key, changedBeforePanic), then panic (with a recovery middleware only)
//	GET  /stream/{key}   the value and a newline, flushed; then holds the response open
var frameworks = []struct {
	name string
	app  func(m *session.Manager) http.Handler
	// recovery names the framework's panic-recovery middleware the app
	// uses, "" for none.
	recovery string
	// panicSaves says whether what a handler changed before it panicked is
	// saved: it is when the recovery's 500 goes out through the session's
	// response writer, which saves the session at its first byte.
	panicSaves bool
}{
	{name: "chi", app: chiApp, recovery: "middleware.Recoverer", panicSaves: false},
	{name: "gorilla/mux", app: muxApp},
	{name: "gin", app: ginApp, recovery: "gin.Recovery", panicSaves: true},
	{name: "echo", app: echoApp, recovery: "middleware.Recover", panicSaves: true},
}

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode) // no debug-mode banner and route listing
	os.Exit(m.Run())
}

func TestLoginWriteReadInvalidate(t *testing.T) {
	for _, fw := range frameworks {
		t.Run(fw.name, func(t *testing.T) {
			b := serve(t, fw.app)

			resp, _ := b.do(http.MethodGet, "/values/cart", "")
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			assert.Nil(t, sessionCookie(resp), "a visitor who stores nothing gets no cookie")

			resp, _ = b.do(http.MethodPut, "/values/cart", "book")
			require.Equal(t, http.StatusNoContent, resp.StatusCode)
			anonymous := b.sessionID()
			require.NotEmpty(t, anonymous, "storing a value starts a session")

			resp, body := b.do(http.MethodPost, "/login/alice", "")
			require.Equal(t, http.StatusOK, resp.StatusCode, body)
			assert.Equal(t, "hello alice", body)
			c := sessionCookie(resp)
			require.NotNil(t, c, "the login response, written by the framework, carries the new cookie")
			loggedIn := c.Value
			assert.NotEqual(t, anonymous, loggedIn, "login gives the session a new ID")
			assert.Equal(t, loggedIn, b.sessionID())

			_, body = b.do(http.MethodGet, "/values/cart", "")
			assert.Equal(t, "book", body, "the session keeps its values across the login")
			resp, _ = b.do(http.MethodPut, "/values/color", "blue")
			require.Equal(t, http.StatusNoContent, resp.StatusCode)
			resp, body = b.do(http.MethodGet, "/values/color", "")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "blue", body)
			assert.Equal(t, loggedIn, b.sessionID(), "writing and reading keep the ID")

			resp, _ = b.doWithID(http.MethodGet, "/values/cart", anonymous)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the ID from before the login leads nowhere")

			resp, _ = b.do(http.MethodPost, "/logout", "")
			require.Equal(t, http.StatusNoContent, resp.StatusCode)
			c = sessionCookie(resp)
			require.NotNil(t, c, "the logout response removes the cookie")
			assert.Negative(t, c.MaxAge, "the cookie is expired")
			assert.Empty(t, b.sessionID(), "the browser dropped the cookie")

			resp, _ = b.doWithID(http.MethodGet, "/values/color", loggedIn)
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the invalidated ID leads nowhere")
			if c := sessionCookie(resp); assert.NotNil(t, c, "a cookie that can never work again is removed") {
				assert.Negative(t, c.MaxAge)
			}
			resp, _ = b.do(http.MethodGet, "/values/color", "")
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		})
	}
}

func TestRecoveredPanic(t *testing.T) {
	for _, fw := range frameworks {
		if fw.recovery == "" {
			continue
		}
		t.Run(fw.name+" "+fw.recovery, func(t *testing.T) {
			b := serve(t, fw.app)
			resp, _ := b.do(http.MethodPut, "/values/color", "blue")
			require.Equal(t, http.StatusNoContent, resp.StatusCode)
			id := b.sessionID()

			resp, _ = b.do(http.MethodPost, "/panic/color", "")
			assert.Equal(t, http.StatusInternalServerError, resp.StatusCode, "the recovery answered")

			resp, body := b.do(http.MethodGet, "/values/color", "")
			require.Equal(t, http.StatusOK, resp.StatusCode, "the session survives the panic")
			assert.Equal(t, id, b.sessionID())
			want := "blue"
			if fw.panicSaves {
				want = changedBeforePanic
			}
			assert.Equal(t, want, body)
		})
	}
}

func TestStreaming(t *testing.T) {
	for _, fw := range frameworks {
		t.Run(fw.name, func(t *testing.T) {
			b := serve(t, fw.app)
			resp, _ := b.do(http.MethodPut, "/values/color", "blue")
			require.Equal(t, http.StatusNoContent, resp.StatusCode)

			ctx, cancel := context.WithTimeout(context.Background(), streamHold/2)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url.String()+"/stream/color", nil)
			require.NoError(t, err)
			resp, err = b.client.Do(req)
			require.NoError(t, err, "the response starts while the handler runs")
			defer resp.Body.Close()
			line, err := bufio.NewReader(resp.Body).ReadString('\n')
			require.NoError(t, err, "the flushed line arrives while the handler runs")
			assert.Equal(t, "blue\n", line)
		})
	}
}
