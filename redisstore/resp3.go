package redisstore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A minimal RESP3 reader and writer for the tracking connection of the
// local cache (tracking.go). That connection carries only HELLO, CLIENT
// TRACKING, PING and the server's invalidation pushes; go-redis offers no
// connection that delivers pushes while it waits for nothing.

// respPush is a RESP3 push message (">"): out of band, such as an
// invalidation.
type respPush []any

// respError is an error reply ("-" or "!").
type respError string

func (e respError) Error() string { return "redis: " + string(e) }

// maxRESPLength bounds the lengths the reader accepts: a corrupt length must
// not make it allocate gigabytes.
const maxRESPLength = 1 << 24

// readRESP reads one value: a string for simple, bulk and verbatim strings
// and for doubles and big numbers; an int64; nil; a bool; a respError; a
// []any for arrays, sets and maps (a map as its keys and values in turn);
// or a respPush. Attributes are read and dropped.
func readRESP(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("redisstore: malformed RESP line %q", line)
	}
	kind, body := line[0], line[1:len(line)-2]
	switch kind {
	case '+', ',', '(':
		return body, nil
	case '-':
		return respError(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '_':
		return nil, nil
	case '#':
		return body == "t", nil
	case '$', '=', '!':
		n, err := respLength(body)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		s := string(buf[:n])
		switch kind {
		case '!':
			return respError(s), nil
		case '=':
			_, s, _ = strings.Cut(s, ":") // the encoding, "txt:"
		}
		return s, nil
	case '*', '~', '>', '%', '|':
		n, err := respLength(body)
		if err != nil || n < 0 {
			return nil, err
		}
		if kind == '%' || kind == '|' {
			n *= 2
		}
		items := make([]any, 0, min(n, 64))
		for range n {
			v, err := readRESP(r)
			if err != nil {
				return nil, err
			}
			items = append(items, v)
		}
		switch kind {
		case '>':
			return respPush(items), nil
		case '|':
			return readRESP(r) // the value the attribute describes
		}
		return items, nil
	}
	return nil, fmt.Errorf("redisstore: unknown RESP type %q", kind)
}

// respLength parses an aggregate's or a string's length: -1 (null) or
// 0..maxRESPLength.
func respLength(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < -1 || n > maxRESPLength {
		return 0, errors.New("redisstore: malformed RESP length " + strconv.Quote(s))
	}
	return n, nil
}

// appendCommand appends args as a RESP command, an array of bulk strings.
func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}
