package redisstore

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadRESP(t *testing.T) {
	in := "+OK\r\n-ERR bad\r\n:42\r\n$5\r\nhello\r\n$-1\r\n_\r\n#t\r\n" +
		"*2\r\n$1\r\na\r\n:1\r\n" + // array
		"%1\r\n+id\r\n:7\r\n" + // map: key, value
		">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n" + // push
		"|1\r\n+ttl\r\n:3\r\n+after the attribute\r\n" +
		"=8\r\ntxt:text\r\n"
	r := bufio.NewReader(strings.NewReader(in))
	want := []any{"OK", respError("ERR bad"), int64(42), "hello", nil, nil, true,
		[]any{"a", int64(1)}, []any{"id", int64(7)},
		respPush{"invalidate", []any{"key"}}, "after the attribute", "text"}
	for _, w := range want {
		v, err := readRESP(r)
		require.NoError(t, err)
		require.Equal(t, w, v)
	}
	_, err := readRESP(r)
	require.Error(t, err, "at the end of the input")

	for _, bad := range []string{"?x\r\n", "$3\r\nab", "*99999999999\r\n", "$-2\r\n", "+no line end", ":x\r\n"} {
		_, err := readRESP(bufio.NewReader(strings.NewReader(bad)))
		require.Error(t, err, "%q", bad)
	}
}

// FuzzRESP: a command the store writes reads back as the strings it holds;
// and any input gives a value or an error, never a panic, and never makes
// the reader allocate for lengths beyond maxRESPLength.
func FuzzRESP(f *testing.F) {
	f.Add([]byte("HELLO\x003"), []byte(">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"))
	f.Add([]byte("CLIENT\x00TRACKING\x00ON\x00BCAST\x00PREFIX\x00session:s:"), []byte("%2\r\n+a\r\n:1\r\n+b\r\n_\r\n"))
	f.Fuzz(func(t *testing.T, args, raw []byte) {
		parts := strings.Split(string(args), "\x00")
		v, err := readRESP(bufio.NewReader(bytes.NewReader(appendCommand(nil, parts...))))
		require.NoError(t, err)
		got := make([]string, 0, len(parts))
		for _, p := range v.([]any) {
			got = append(got, p.(string))
		}
		require.Equal(t, parts, got)

		r := bufio.NewReader(bytes.NewReader(raw))
		for range 8 {
			if _, err := readRESP(r); err != nil {
				break
			}
		}
	})
}
