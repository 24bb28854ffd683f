package frameworktest_test

import (
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/sessionid/session"
)

// echoApp is the test app on echo: the session middleware in echo's own
// stack through echo.WrapMiddleware, after its Recover; the session read
// from c.Request().Context(), path parameters from c.Param, errors returned
// to echo's error handler.
func echoApp(m *session.Manager) http.Handler {
	e := echo.New()
	e.Use(middleware.Recover(), echo.WrapMiddleware(m.Handler))
	e.POST("/login/:user", func(c echo.Context) error {
		s := session.FromContext(c.Request().Context())
		if err := s.Login(c.Param("user")); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
		return c.String(http.StatusOK, "hello "+c.Param("user"))
	})
	e.PUT("/values/:key", func(c echo.Context) error {
		v, err := io.ReadAll(c.Request().Body)
		if err == nil {
			err = session.FromContext(c.Request().Context()).Set(c.Param("key"), string(v))
		}
		if err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, err.Error())
		}
		return c.NoContent(http.StatusNoContent)
	})
	e.GET("/values/:key", func(c echo.Context) error {
		v, ok := session.Value[string](session.FromContext(c.Request().Context()), c.Param("key"))
		if !ok {
			return echo.ErrNotFound
		}
		return c.String(http.StatusOK, v)
	})
	e.POST("/logout", func(c echo.Context) error {
		if err := session.FromContext(c.Request().Context()).Invalidate(); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	})
	e.POST("/panic/:key", func(c echo.Context) error {
		_ = session.FromContext(c.Request().Context()).Set(c.Param("key"), changedBeforePanic)
		panic("handler failed")
	})
	e.GET("/stream/:key", func(c echo.Context) error {
		v, _ := session.Value[string](session.FromContext(c.Request().Context()), c.Param("key"))
		if err := c.String(http.StatusOK, v+"\n"); err != nil {
			return err
		}
		c.Response().Flush()
		hold(c.Request())
		return nil
	})
	return e
}
