package testenv

import (
	"crypto/rand"
	"encoding/hex"
)

// RandomName returns prefix followed by 12 random hex digits, so that tests
// sharing one server, in one run or in runs at the same time, never pick
// the same schema, table or key prefix. It is a valid SQL identifier when
// prefix is one.
func RandomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand crashes the program instead
	return prefix + hex.EncodeToString(b[:])
}
