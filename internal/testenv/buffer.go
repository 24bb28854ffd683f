package testenv

import (
	"bytes"
	"sync"
)

// SyncBuffer is a bytes.Buffer for output that other goroutines write while
// the test reads it: a server's error log, a logger's lines, a child
// process's output. Its zero value is an empty buffer; it is safe for
// concurrent use.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p to the buffer.
func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
