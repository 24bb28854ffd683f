package session

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// idgenFailingReader fails every read with err.
type idgenFailingReader struct{ err error }

func (r idgenFailingReader) Read([]byte) (int, error) { return 0, r.err }

// idgenStaticGen returns the same ID (or error) every time.
type idgenStaticGen struct {
	id  string
	err error
}

func (g idgenStaticGen) NewID() (string, error) { return g.id, g.err }

var errIDGenTest = errors.New("idgen test: entropy exhausted")

func TestRandomIDGeneratorDefault(t *testing.T) {
	const draws = 10000
	seen := make(map[string]struct{}, draws)
	var g RandomIDGenerator
	for i := range draws {
		// Half through the manager's path, which calls crypto/rand itself.
		draw := g.NewID
		if i%2 == 1 {
			draw = func() (string, error) { return newID(g) }
		}
		id, err := draw()
		require.NoError(t, err)
		require.Len(t, id, 43)
		require.True(t, wellFormedID(id), "%q", id)
		raw, err := base64.RawURLEncoding.DecodeString(id)
		require.NoError(t, err, "%q must be unpadded base64url", id)
		require.Len(t, raw, 32)
		_, dup := seen[id]
		require.False(t, dup, "duplicate ID %q", id)
		seen[id] = struct{}{}
	}
}

func TestRandomIDGeneratorUsesReader(t *testing.T) {
	src := bytes.Repeat([]byte{0xff}, 32)
	id, err := RandomIDGenerator{Reader: bytes.NewReader(src)}.NewID()
	require.NoError(t, err)
	require.Equal(t, base64.RawURLEncoding.EncodeToString(src), id)
	require.Equal(t, strings.Repeat("_", 42)+"8", id, "base64url without padding, not standard base64")
}

func TestRandomIDGeneratorReaderErrors(t *testing.T) {
	tests := []struct {
		name    string
		reader  io.Reader
		wantErr error
	}{
		{"failing reader", idgenFailingReader{err: errIDGenTest}, errIDGenTest},
		{"empty reader", bytes.NewReader(nil), io.EOF},
		{"short reader", bytes.NewReader(make([]byte, 31)), io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := RandomIDGenerator{Reader: tt.reader}.NewID()
			require.ErrorIs(t, err, tt.wantErr)
			require.Empty(t, id, "no ID may come with an error")

			id, err = newID(RandomIDGenerator{Reader: tt.reader})
			require.Error(t, err)
			require.Empty(t, id)
		})
	}
}

func TestNewID(t *testing.T) {
	valid22 := strings.Repeat("A", 22)
	valid256 := strings.Repeat("z", 256)
	tests := []struct {
		name    string
		gen     idgenStaticGen
		wantID  string
		wantErr error
	}{
		{"shortest allowed", idgenStaticGen{id: valid22}, valid22, nil},
		{"longest allowed", idgenStaticGen{id: valid256}, valid256, nil},
		{"every allowed character", idgenStaticGen{id: "ABCXYZabcxyz0189-_0123"}, "ABCXYZabcxyz0189-_0123", nil},
		{"empty", idgenStaticGen{id: ""}, "", ErrWeakID},
		{"too short", idgenStaticGen{id: strings.Repeat("A", 21)}, "", ErrWeakID},
		{"too long", idgenStaticGen{id: strings.Repeat("A", 257)}, "", ErrWeakID},
		{"standard base64 plus", idgenStaticGen{id: strings.Repeat("A", 21) + "+"}, "", ErrWeakID},
		{"standard base64 slash", idgenStaticGen{id: strings.Repeat("A", 21) + "/"}, "", ErrWeakID},
		{"padding", idgenStaticGen{id: strings.Repeat("A", 22) + "=="}, "", ErrWeakID},
		{"cookie separator", idgenStaticGen{id: strings.Repeat("A", 22) + ";x"}, "", ErrWeakID},
		{"space", idgenStaticGen{id: strings.Repeat("A", 11) + " " + strings.Repeat("A", 11)}, "", ErrWeakID},
		{"NUL", idgenStaticGen{id: strings.Repeat("A", 22) + "\x00"}, "", ErrWeakID},
		{"non-ASCII", idgenStaticGen{id: strings.Repeat("A", 22) + "é"}, "", ErrWeakID},
		{"generator error", idgenStaticGen{id: valid22, err: errIDGenTest}, "", errIDGenTest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := newID(tt.gen)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				require.Empty(t, id, "a refused ID is never returned")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.wantID, id)
		})
	}
}

func TestWellFormedID(t *testing.T) {
	tests := []struct {
		name string
		id   string
		want bool
	}{
		{"default length", strings.Repeat("a", 43), true},
		{"22 characters", strings.Repeat("a", 22), true},
		{"21 characters", strings.Repeat("a", 21), false},
		{"256 characters", strings.Repeat("a", 256), true},
		{"257 characters", strings.Repeat("a", 257), false},
		{"empty", "", false},
		{"upper, lower, digits, dash, underscore", "AZaz09-_AZaz09-_AZaz09", true},
		{"plus", strings.Repeat("a", 22) + "+", false},
		{"slash", "/" + strings.Repeat("a", 22), false},
		{"equals", strings.Repeat("a", 22) + "=", false},
		{"dot", strings.Repeat("a", 11) + "." + strings.Repeat("a", 11), false},
		{"space", strings.Repeat("a", 22) + " ", false},
		{"quote", `"` + strings.Repeat("a", 22) + `"`, false},
		{"semicolon", strings.Repeat("a", 22) + ";", false},
		{"comma", strings.Repeat("a", 22) + ",", false},
		{"percent escape", strings.Repeat("a", 22) + "%41", false},
		{"NUL", strings.Repeat("a", 22) + "\x00", false},
		{"newline", strings.Repeat("a", 22) + "\n", false},
		{"DEL", strings.Repeat("a", 22) + "\x7f", false},
		{"high byte", strings.Repeat("a", 22) + "\xff", false},
		{"non-ASCII letter", strings.Repeat("a", 21) + "ä", false},
		{"characters just outside the ranges", "@[`{/:" + strings.Repeat("a", 20), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, wellFormedID(tt.id), "%q", tt.id)
		})
	}
}

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
