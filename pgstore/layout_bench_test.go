package pgstore

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/sessionid/session"
	"github.com/stretchr/testify/require"
)

// BenchmarkLayout measures the choice of the store's layout: a row per
// value (the store) against all values in one jsonb column of the session
// row (jsonbLayout, a prototype kept only for this comparison). Besides time
// and allocations it reports, from the write-ahead log, the bytes and the
// heap rows (TOAST chunks included) each operation writes:
//
//	SESSION_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test go test -run '^$' -bench Layout -benchtime 2000x
func BenchmarkLayout(b *testing.B) {
	layouts := []struct {
		name string
		open func(b *testing.B, pool *pgxpool.Pool) layout
	}{
		{"rows", func(b *testing.B, pool *pgxpool.Pool) layout { return newTestStore(b, pool) }},
		{"jsonb", newJSONBLayout},
	}
	for _, l := range layouts {
		ops := []struct {
			name string
			run  func(ctx context.Context, s layout, key string, value []byte) error // value changes at each run
		}{
			{"update-1-of-20", func(ctx context.Context, s layout, key string, value []byte) error {
				now := time.Now()
				return s.Update(ctx, key, session.Delta{Set: map[string][]byte{"v07": value}, LastSeen: now, IdleDeadline: now.Add(time.Hour)})
			}},
			{"touch", func(ctx context.Context, s layout, key string, _ []byte) error {
				now := time.Now()
				return s.Update(ctx, key, session.Delta{LastSeen: now, IdleDeadline: now.Add(time.Hour)})
			}},
			{"load", func(ctx context.Context, s layout, key string, _ []byte) error {
				_, err := s.Load(ctx, key)
				return err
			}},
		}
		for _, op := range ops {
			b.Run(l.name+"/"+op.name, func(b *testing.B) {
				pool := testPool(b)
				s := l.open(b, pool)
				ctx := context.Background()
				key := newKey(b)
				require.NoError(b, s.Create(ctx, key, bigRecord(b, "alice", benchValues, benchSize)))
				probe := newWALProbe(b, pool, s.schema())
				// Two values in turn: writing the value a row holds already
				// would let PostgreSQL log only the change of the row.
				values := [2][]byte{randomBytes(b, benchSize), randomBytes(b, benchSize)}
				mark := probe.mark(b)
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					if err := op.run(ctx, s, key, values[n%2]); err != nil {
						b.Fatal(err)
					}
					n++
				}
				w := probe.since(b, mark)
				rows := 0
				for _, r := range w.Rows {
					rows += r
				}
				b.ReportMetric(float64(w.Bytes)/float64(n), "WAL-B/op")
				b.ReportMetric(float64(rows)/float64(n), "rows/op")
			})
		}
	}
}

// layout is what BenchmarkLayout needs of a way to store sessions.
type layout interface {
	Create(ctx context.Context, key string, rec *session.Record) error
	Load(ctx context.Context, key string) (*session.Record, error)
	Update(ctx context.Context, key string, d session.Delta) error
	schema() string
}

func (s *Store) schema() string { return schemaOf(s) }

// jsonbLayout keeps a session's values in a jsonb column of its row. jsonb
// holds neither NUL nor invalid UTF-8, so names and values are base64. It
// supports what the benchmark uses, no more.
type jsonbLayout struct {
	pool       *pgxpool.Pool
	schemaName string
	table      string
}

func newJSONBLayout(b *testing.B, pool *pgxpool.Pool) layout {
	schema := testSchema(b, pool)
	l := &jsonbLayout{pool: pool, schemaName: schema, table: pgx.Identifier{schema, "sessions"}.Sanitize()}
	for _, stmt := range []string{
		`CREATE TABLE ` + l.table + ` (
	key               bytea PRIMARY KEY,
	user_name         text,
	created_at        timestamptz,
	last_seen         timestamptz,
	issued_at         timestamptz,
	idle_deadline     timestamptz NOT NULL,
	absolute_deadline timestamptz NOT NULL,
	expires_at        timestamptz GENERATED ALWAYS AS (LEAST(idle_deadline, absolute_deadline)) STORED,
	client_ip         text,
	user_agent        bytea,
	remember          boolean NOT NULL DEFAULT false,
	vals              jsonb NOT NULL
)`,
		`CREATE INDEX ON ` + l.table + ` (user_name) WHERE user_name IS NOT NULL`,
		`CREATE INDEX ON ` + l.table + ` (expires_at)`,
	} {
		_, err := pool.Exec(context.Background(), stmt)
		require.NoError(b, err)
	}
	return l
}

