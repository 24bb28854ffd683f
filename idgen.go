package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
)

// IDGenerator makes new session IDs. An ID must be at least 22 and at most
// 256 characters of the base64url alphabet (A–Z, a–z, 0–9, '-', '_'), so that
// it needs no escaping in a cookie and carries at least 128 bits when random.
// The manager checks every ID a generator returns and refuses one that breaks
// these rules rather than issue it.
//
// Implementations must be safe for concurrent use.
type IDGenerator interface {
	// NewID returns a fresh, unpredictable ID, or an error. It must never
	// return a weak or empty ID in place of an error.
	NewID() (string, error)
}

// idBytes is the length of a default ID before encoding: 256 bits.
const idBytes = 32

// Bounds of a well-formed ID; see IDGenerator.
const (
	minIDLen = 22
	maxIDLen = 256
)

// ErrWeakID is returned when an IDGenerator produces an ID that breaks the
// rules of IDGenerator; such an ID is never issued.
var ErrWeakID = errors.New("session: generated ID is not 22–256 base64url characters")

// RandomIDGenerator is the default IDGenerator: 32 bytes from a random
// source, base64url without padding (43 characters).
//
// Its zero value reads from crypto/rand. It is safe for concurrent use when
// its Reader is.
type RandomIDGenerator struct {
	// Reader is the source of randomness; nil means crypto/rand.Reader.
	// Tests set it to a failing reader to check that errors propagate.
	Reader io.Reader
}

// NewID returns 32 random bytes encoded as base64url without padding. An
// error from the random source is returned with no ID.
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

// newRandomID is NewID from crypto/rand. Kept apart from the io.Reader path,
// its buffer does not escape to the heap: the ID string is the only
// allocation.
func newRandomID() (string, error) {
	var b [idBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session: reading random ID: %w", err)
	}
	return encodeID(b[:]), nil
}

// encodeID returns the 32 bytes of b as base64url without padding.
func encodeID(b []byte) string {
	var out [43]byte // base64 of 32 bytes, without padding
	base64.RawURLEncoding.Encode(out[:], b)
	return string(out[:])
}

// wellFormedID reports whether id has the shape of an ID this library can
// issue. It is the first check on any ID that comes from a client, so that
// garbage never reaches the store.
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

// base64URLChar marks the bytes of the base64url alphabet.
var base64URLChar = func() (table [256]bool) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" {
		table[c] = true
	}
	return table
}()

// newID asks gen for an ID and checks its shape.
func newID(gen IDGenerator) (string, error) {
	if g, ok := gen.(RandomIDGenerator); ok && g.Reader == nil {
		return newRandomID() // well formed by construction: no check needed
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

// storeKey is the key under which a session is stored: the SHA-256 of its
// ID, base64url-encoded. The store never sees a raw ID, so a copy of the
// store gives nothing that works as a cookie.
func storeKey(id string) string {
	// The fixed-size buffers keep the hashing and encoding off the heap:
	// the key string is the only allocation.
	var in [maxIDLen]byte
	var sum [sha256.Size]byte
	if len(id) <= len(in) {
		sum = sha256.Sum256(in[:copy(in[:], id)])
	} else {
		sum = sha256.Sum256([]byte(id))
	}
	var out [43]byte // base64 of 32 bytes, without padding
	base64.RawURLEncoding.Encode(out[:], sum[:])
	return string(out[:])
}

// tagOf is a short, one-way fingerprint of a store key, for logs and hooks:
// it tells two sessions apart without giving away the ID or the key.
func tagOf(key string) string {
	sum := sha256.Sum256([]byte("session tag\x00" + key))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// sealSuccessor encrypts newID with a key derived from oldID, for the
// tombstone Renew leaves at the old key: only a client holding the old ID can
// learn the new one, and a copy of the store reveals neither.
func sealSuccessor(oldID, newID string) ([]byte, error) {
	aead, err := successorCipher(oldID)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(newID)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("session: reading nonce: %w", err)
	}
	return aead.Seal(nonce, nonce, []byte(newID), nil), nil
}

// openSuccessor reverses sealSuccessor; it fails for any other old ID or
// for sealed bytes that were changed.
func openSuccessor(oldID string, sealed []byte) (string, error) {
	aead, err := successorCipher(oldID)
	if err != nil {
		return "", err
	}
	if len(sealed) < aead.NonceSize() {
		return "", errors.New("session: sealed successor too short")
	}
	nonce, box := sealed[:aead.NonceSize()], sealed[aead.NonceSize():]
	plain, err := aead.Open(nil, nonce, box, nil)
	if err != nil {
		return "", fmt.Errorf("session: opening sealed successor: %w", err)
	}
	if !wellFormedID(string(plain)) {
		return "", errors.New("session: sealed successor is not an ID")
	}
	return string(plain), nil
}

func successorCipher(oldID string) (cipher.AEAD, error) {
	key := sha256.Sum256([]byte("session successor\x00" + oldID))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
