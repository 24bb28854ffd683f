package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// storeKey is the base64url SHA-256 of id, under which a session is stored:
// a copy of the store gives nothing that works as a cookie. The fixed-size
// buffers keep the key string the only allocation.
func storeKey(id string) string {
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

// tagOf is a short one-way fingerprint of a store key, for logs and hooks.
func tagOf(key string) string {
	sum := sha256.Sum256([]byte("session tag\x00" + key))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

// sealSuccessor encrypts newID with a key derived from oldID, for a
// tombstone: only a holder of the old ID can learn the new one.
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
// changed bytes.
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
