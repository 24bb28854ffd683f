package session

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestStoreKey(t *testing.T) {
	ids := []string{
		strings.Repeat("a", 43),
		strings.Repeat("a", 42) + "b",
		"ABCDEFGHIJKLMNOPQRSTUV",
		strings.Repeat("Z", 256),
	}
	keys := make(map[string]string)
	for _, id := range ids {
		t.Run(id[:min(len(id), 30)], func(t *testing.T) {
			sum := sha256.Sum256([]byte(id))
			want := base64.RawURLEncoding.EncodeToString(sum[:])
			key := storeKey(id)
			require.Equal(t, want, key)
			require.Equal(t, key, storeKey(id), "storeKey is deterministic")
			require.Len(t, key, 43)
			require.NotEqual(t, id, key)
			require.NotContains(t, key, id)
			require.NotContains(t, id, key)
			if other, dup := keys[key]; dup {
				t.Fatalf("IDs %q and %q share a key", other, id)
			}
			keys[key] = id
		})
	}
}

func TestTagOf(t *testing.T) {
	ids := []string{strings.Repeat("a", 43), strings.Repeat("a", 42) + "b", strings.Repeat("Q", 22)}
	tags := make(map[string]string)
	for _, id := range ids {
		key := storeKey(id)
		t.Run(id, func(t *testing.T) {
			tag := tagOf(key)
			require.Equal(t, tag, tagOf(key), "tagOf is stable")
			require.NotEmpty(t, tag)
			require.Len(t, tag, 16)
			require.NotEqual(t, key, tag)
			require.NotContains(t, tag, key)
			require.NotContains(t, key, tag, "the tag is not a piece of the key")
			require.NotContains(t, id, tag, "the tag is not a piece of the ID")
			require.False(t, strings.HasPrefix(key, tag[:8]), "the tag does not start like the key")
			require.NotEqual(t, tagOf(id), tag, "the tag depends on its input")
			if other, dup := tags[tag]; dup {
				t.Fatalf("keys of %q and %q share a tag", other, id)
			}
			tags[tag] = id
		})
	}
}

func TestSealSuccessor(t *testing.T) {
	oldID := strings.Repeat("o", 43)
	newID := "NEWnewNEWnewNEWnewNEWnewNEWnewNEWnewNEWnew1"
	sealed, err := sealSuccessor(oldID, newID)
	require.NoError(t, err)

	t.Run("round trip", func(t *testing.T) {
		got, err := openSuccessor(oldID, sealed)
		require.NoError(t, err)
		require.Equal(t, newID, got)
	})
	t.Run("sealed bytes hide both IDs", func(t *testing.T) {
		require.False(t, bytes.Contains(sealed, []byte(newID)), "the new ID must not be stored in clear")
		require.False(t, bytes.Contains(sealed, []byte(newID[:16])), "not even in part")
		require.False(t, bytes.Contains(sealed, []byte(oldID[:16])))
		require.False(t, bytes.Contains(sealed, []byte(base64.RawURLEncoding.EncodeToString([]byte(newID)))))
	})
	t.Run("each seal is different", func(t *testing.T) {
		again, err := sealSuccessor(oldID, newID)
		require.NoError(t, err)
		require.NotEqual(t, sealed, again, "a fresh nonce for every seal")
		got, err := openSuccessor(oldID, again)
		require.NoError(t, err)
		require.Equal(t, newID, got)
	})
	t.Run("another old ID cannot open it", func(t *testing.T) {
		for _, other := range []string{strings.Repeat("o", 42) + "p", newID, storeKey(oldID), ""} {
			got, err := openSuccessor(other, sealed)
			require.Error(t, err, "old ID %q", other)
			require.Empty(t, got)
		}
	})
	t.Run("every tampered byte is detected", func(t *testing.T) {
		for i := range sealed {
			tampered := bytes.Clone(sealed)
			tampered[i] ^= 0x01
			got, err := openSuccessor(oldID, tampered)
			require.Error(t, err, "flipped byte %d", i)
			require.Empty(t, got)
		}
	})
	t.Run("truncated or extended bytes are refused", func(t *testing.T) {
		cases := map[string][]byte{
			"nil":           nil,
			"empty":         {},
			"nonce only":    sealed[:12],
			"short nonce":   sealed[:5],
			"missing tag":   sealed[:len(sealed)-1],
			"extra byte":    append(bytes.Clone(sealed), 0),
			"nonce swapped": append(bytes.Repeat([]byte{0}, 12), sealed[12:]...),
		}
		for name, b := range cases {
			got, err := openSuccessor(oldID, b)
			require.Error(t, err, name)
			require.Empty(t, got, name)
		}
	})
	t.Run("a sealed non-ID is refused on opening", func(t *testing.T) {
		junk, err := sealSuccessor(oldID, "not an ID; way too odd")
		require.NoError(t, err)
		got, err := openSuccessor(oldID, junk)
		require.Error(t, err)
		require.Empty(t, got)
	})
}
