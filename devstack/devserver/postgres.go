package devserver

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/log"
	postgresplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/postgresql"
	"go.temporal.io/server/tools/common/schema"
	sqltool "go.temporal.io/server/tools/sql"
)

// The PostgreSQL settings docker-compose.yml gives the server image (temporalio/server renders its
// embedded config template from DB, DBNAME, VISIBILITY_DBNAME…): the plugin, the two databases,
// the connection pools and the shard count left at the template's defaults. The production
// system test renders that template from the compose file and compares it with PostgresPersistence.
const (
	PostgresPlugin           = postgresplugin.PluginName // DB=postgres12
	DefaultPostgresDB        = "temporal"                // DBNAME
	postgresVisibilitySuffix = "_visibility"             // VISIBILITY_DBNAME = DBNAME + this
	PostgresNumHistoryShards = 4                         // NUM_HISTORY_SHARDS (fixed once a database is created)
	postgresMaxConns         = 20                        // SQL_MAX_CONNS, SQL_MAX_IDLE_CONNS
	postgresVisibilityConns  = 10                        // SQL_VIS_MAX_CONNS, SQL_VIS_MAX_IDLE_CONNS
	postgresMaxConnLifetime  = time.Hour                 // SQL_MAX_CONN_TIME, SQL_VIS_MAX_CONN_TIME
	postgresSchemaDir        = "postgresql/v12/"         // the embedded schemas: …temporal, …visibility
	postgresDefaultPort      = "5432"
)

// Postgres is where a server keeps its data in PostgreSQL: a server reachable at Addr, the main
// database Database and the visibility database Database_visibility, both created if missing.
type Postgres struct {
	Addr     string // host:port
	User     string
	password string
	Database string
	// Attributes are the URL's query parameters, passed to the driver (sslmode…).
	Attributes map[string]string
}

// ParsePostgresURL reads postgres://user:password@host:port/database?sslmode=disable. The
// database defaults to "temporal" (visibility then lives in "temporal_visibility", as in
// docker-compose.yml) and the port to 5432. Errors never repeat the password.
func ParsePostgresURL(raw string) (Postgres, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url's own error quotes the whole URL, password included.
		return Postgres{}, errors.New("postgres URL: not a URL (want postgres://user:password@host:port/database)")
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return Postgres{}, fmt.Errorf("postgres URL: scheme %q, want postgres://", u.Scheme)
	}
	if u.Hostname() == "" {
		return Postgres{}, errors.New("postgres URL: no host")
	}
	if u.User == nil || u.User.Username() == "" {
		return Postgres{}, errors.New("postgres URL: no user (postgres://user:password@host:port/database)")
	}
	port := u.Port()
	if port == "" {
		port = postgresDefaultPort
	}
	p := Postgres{
		Addr:       net.JoinHostPort(u.Hostname(), port),
		User:       u.User.Username(),
		Database:   strings.TrimPrefix(u.Path, "/"),
		Attributes: map[string]string{},
	}
	p.password, _ = u.User.Password()
	if p.Database == "" {
		p.Database = DefaultPostgresDB
	}
	if strings.Contains(p.Database, "/") {
		return Postgres{}, fmt.Errorf("postgres URL: database %q is not a name", p.Database)
	}
	for k, v := range u.Query() {
		p.Attributes[k] = v[len(v)-1]
	}
	return p, nil
}

// VisibilityDatabase is the database of the visibility store.
func (p Postgres) VisibilityDatabase() string { return p.Database + postgresVisibilitySuffix }

// String is the URL without the password, for logs.
func (p Postgres) String() string {
	return "postgres://" + p.User + "@" + p.Addr + "/" + p.Database
}

func (p Postgres) sql(database string, conns int) *config.SQL {
	attrs := map[string]string{}
	for k, v := range p.Attributes {
		attrs[k] = v
	}
	return &config.SQL{
		PluginName:        PostgresPlugin,
		DatabaseName:      database,
		ConnectAddr:       p.Addr,
		ConnectProtocol:   "tcp",
		User:              p.User,
		Password:          p.password,
		ConnectAttributes: attrs,
		MaxConns:          conns,
		MaxIdleConns:      conns,
		MaxConnLifetime:   postgresMaxConnLifetime,
	}
}

// PostgresPersistence is the server's persistence on p: what the compose file's server gets.
func PostgresPersistence(p Postgres) config.Persistence {
	return config.Persistence{
		DefaultStore:     "default",
		VisibilityStore:  "visibility",
		NumHistoryShards: PostgresNumHistoryShards,
		DataStores: map[string]config.DataStore{
			"default":    {SQL: p.sql(p.Database, postgresMaxConns)},
			"visibility": {SQL: p.sql(p.VisibilityDatabase(), postgresVisibilityConns)},
		},
	}
}

// preparePostgres does what the compose file's schema job (deploy/temporal/setup-schema.sh) does,
// with the same tool code and the same embedded schema files: for the main and the visibility
// database, create it (a no-op when it exists), set up the versioning tables when it has none,
// then apply every schema version not applied yet. It reports whether it set up the main database.
func preparePostgres(p Postgres, logger log.Logger) (created bool, err error) {
	for _, db := range []struct{ name, schema string }{
		{p.Database, postgresSchemaDir + "temporal"},
		{p.VisibilityDatabase(), postgresSchemaDir + "visibility"},
	} {
		fresh, err := prepareSchema(p, db.name, db.schema, logger)
		if err != nil {
			return false, err
		}
		created = created || (fresh && db.name == p.Database)
	}
	return created, nil
}

// prepareSchema brings one database to the schema version of this server release; it reports
// whether the database was new (no versioning tables yet).
func prepareSchema(p Postgres, name, schemaName string, logger log.Logger) (fresh bool, err error) {
	admin, err := sqltool.NewConnection(p.sql("", 1), logger) // the plugin falls back to the default database
	if err != nil {
		return false, fmt.Errorf("connect to PostgreSQL at %s as %s: %w", p.Addr, p.User, err)
	}
	err = admin.CreateDatabase(name)
	admin.Close()
	if err != nil {
		return false, fmt.Errorf("create database %s on %s: %w", name, p.Addr, err)
	}
	conn, err := sqltool.NewConnection(p.sql(name, 1), logger)
	if err != nil {
		return false, fmt.Errorf("connect to database %s on %s: %w", name, p.Addr, err)
	}
	defer conn.Close()
	if _, err := conn.ReadSchemaVersion(); err != nil {
		fresh = true
		if err := schema.NewSetupSchemaTask(conn, &schema.SetupConfig{InitialVersion: "0.0"}, logger).Run(); err != nil {
			return false, fmt.Errorf("set up schema versioning in %s: %w", name, err)
		}
	}
	update := &schema.UpdateConfig{DBName: name, SchemaName: schemaName}
	if err := schema.NewUpdateSchemaTask(conn, update, logger).Run(); err != nil {
		return false, fmt.Errorf("update schema of %s to %s: %w", name, schemaName, err)
	}
	return fresh, nil
}
