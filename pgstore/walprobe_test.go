package pgstore

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

// walProbe measures what operations write, by reading the write-ahead log
// with pg_walinspect and keeping only the records on the relations of one
// schema (tables, their TOAST tables, their indexes): other tests that run
// meanwhile on the same server do not count.
type walProbe struct {
	pool   *pgxpool.Pool
	schema string            // quoted
	rels   map[uint64]string // relfilenode → "sessions", "values", "toast" or "index"
}

// written is what the WAL shows of some operations.
type written struct {
	// Rows counts heap tuples written (inserted, updated to a new version,
	// or deleted) per relation: "sessions", "values", "toast".
	Rows map[string]int
	// Index counts index entries inserted.
	Index int
	// Bytes is the size of the records, full-page images included.
	Bytes int
}

// newWALProbe installs pg_walinspect into schema (so that it is dropped with
// it) and learns the schema's relations: call it once the tables exist. It
// skips tb where the extension cannot be installed.
func newWALProbe(tb testing.TB, pool *pgxpool.Pool, schema string) *walProbe {
	tb.Helper()
	ctx := context.Background()
	quoted := pgx.Identifier{schema}.Sanitize()
	if _, err := pool.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_walinspect SCHEMA "+quoted); err != nil {
		tb.Skipf("pg_walinspect is needed to measure writes: %v", err)
	}
	rows, err := pool.Query(ctx, `
SELECT c.relfilenode::bigint,
	CASE WHEN c.relkind = 'i' THEN 'index' WHEN c.relname LIKE '%\_values' THEN 'values' ELSE 'sessions' END
FROM pg_class c WHERE c.relnamespace = $1::regnamespace AND c.relkind IN ('r', 'i')
UNION ALL
SELECT t.relfilenode::bigint, 'toast' FROM pg_class c JOIN pg_class t ON t.oid = c.reltoastrelid
WHERE c.relnamespace = $1::regnamespace
UNION ALL
SELECT i.relfilenode::bigint, 'index' FROM pg_class c JOIN pg_index x ON x.indrelid = c.reltoastrelid
JOIN pg_class i ON i.oid = x.indexrelid WHERE c.relnamespace = $1::regnamespace`, schema)
	require.NoError(tb, err)
	rels := map[uint64]string{}
	for rows.Next() {
		var node uint64
		var name string
		require.NoError(tb, rows.Scan(&node, &name))
		rels[node] = name
	}
	require.NoError(tb, rows.Err())
	return &walProbe{pool: pool, schema: quoted, rels: rels}
}

// mark returns the current end of the WAL, to pass to since.
func (p *walProbe) mark(tb testing.TB) string {
	tb.Helper()
	var lsn string
	require.NoError(tb, p.pool.QueryRow(context.Background(), "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn))
	return lsn
}

// blockRel finds the relfilenodes a WAL record's blocks belong to.
var blockRel = regexp.MustCompile(`rel \d+/\d+/(\d+)`)

// since returns what was written to the schema's relations from mark on.
func (p *walProbe) since(tb testing.TB, mark string) written {
	tb.Helper()
	ctx := context.Background()
	w := written{Rows: map[string]int{}}
	var grew bool
	require.NoError(tb, p.pool.QueryRow(ctx, "SELECT $1::pg_lsn < pg_current_wal_flush_lsn()", mark).Scan(&grew))
	if !grew {
		return w
	}
	rows, err := p.pool.Query(ctx, `
SELECT resource_manager, record_type, record_length, coalesce(block_ref, '')
FROM `+p.schema+`.pg_get_wal_records_info($1::pg_lsn, pg_current_wal_flush_lsn())`, mark)
	require.NoError(tb, err)
	for rows.Next() {
		var rmgr, typ, blocks string
		var length int
		require.NoError(tb, rows.Scan(&rmgr, &typ, &length, &blocks))
		rel := p.relationOf(blocks)
		if rel == "" {
			continue
		}
		w.Bytes += length
		switch {
		case rmgr == "Heap" && isTupleWrite(typ):
			w.Rows[rel]++
		case rmgr == "Btree" && (strings.HasPrefix(typ, "INSERT_LEAF") || strings.HasPrefix(typ, "INSERT_POST")):
			w.Index++
		}
	}
	require.NoError(tb, rows.Err())
	return w
}

// relationOf returns the kind of the first of the schema's relations that a
// record's blocks belong to, or "" if none.
func (p *walProbe) relationOf(blocks string) string {
	for _, m := range blockRel.FindAllStringSubmatch(blocks, -1) {
		if node, err := strconv.ParseUint(m[1], 10, 64); err == nil && p.rels[node] != "" {
			return p.rels[node]
		}
	}
	return ""
}

// isTupleWrite reports whether a heap record type writes a tuple (INSERT,
// UPDATE, HOT_UPDATE, DELETE, possibly with "+INIT" for a new page), as
// opposed to locking one or pruning a page.
func isTupleWrite(typ string) bool {
	typ, _, _ = strings.Cut(typ, "+")
	switch typ {
	case "INSERT", "UPDATE", "HOT_UPDATE", "DELETE":
		return true
	}
	return false
}
