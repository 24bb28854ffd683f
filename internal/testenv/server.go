package testenv

import (
	"log"
	"net/http"
	"net/http/httptest"
	"testing"
)

// StartServer serves h on a loopback httptest server, closed when tb ends,
// and returns it with the buffer its ErrorLog writes to: net/http recovers
// a handler's panic and logs it there, so a test that requires the buffer
// to be empty catches a panic that the client only sees as a dropped
// connection.
func StartServer(tb testing.TB, h http.Handler) (*httptest.Server, *SyncBuffer) {
	tb.Helper()
	srv := httptest.NewUnstartedServer(h)
	errs := &SyncBuffer{}
	srv.Config.ErrorLog = log.New(errs, "", 0)
	srv.Start()
	tb.Cleanup(srv.Close)
	return srv, errs
}
