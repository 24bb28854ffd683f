package session

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// IDGenerator makes new session IDs. An ID must be 22 to 256 characters of the
// base64url alphabet (A–Z, a–z, 0–9, '-', '_'), so that it needs no escaping
// in a cookie and carries at least 128 bits when random. The manager refuses
// an ID that breaks these rules, with [ErrWeakID], rather than issue it.
//
// Implementations must be safe for concurrent use.
type IDGenerator interface {
	// NewID returns a fresh, unpredictable ID, or an error. It must never
	// return a weak or empty ID in place of an error.
	NewID() (string, error)
}

const (
	idBytes  = 32 // a default ID's 256 bits
	minIDLen = 22
	maxIDLen = 256
)

// ErrWeakID is returned when an [IDGenerator] produces an ID that breaks its
// rules; such an ID is never issued.
var ErrWeakID = errors.New("session: generated ID is not 22–256 base64url characters")

// RandomIDGenerator is the default [IDGenerator]: 32 bytes from a random
// source, base64url without padding (43 characters).
//
// Its zero value reads from crypto/rand. It is safe for concurrent use when
// its Reader is.
type RandomIDGenerator struct {
	// Reader is the source of randomness; nil means crypto/rand.Reader.
	Reader io.Reader
}

// NewID returns 32 random bytes encoded as base64url without padding, or the
// random source's error.
func (g RandomIDGenerator) NewID() (string, error) {
	if g.Reader == nil {
		return newRandomID()
	}
	b := make([]byte, idBytes)
	if _, err := io.ReadFull(g.Reader, b); err != nil {
		return "", fmt.Errorf("session: reading random ID: %w", err)
	}
	return encodeID(b), nil
}

// newRandomID is apart from NewID so that its buffer stays on the stack.
func newRandomID() (string, error) {
	var b [idBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session: reading random ID: %w", err)
	}
	return encodeID(b[:]), nil
}

func encodeID(b []byte) string {
	var out [43]byte // base64 of 32 bytes, without padding
	base64.RawURLEncoding.Encode(out[:], b)
	return string(out[:])
}

// wellFormedID reports whether id has the shape of an ID this library can
// issue: the first check on a client's ID, so garbage never reaches the store.
func wellFormedID(id string) bool {
	if len(id) < minIDLen || len(id) > maxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !base64URLChar[id[i]] {
			return false
		}
	}
	return true
}

var base64URLChar = func() (table [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		table[c] = true
	}
	return table
}()

// newID asks gen for an ID and checks its shape.
func newID(gen IDGenerator) (string, error) {
	if g, ok := gen.(RandomIDGenerator); ok && g.Reader == nil {
		return newRandomID() // well formed by construction
	}
	id, err := gen.NewID()
	if err != nil {
		return "", err
	}
	if !wellFormedID(id) {
		return "", ErrWeakID
	}
	return id, nil
}
