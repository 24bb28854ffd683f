package sqlitestore

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"
)

// Defaults of the options; see each option.
const (
	DefaultTable           = "sessions"
	DefaultCleanupInterval = 5 * time.Minute
	DefaultCleanupBatch    = 1000
	DefaultBusyTimeout     = 5 * time.Second
	DefaultReaders         = 4
)

// Option configures a Store in Open. Options only record what they are
// given; Open checks the whole configuration and returns an error for a bad
// one.
type Option func(*config)

// config is the whole configuration of a Store, with every default set in
// defaultConfig.
type config struct {
	table           string
	cleanupInterval time.Duration
	cleanupBatch    int
	busyTimeout     time.Duration
	readers         int
	fullSync        bool
	logger          *slog.Logger
	driver          string // the database/sql driver: "sqlite" (modernc.org/sqlite); tests wrap it
}

func defaultConfig() config {
	return config{
		table:           DefaultTable,
		cleanupInterval: DefaultCleanupInterval,
		cleanupBatch:    DefaultCleanupBatch,
		busyTimeout:     DefaultBusyTimeout,
		readers:         DefaultReaders,
		driver:          "sqlite",
	}
}

// WithTable names the sessions table (default "sessions"): a letter or
// underscore, then letters, digits or underscores. The values table and the
// indexes are named after it: "<table>_values", "<table>_user_idx" and
// "<table>_expires_idx". Several stores can share one file with different
// tables.
func WithTable(name string) Option { return func(c *config) { c.table = name } }

// WithCleanupInterval sets how often the store deletes expired records in
// the background (default 5 minutes). Expired records are never returned,
// whenever they are deleted. An interval of 0 turns the background cleanup
// off; Cleanup can then be called directly.
func WithCleanupInterval(d time.Duration) Option {
	return func(c *config) { c.cleanupInterval = d }
}

// WithCleanupBatch bounds how many records one cleanup transaction deletes
// (default 1000), so that the single writer is never held long: requests'
// writes run between batches.
func WithCleanupBatch(n int) Option { return func(c *config) { c.cleanupBatch = n } }

// WithBusyTimeout sets SQLite's busy_timeout (default 5 s): how long a
// connection waits for a lock held by another process using the same file
// (this process's own writes never contend: they take turns on one
// connection). It must be at least 1 ms.
func WithBusyTimeout(d time.Duration) Option { return func(c *config) { c.busyTimeout = d } }

// WithReaders sets how many connections serve Load and UserSessions
// (default 4). In WAL mode readers never wait for the writer.
func WithReaders(n int) Option { return func(c *config) { c.readers = n } }

// WithFullSync makes every commit wait for fsync (PRAGMA synchronous=FULL)
// when on. The default, off, is synchronous=NORMAL: in WAL mode a commit is
// safe from a crash of the process, but the last commits before a power
// loss or OS crash may be lost (the file is never corrupted). For sessions
// that is usually the right trade; FULL costs an fsync per write.
func WithFullSync(on bool) Option { return func(c *config) { c.fullSync = on } }

// WithLogger sets the logger for errors of the background cleanup (default
// slog.Default()). Log records never contain a key or a value.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// identifier is what WithTable accepts: no quoting or escaping can then be
// got wrong.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validate checks c and returns every problem found, joined.
func (c *config) validate() error {
	var errs []error
	if !identifier.MatchString(c.table) {
		errs = append(errs, fmt.Errorf("sqlitestore: table name %q is not a plain identifier (letters, digits, underscores)", c.table))
	}
	if c.cleanupInterval < 0 {
		errs = append(errs, fmt.Errorf("sqlitestore: cleanup interval must not be negative, got %v", c.cleanupInterval))
	}
	if c.cleanupBatch <= 0 {
		errs = append(errs, fmt.Errorf("sqlitestore: cleanup batch must be positive, got %d", c.cleanupBatch))
	}
	if c.busyTimeout < time.Millisecond {
		errs = append(errs, fmt.Errorf("sqlitestore: busy timeout must be at least 1ms, got %v", c.busyTimeout))
	}
	if c.readers <= 0 {
		errs = append(errs, fmt.Errorf("sqlitestore: readers must be positive, got %d", c.readers))
	}
	return errors.Join(errs...)
}
