package testenv

import "net/http"

// DiscardWriter is the least an http.ResponseWriter can be: it keeps the
// header and the status and drops the body, so that a flood or a benchmark
// of millions of requests measures the handler, not a recorder. Code is
// the status written, 0 if none was. The zero value is ready; it is not
// safe for concurrent use.
type DiscardWriter struct {
	Code   int
	header http.Header
}

// Header returns the response header, made at the first call.
func (w *DiscardWriter) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header, 2)
	}
	return w.header
}

// Write drops p.
func (w *DiscardWriter) Write(p []byte) (int, error) { return len(p), nil }

// WriteHeader keeps code.
func (w *DiscardWriter) WriteHeader(code int) { w.Code = code }
