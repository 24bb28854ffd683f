package redisstore

import (
	"context"
	"fmt"
	"maps"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/sessionid/session"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUpdateCountsVersionLikeHINCRBY: an update leaves in the version field
// exactly what HINCRBY mn 1 would, or fails where HINCRBY fails, whatever the
// field holds: the versions newVersion starts records at, carries, a missing
// field, and values the store never writes. The renewal protocol in cluster
// mode compares versions written by every release of the store.
func TestUpdateCountsVersionLikeHINCRBY(t *testing.T) {
	c := testClient(t)
	s := newTestStore(t, c)
	ctx := context.Background()
	versions := []string{
		newVersion(), newVersion(), "1", "8", "9", "19", "99", "1299", "0",
		"999999999999999999", "4611686018427387903", "8999999999999999998",
		"8999999999999999999", "9000000000000000000", "9223372036854775806",
		"9223372036854775807", "99999999999999999999", "-5", "-1", "007", "",
		"abc", "1e3", " 12", "12 ", "+5", "0x10",
	}
	for _, v := range append(versions, "missing") {
		t.Run(fmt.Sprintf("%q", v), func(t *testing.T) {
			k := newKey(t)
			require.NoError(t, s.Create(ctx, k, liveRecord("")))
			twin := s.prefix + "twin:" + k
			if v == "missing" {
				require.NoError(t, c.HDel(ctx, s.sessionKey(k), fieldVersion).Err())
			} else {
				require.NoError(t, c.HSet(ctx, s.sessionKey(k), fieldVersion, v).Err())
				require.NoError(t, c.HSet(ctx, twin, fieldVersion, v).Err())
			}
			want, hincrbyErr := c.HIncrBy(ctx, twin, fieldVersion, 1).Result()

			err := s.Update(ctx, k, session.Delta{LastSeen: time.Now(), IdleDeadline: time.Now().Add(time.Hour)})
			if hincrbyErr != nil {
				require.Error(t, err, "HINCRBY fails: %v", hincrbyErr)
				return
			}
			require.NoError(t, err)
			_, version, err := s.load(ctx, k)
			require.NoError(t, err)
			assert.Equal(t, strconv.FormatInt(want, 10), version)
		})
	}
}

// TestUpdateDefeatsStaleSwap: after an update, the last step of a cluster
// renewal that read the record before it refuses, and one that read it
// after it goes through.
func TestUpdateDefeatsStaleSwap(t *testing.T) {
	c := testClient(t)
	s := newTestStore(t, c)
	ctx, k := context.Background(), newKey(t)
	require.NoError(t, s.Create(ctx, k, liveRecord("")))
	swap := func(version string) int64 {
		args := append(s.header(s.clock(), k, 2), version, "")
		n, err := swapScript.Run(ctx, c, []string{s.sessionKey(k)}, args...).Int64()
		require.NoError(t, err)
		return n
	}
	for range 12 { // past a carry, whatever the first version
		_, before, err := s.load(ctx, k)
		require.NoError(t, err)
		require.NoError(t, s.Update(ctx, k, session.Delta{Set: map[string][]byte{"a": []byte(before)}}))
		require.Equal(t, int64(2), swap(before), "the update changed the version")
	}
	_, after, err := s.load(ctx, k)
	require.NoError(t, err)
	require.Equal(t, int64(1), swap(after))
	_, err = s.Load(ctx, k)
	require.ErrorIs(t, err, session.ErrNotFound, "swapped for nothing")
}

// TestUpdateExpiry: after an update Redis drops the record at its earlier
// deadline, in milliseconds rounded up, whichever deadline that is and
// whether the delta moved the idle deadline or not.
func TestUpdateExpiry(t *testing.T) {
	c := testClient(t)
	s := newTestStore(t, c)
	ctx := context.Background()
	now := time.Now()
	// luaMillis is Lua's math.ceil(us / 1000), which rounds the
	// microseconds to a double first.
	luaMillis := func(t time.Time) int64 { return int64(math.Ceil(float64(t.UnixMicro()) / 1000)) }
	at := func(years int, d time.Duration) time.Time {
		return now.AddDate(years, 0, 0).Add(d).Truncate(time.Microsecond).Add(777 * time.Microsecond)
	}
	for _, tc := range []struct {
		name      string
		idle, abs time.Time // the record's
		newIdle   time.Time // the delta's, or zero
		want      time.Time
	}{
		{"new idle deadline first", at(0, time.Hour), at(0, 12*time.Hour), at(0, 2*time.Hour), at(0, 2*time.Hour)},
		{"new idle deadline past the absolute one", at(0, time.Hour), at(0, 12*time.Hour), at(0, 13*time.Hour), at(0, 12*time.Hour)},
		{"idle deadline unchanged", at(0, time.Hour), at(0, 12*time.Hour), time.Time{}, at(0, time.Hour)},
		{"absolute deadline first", at(0, 13*time.Hour), at(0, 12*time.Hour), time.Time{}, at(0, 12*time.Hour)},
		{"idle deadline on a millisecond", at(0, time.Hour), at(0, 12*time.Hour), now.Add(2 * time.Hour).Truncate(time.Millisecond), now.Add(2 * time.Hour).Truncate(time.Millisecond)},
		{"after 2255", at(300, time.Hour), at(300, 12*time.Hour), at(300, 2*time.Hour), at(300, 2*time.Hour)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := newKey(t)
			rec := liveRecord("")
			rec.IdleDeadline, rec.AbsoluteDeadline = tc.idle, tc.abs
			require.NoError(t, s.Create(ctx, k, rec))
			require.NoError(t, s.Update(ctx, k, session.Delta{Set: map[string][]byte{"a": []byte("1")}, IdleDeadline: tc.newIdle}))
			// PEXPIRETIME by hand: go-redis's Duration overflows after 2262.
			expireAt, err := c.Do(ctx, "PEXPIRETIME", s.sessionKey(k)).Int64()
			require.NoError(t, err)
			want := (tc.want.UnixMicro() + 999) / 1000
			if tc.want.UnixMicro() >= 1<<53 {
				want = luaMillis(tc.want)
			}
			assert.Equal(t, want, expireAt)
			got, err := s.Load(ctx, k)
			require.NoError(t, err)
			a, _ := got.Values.Get("a")
			assert.Equal(t, "1", string(a))
		})
	}
}

