package benchmarks

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	scsmysql "github.com/alexedwards/scs/mysqlstore"
	"github.com/go-sql-driver/mysql"
	"github.com/sessionid/session"
	"github.com/sessionid/session/internal/testenv"
	"github.com/sessionid/session/mysqlstore"
)

// The MySQL workloads: this library's mysqlstore against scs's mysqlstore,
// both through go-sql-driver/mysql, on the server of
// SESSION_TEST_MYSQL_DSN (MariaDB or MySQL). scs's store names its table
// "sessions" in its SQL, so every library instance gets a database of its
// own, session_bench_<random>, created for it and dropped when it is done:
// nothing else on the server is touched. Each library connects the way its
// documentation shows: mysqlstore.New on the parsed DSN, then Migrate;
// scs on a pool of the DSN with parseTime=true (sql.OpenDB of the driver's
// connector, what sql.Open of the DSN makes) and the table of its README. The "ping" floor sends one COM_PING per request: a round trip
// and nothing else.
//
// Besides time and allocations, each sub-benchmark reports roundtrips/op:
// the round trips of the library's connections to the server per request
// (tripCounter).

// mysqlLibraryNames lists the libraries of the MySQL workloads in table
// order; "ping" is the floor.
var mysqlLibraryNames = []string{"session", "scs", "ping"}

// BenchmarkMySQLRead: an existing session in MySQL; the handler reads one
// int.
func BenchmarkMySQLRead(b *testing.B) {
	benchSQL(b, mysqlLibraryNames, newMySQLEnv(b).library, readHandler, 0)
}

// BenchmarkMySQLWrite: an existing session in MySQL; the handler
// increments the int.
func BenchmarkMySQLWrite(b *testing.B) {
	benchSQL(b, mysqlLibraryNames, newMySQLEnv(b).library, writeHandler, 1)
}

// mysqlEnv is one run of a MySQL workload: the configuration of
// SESSION_TEST_MYSQL_DSN and a pool of its own on it, which creates and
// drops the libraries' databases.
type mysqlEnv struct {
	cfg   *mysql.Config
	admin *sql.DB
}

// newMySQLEnv connects to the server of SESSION_TEST_MYSQL_DSN, or skips b.
func newMySQLEnv(b *testing.B) *mysqlEnv {
	b.Helper()
	env := testenv.MySQL
	dsn := os.Getenv(env.Env)
	if dsn == "" {
		b.Skipf("skipping the MySQL workloads: %s is not set (e.g. %s=%s; the benchmarks create a database of their own per library instance and drop it)", env.Env, env.Env, env.Example)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		b.Fatalf("parsing %s: %v", env.Env, err)
	}
	admin := openMySQL(b, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := admin.PingContext(ctx); err != nil {
		b.Fatalf("connecting to the server of %s: %v", env.Env, err)
	}
	return &mysqlEnv{cfg: cfg, admin: admin}
}

// openMySQL returns a pool on cfg, closed when b ends, as sql.Open of the
// DSN cfg was parsed from would.
func openMySQL(b *testing.B, cfg *mysql.Config) *sql.DB {
	b.Helper()
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(connector)
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Error(err)
		}
	})
	return db
}

// database creates a database of b's own and returns the configuration of
// the DSN pointed at it, its connections counted by the returned counter.
// The database is dropped when b ends.
func (e *mysqlEnv) database(b *testing.B) (*mysql.Config, *tripCounter) {
	b.Helper()
	name := testenv.RandomName("session_bench_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := e.admin.ExecContext(ctx, "CREATE DATABASE `"+name+"`"); err != nil {
		b.Fatalf("creating database %s: %v", name, err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := e.admin.ExecContext(ctx, "DROP DATABASE `"+name+"`"); err != nil {
			b.Errorf("dropping database %s: %v", name, err)
		}
	})
	cfg := e.cfg.Clone()
	cfg.DBName = name
	trips := &tripCounter{}
	cfg.DialFunc = trips.dial
	return cfg, trips
}

// library returns a fresh instance of the named library, on a database of
// its own, and the counter of its round trips.
func (e *mysqlEnv) library(b *testing.B, name string) (*library, *tripCounter) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, trips := e.database(b)
	switch name {
	case "session":
		store, err := mysqlstore.New(cfg, mysqlstore.WithCleanupInterval(0))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := store.Close(); err != nil {
				b.Error(err)
			}
		})
		if err := store.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		return newSession(b, session.WithStore(store)), trips
	case "scs":
		cfg.ParseTime = true // as the DSN of scs's README
		db := openMySQL(b, cfg)
		for _, stmt := range mysqlSCSSchema {
			if _, err := db.ExecContext(ctx, stmt); err != nil {
				b.Fatalf("scs's table: %v", err)
			}
		}
		return newSCS(b, scsmysql.NewWithCleanupInterval(db, scsCleanupOff)), trips
	case "ping":
		db := openMySQL(b, cfg)
		if err := db.PingContext(ctx); err != nil { // connects before the timed loop
			b.Fatal(err)
		}
		return pingFloor(name, db.PingContext), trips
	}
	b.Fatalf("unknown library %q", name)
	return nil, nil
}

// mysqlSCSSchema is the table scs's mysqlstore README asks for.
var mysqlSCSSchema = []string{
	`CREATE TABLE sessions (
	token CHAR(43) PRIMARY KEY,
	data BLOB NOT NULL,
	expiry TIMESTAMP(6) NOT NULL
)`,
	`CREATE INDEX sessions_expiry_idx ON sessions (expiry)`,
}

// tripCounter counts the round trips of the connections it dials: on each
// connection, the first read after a write ends one (a command sent, its
// answer awaited). Statements sent together count once, and a command that
// awaits no answer (COM_STMT_CLOSE) counts with the next one. Handshakes
// count too, but connections are made before the timed loop, unless the
// pool has to open one during it. Its zero value is ready; it is safe for
// concurrent use, and a nil *tripCounter counts nothing.
type tripCounter struct{ n atomic.Int64 }

// Take returns the round trips counted since the last Take, 0 for nil.
func (c *tripCounter) Take() int64 {
	if c == nil {
		return 0
	}
	return c.n.Swap(0)
}

// dial is a mysql.Config.DialFunc that counts the connection's round trips.
func (c *tripCounter) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: conn, trips: &c.n}, nil
}

// countedConn is a connection whose round trips are counted in trips.
type countedConn struct {
	net.Conn
	trips   *atomic.Int64
	written atomic.Bool // written since the last read
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.written.Store(true)
	return c.Conn.Write(p)
}

func (c *countedConn) Read(p []byte) (int, error) {
	if c.written.Swap(false) {
		c.trips.Add(1)
	}
	return c.Conn.Read(p)
}

// SyscallConn gives the driver the socket, as without the wrapper, for the
// liveness check it makes before reusing a connection; that check reads
// nothing from the connection.
func (c *countedConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.New("connection has no file descriptor")
	}
	return sc.SyscallConn()
}
