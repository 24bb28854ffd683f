package mysqlstore_test

import (
	"database/sql"
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/sessionid/session/internal/testenv"
)

// dsnEnv is the variable that points the tests at a server.
const dsnEnv = "SESSION_TEST_MYSQL_DSN"

// exampleTables are the tables of the examples, which Migrate creates and
// TestMain drops, values first.
var exampleTables = []string{"myapp_sessions_values", "myapp_sessions"}

// TestMain runs the examples against the server of SESSION_TEST_MYSQL_DSN,
// which they find, as an application does, in MYSQL_DSN. An example cannot
// skip: where the variable is unset, the examples are left out of the run,
// and a line says so.
func TestMain(m *testing.M) {
	flag.Parse()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		testenv.MySQL.SkipExamples("mysqlstore", "MySQL or MariaDB")
		os.Exit(m.Run())
	}
	os.Setenv("MYSQL_DSN", dsn)
	code := m.Run()
	if err := dropExampleTables(dsn); err != nil {
		fmt.Fprintln(os.Stderr, "mysqlstore: dropping the examples' tables:", err)
		code = 1
	}
	os.Exit(code)
}

// dropExampleTables drops the examples' tables from the database of dsn.
func dropExampleTables(dsn string) error {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return err
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return err
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	for _, table := range exampleTables {
		if _, err := db.Exec("DROP TABLE IF EXISTS `" + table + "`"); err != nil {
			return err
		}
	}
	return nil
}