// TestExpiryMillis: what the client computes for the scripts is what ms()
// would have written, and it leaves to ms() the times where they differ.
func TestExpiryMillis(t *testing.T) {
	c := testClient(t)
	ctx := context.Background()
	lua := "return string.format('%.0f', math.ceil(tonumber(ARGV[1]) / 1000))"
	for _, us := range []int64{
		0, 1, 999, 1000, 1001, 1999, time.Now().UnixMicro(), time.Now().UnixMicro() / 1000 * 1000,
		1<<53 - 1001, 1<<53 - 1000, 1<<53 - 1, 1 << 53, 1<<53 + 1, -1, -999, -1000, -1001,
	} {
		ms := expiryMillis(time.UnixMicro(us))
		if us < 0 || us >= 1<<53 {
			assert.Empty(t, ms, "%d", us)
			continue
		}
		want, err := c.Eval(ctx, lua, nil, us).Text()
		require.NoError(t, err)
		assert.Equal(t, want, ms, "%d", us)
	}
}

// TestUpdateManyFields: an update that sets more fields than one HSET takes
// from a script writes them all, and still counts up the version once.
func TestUpdateManyFields(t *testing.T) {
	c := testClient(t)
	s := newTestStore(t, c)
	ctx := context.Background()
	// With the last-seen time and the idle deadline, 497 values make 998
	// items, which go in one HSET with the version; 498 make 1000; 5000 are
	// more than Lua unpacks at once.
	for _, n := range []int{497, 498, 1200, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			k := newKey(t)
			require.NoError(t, s.Create(ctx, k, liveRecord("", "old", "1")))
			_, before, err := s.load(ctx, k)
			require.NoError(t, err)
			d := session.Delta{Set: map[string][]byte{}, Delete: []string{"old"}, LastSeen: time.Now(), IdleDeadline: time.Now().Add(time.Hour)}
			for i := range n {
				d.Set[fmt.Sprint("k", i)] = []byte(fmt.Sprint(i))
			}
			require.NoError(t, s.Update(ctx, k, d))
			rec, after, err := s.load(ctx, k)
			require.NoError(t, err)
			values := maps.Collect(rec.Values.All())
			assert.Len(t, values, n)
			assert.Equal(t, fmt.Sprint(n-1), string(values[fmt.Sprint("k", n-1)]))
			b, err := strconv.ParseUint(before, 10, 64)
			require.NoError(t, err)
			assert.Equal(t, strconv.FormatUint(b+1, 10), after)
			assert.True(t, rec.IdleDeadline.Equal(d.IdleDeadline.Truncate(time.Microsecond)))
		})
	}
}
