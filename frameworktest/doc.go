// Package frameworktest proves that the session middleware works inside
// popular net/http routers and frameworks: chi, gorilla/mux, gin and echo.
// It holds tests only.
//
// # What the tests prove
//
// Each framework serves the same small app (chi_test.go, mux_test.go,
// gin_test.go, echo_test.go), written in its own idiom: its own routing with
// path parameters, one of its own middlewares (chi's Recoverer, gin.Recovery,
// echo's Recover; gorilla/mux has none, so the session middleware itself
// goes in through Router.Use), and its own way of writing a response. Over
// real HTTP (an httptest server and a client with a cookie jar), for every
// framework:
//
//   - TestLoginWriteReadInvalidate: a visitor who stores nothing gets no
//     cookie; storing a value starts a session; the response to a login,
//     written by the framework, carries a new ID; the session keeps its
//     values, and a value written is read back; the ID from before the
//     login leads nowhere; logging out removes the cookie, and the old ID
//     leads to no data and has its cookie removed, also through echo's
//     central error handler. Every response carries "Vary: Cookie".
//   - TestRecoveredPanic: after the framework's recovery answers a panic
//     with 500, the session goes on. What the handler changed before it
//     panicked is saved where the 500 goes out through the session's
//     response writer: with gin, whose engine the middleware wraps, and with
//     echo, whose Recover writes through the response that
//     echo.WrapMiddleware installed although Recover comes first. It is not
//     saved with chi, whose Recoverer sits outside the session middleware.
//   - TestStreaming: a flushed line reaches the client while the handler
//     still runs: no framework buffers the response.
//   - TestGinContextWithFallback: session.FromContext(c) with a *gin.Context
//     is nil unless the engine sets ContextWithFallback; the apps read
//     c.Request.Context().
//
// # What does not work
//
// fasthttp, and the frameworks built on it such as fiber, do not use
// net/http's Request and ResponseWriter. Their handlers cannot be wrapped by
// Manager.Handler, and the session, which lives in a net/http request's
// context, never reaches them. fiber's adaptor.HTTPMiddleware runs a net/http
// middleware to its end around an empty handler and only then runs the fiber
// handlers, so the session would be loaded and saved before the handler that
// uses it ran. What works is the other way round: a net/http handler tree,
// the session middleware included, served by fasthttp's server through
// fasthttpadaptor.NewFastHTTPHandler; its handlers are then net/http
// handlers.
//
// The module is separate from the core module so that the core needs no
// framework.
package frameworktest
