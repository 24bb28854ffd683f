package session

import (
	"bytes"
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