func (l *jsonbLayout) schema() string { return l.schemaName }

func (l *jsonbLayout) Create(ctx context.Context, key string, rec *session.Record) error {
	_, err := l.pool.Exec(ctx, `INSERT INTO `+l.table+` (key, user_name, created_at, last_seen, issued_at,
	idle_deadline, absolute_deadline, client_ip, user_agent, remember, vals) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		[]byte(key), nullText(rec.User), nullTime(rec.CreatedAt), nullTime(rec.LastSeen), nullTime(rec.IssuedAt),
		rec.IdleDeadline, rec.AbsoluteDeadline, addrText(rec.ClientIP), []byte(rec.UserAgent), rec.Remember,
		encodeJSONValues(maps.Collect(rec.Values.All())))
	return err
}

func (l *jsonbLayout) Load(ctx context.Context, key string) (*session.Record, error) {
	var row recordRow
	var vals map[string]string
	err := l.pool.QueryRow(ctx, `SELECT user_name, created_at, last_seen, issued_at, idle_deadline, absolute_deadline,
	client_ip, user_agent, remember, vals FROM `+l.table+` WHERE key = $1 AND expires_at > now()`, []byte(key)).Scan(
		&row.user, &row.createdAt, &row.lastSeen, &row.issuedAt, &row.idleDeadline, &row.absDeadline,
		&row.clientIP, &row.userAgent, &row.remember, &vals)
	if err != nil {
		return nil, err
	}
	rec, err := row.record()
	if err != nil {
		return nil, err
	}
	values := make(map[string][]byte, len(vals))
	for name, v := range vals {
		n, err := base64.RawStdEncoding.DecodeString(name)
		if err != nil {
			return nil, err
		}
		if values[string(n)], err = base64.RawStdEncoding.DecodeString(v); err != nil {
			return nil, err
		}
	}
	rec.Values = session.ValuesOf(values)
	return rec, nil
}

// Update rewrites the jsonb column only when d changes values, so that a
// touch is as cheap as it can be in this layout.
func (l *jsonbLayout) Update(ctx context.Context, key string, d session.Delta) error {
	sql, args := `UPDATE `+l.table+` SET `+deltaFields+` WHERE key = $1::bytea AND expires_at > now()`, deltaArgs(key, &d)
	if changesValues(&d) {
		deleted := make([]string, len(d.Delete))
		for i, name := range d.Delete {
			deleted[i] = base64.RawStdEncoding.EncodeToString([]byte(name))
		}
		sql = `UPDATE ` + l.table + ` SET ` + deltaFields + `,
	vals = CASE WHEN $8::boolean THEN '{}'::jsonb ELSE vals - $9::text[] END || $10::jsonb
WHERE key = $1::bytea AND expires_at > now()`
		args = append(args, d.Clear, deleted, encodeJSONValues(d.Set))
	}
	tag, err := l.pool.Exec(ctx, sql, args...)
	if err == nil && tag.RowsAffected() == 0 {
		err = fmt.Errorf("jsonb layout: %w", session.ErrNotFound)
	}
	return err
}

// encodeJSONValues returns values as a JSON object of base64 strings.
func encodeJSONValues(values map[string][]byte) map[string]string {
	out := make(map[string]string, len(values))
	for name, v := range values {
		out[base64.RawStdEncoding.EncodeToString([]byte(name))] = base64.RawStdEncoding.EncodeToString(v)
	}
	return out
}
