package frameworktest_test

import (
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/sessionid/session"
	"github.com/stretchr/testify/assert"
)

// ginApp is the test app on gin: the engine, with gin.Recovery, wrapped by
// the session middleware; the session read from c.Request.Context(), path
// parameters from c.Param.
func ginApp(m *session.Manager) http.Handler {
	r := gin.New()
	r.Use(gin.Recovery())
	r.POST("/login/:user", func(c *gin.Context) {
		s := session.FromContext(c.Request.Context())
		if err := s.Login(c.Param("user")); err != nil {
			c.String(http.StatusBadRequest, "%v", err)
			return
		}
		c.String(http.StatusOK, "hello %s", c.Param("user"))
	})
	r.PUT("/values/:key", func(c *gin.Context) {
		v, err := c.GetRawData()
		if err == nil {
			err = session.FromContext(c.Request.Context()).Set(c.Param("key"), string(v))
		}
		if err != nil {
			c.String(http.StatusBadRequest, "%v", err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.GET("/values/:key", func(c *gin.Context) {
		v, ok := session.Value[string](session.FromContext(c.Request.Context()), c.Param("key"))
		if !ok {
			c.String(http.StatusNotFound, "no %s", c.Param("key"))
			return
		}
		c.String(http.StatusOK, "%s", v)
	})
	r.POST("/logout", func(c *gin.Context) {
		if err := session.FromContext(c.Request.Context()).Invalidate(); err != nil {
			c.String(http.StatusInternalServerError, "%v", err)
			return
		}
		c.Status(http.StatusNoContent)
	})
	r.POST("/panic/:key", func(c *gin.Context) {
		_ = session.FromContext(c.Request.Context()).Set(c.Param("key"), changedBeforePanic)
		panic("handler failed")
	})
	r.GET("/stream/:key", func(c *gin.Context) {
		v, _ := session.Value[string](session.FromContext(c.Request.Context()), c.Param("key"))
		c.String(http.StatusOK, "%s\n", v)
		c.Writer.Flush()
		hold(c.Request)
	})
	return m.Handler(r)
}

// TestGinContextWithFallback shows why the apps read the session from
// c.Request.Context(): *gin.Context is a context.Context too, but its Value
// reaches the request's context only with the engine's ContextWithFallback,
// so session.FromContext(c) is nil by default.
func TestGinContextWithFallback(t *testing.T) {
	cases := []struct {
		name     string
		fallback bool
		want     string
	}{
		{name: "default", fallback: false, want: "session.FromContext(c) == nil"},
		{name: "ContextWithFallback", fallback: true, want: "session.FromContext(c) != nil"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := serve(t, func(m *session.Manager) http.Handler {
				r := gin.New()
				r.ContextWithFallback = tc.fallback
				r.GET("/", func(c *gin.Context) {
					if session.FromContext(c) == nil {
						c.String(http.StatusOK, "session.FromContext(c) == nil")
						return
					}
					c.String(http.StatusOK, "session.FromContext(c) != nil")
				})
				return m.Handler(r)
			})
			_, body := b.do(http.MethodGet, "/", "")
			assert.Equal(t, tc.want, body)
		})
	}
}
