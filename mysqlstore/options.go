package mysqlstore

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Defaults of the options; see each option.
const (
	DefaultTable           = "sessions"
	DefaultCleanupInterval = 5 * time.Minute
	DefaultCleanupBatch    = 1000
)

// Option configures a Store in New. Options only record what they are
// given; New checks the whole configuration and returns an error for a bad
// one.
type Option func(*config)

// config is the whole configuration of a Store, with every default set in
// defaultConfig.
type config struct {
	table           string
	cleanupInterval time.Duration
	cleanupBatch    int
	logger          *slog.Logger
}

func defaultConfig() config {
	return config{
		table:           DefaultTable,
		cleanupInterval: DefaultCleanupInterval,
		cleanupBatch:    DefaultCleanupBatch,
	}
}

// WithTable names the sessions table (default "sessions"), optionally
// qualified by its database ("myapp.sessions"). Each part must be a plain
// SQL identifier: a letter or underscore, then letters, digits or
// underscores. The name is always quoted in SQL. The values table is named
// after it: "<table>_values".
func WithTable(name string) Option { return func(c *config) { c.table = name } }

// WithCleanupInterval sets how often the store deletes expired records in
// the background (default 5 minutes). Expired records are never returned,
// whenever they are deleted. An interval of 0 turns the background cleanup
// off; Cleanup can then be called directly, from a cron job say.
func WithCleanupInterval(d time.Duration) Option {
	return func(c *config) { c.cleanupInterval = d }
}

// WithCleanupBatch bounds how many records one cleanup transaction deletes
// (default 1000), so that none holds many locks or runs long. A cleanup runs
// as many batches as it needs.
func WithCleanupBatch(n int) Option { return func(c *config) { c.cleanupBatch = n } }

// WithLogger sets the logger for errors of the background cleanup (default
// slog.Default()). Log records never contain a key or a value.
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// validate checks c and returns its table names, or every problem found,
// joined.
func (c *config) validate() (tables, error) {
	var errs []error
	t, err := parseTable(c.table)
	if err != nil {
		errs = append(errs, err)
	}
	if c.cleanupInterval < 0 {
		errs = append(errs, fmt.Errorf("mysqlstore: cleanup interval must not be negative, got %v", c.cleanupInterval))
	}
	if c.cleanupBatch <= 0 {
		errs = append(errs, fmt.Errorf("mysqlstore: cleanup batch must be positive, got %d", c.cleanupBatch))
	}
	return t, errors.Join(errs...)
}
