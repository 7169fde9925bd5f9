package devserver

import (
	"errors"
	"fmt"
	"net"
	"strconv"

	"go.temporal.io/server/common/cluster"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/common/membership/static"
	sqliteplugin "go.temporal.io/server/common/persistence/sql/sqlplugin/sqlite"
	"go.temporal.io/server/common/primitives"

	"rimflow/deploy"
)

const clusterName = "active"

// sqliteConfig is the one SQLite file that holds both persistence and visibility.
//
// WAL lets readers (Temporal Web's list queries) proceed while the server writes; the plugin
// passes unknown connect attributes on as pragmas. One connection: the server shares it across
// its services through the plugin's pool, and SQLite allows only one writer anyway.
func sqliteConfig(dbPath string) *config.SQL {
	return &config.SQL{
		PluginName:   sqliteplugin.PluginName,
		DatabaseName: dbPath,
		ConnectAttributes: map[string]string{
			"mode":         "rwc",
			"journal_mode": "wal",
			// In WAL mode NORMAL survives any process crash; only an OS crash or power cut can
			// lose the last commits, which is the usual trade for a dev box.
			"synchronous":  "NORMAL",
			"busy_timeout": "10000",
		},
		MaxConns:     1,
		MaxIdleConns: 1,
	}
}

// servicePorts are the gRPC ports of the four services in this single process.
type servicePorts struct {
	host                                string
	frontend, history, matching, worker int
}

func (p servicePorts) addr(port int) string { return net.JoinHostPort(p.host, strconv.Itoa(port)) }

// staticHosts is the minimal in-memory membership: one host per service, this process.
// It replaces ringpop, which a single node does not need.
func (p servicePorts) staticHosts() map[primitives.ServiceName]static.Hosts {
	return map[primitives.ServiceName]static.Hosts{
		primitives.FrontendService: static.SingleLocalHost(p.addr(p.frontend)),
		primitives.HistoryService:  static.SingleLocalHost(p.addr(p.history)),
		primitives.MatchingService: static.SingleLocalHost(p.addr(p.matching)),
		primitives.WorkerService:   static.SingleLocalHost(p.addr(p.worker)),
	}
}

// sqlitePersistence keeps persistence and visibility in one SQLite file. One history shard: there
// is one writer anyway.
func sqlitePersistence(dbPath string) config.Persistence {
	return config.Persistence{
		DefaultStore:     sqliteplugin.PluginName,
		VisibilityStore:  sqliteplugin.PluginName,
		NumHistoryShards: 1,
		DataStores: map[string]config.DataStore{
			sqliteplugin.PluginName: {SQL: sqliteConfig(dbPath)},
		},
	}
}

func serverConfig(persistence config.Persistence, ports servicePorts) *config.Config {
	service := func(port int) config.Service {
		return config.Service{RPC: config.RPC{GRPCPort: port, BindOnIP: ports.host}}
	}
	return &config.Config{
		Global: config.Global{
			Membership: config.Membership{BroadcastAddress: ports.host},
		},
		Persistence: persistence,
		ClusterMetadata: &cluster.Config{
			EnableGlobalNamespace:    false,
			FailoverVersionIncrement: 10,
			MasterClusterName:        clusterName,
			CurrentClusterName:       clusterName,
			ClusterInformation: map[string]cluster.ClusterInformation{
				clusterName: {
					Enabled:                true,
					InitialFailoverVersion: 1,
					RPCAddress:             ports.addr(ports.frontend),
				},
			},
		},
		DCRedirectionPolicy: config.DCRedirectionPolicy{Policy: "noop"},
		Services: map[string]config.Service{
			string(primitives.FrontendService): service(ports.frontend),
			string(primitives.HistoryService):  service(ports.history),
			string(primitives.MatchingService): service(ports.matching),
			string(primitives.WorkerService):   service(ports.worker),
		},
		Archival: config.Archival{
			History:    config.HistoryArchival{State: "disabled"},
			Visibility: config.VisibilityArchival{State: "disabled"},
		},
		NamespaceDefaults: config.NamespaceDefaults{
			Archival: config.ArchivalNamespaceDefaults{
				History:    config.HistoryArchivalNamespaceDefaults{State: "disabled"},
				Visibility: config.VisibilityArchivalNamespaceDefaults{State: "disabled"},
			},
		},
		// The server's own system workers dial the frontend through this.
		PublicClient: config.PublicClient{HostPort: ports.addr(ports.frontend)},
	}
}

// dynamicConfig is the compose cluster's dynamic config (deploy/temporal/dynamicconfig.yaml, read
// with the server's own loader) plus what only an embedded single-process server wants. A key the
// server does not know, or a value it rejects, is an error: the file would carry the same mistake
// to every cluster.
func dynamicConfig() (dynamicconfig.StaticClient, error) {
	return loadDynamicConfig(deploy.TemporalDynamicConfig)
}

func loadDynamicConfig(yaml []byte) (dynamicconfig.StaticClient, error) {
	lr := dynamicconfig.LoadYamlFile(yaml)
	if err := errors.Join(append(lr.Errors, lr.Warnings...)...); err != nil {
		return nil, fmt.Errorf("deploy/temporal/dynamicconfig.yaml: %w", err)
	}
	client := dynamicconfig.StaticClient{}
	for key, values := range lr.Map {
		client[key] = values
	}
	// One partition per task queue: one matching host has nothing to balance, and polls match
	// sooner. A cluster keeps the default, which spreads load over its matching hosts.
	client[dynamicconfig.MatchingNumTaskqueueReadPartitions.Key()] = 1
	client[dynamicconfig.MatchingNumTaskqueueWritePartitions.Key()] = 1
	return client, nil
}

// freePort asks the kernel for a port that is free right now on host.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// resolveAddr splits host:port, fills an empty host with 127.0.0.1, and turns port 0 into a
// free port. It checks the port can be bound now, so a busy port is a clear error at start.
func resolveAddr(field, addr string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%s: %q is not host:port: %w", field, addr, err)
	}
	if h == "" {
		h = "127.0.0.1"
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%s: %q has no valid port", field, addr)
	}
	if port == 0 {
		port, err = freePort(h)
		if err != nil {
			return "", 0, fmt.Errorf("%s: %w", field, err)
		}
		return h, port, nil
	}
	l, err := net.Listen("tcp", net.JoinHostPort(h, strconv.Itoa(port)))
	if err != nil {
		return "", 0, fmt.Errorf("%s: cannot listen on %s: %w", field, addr, err)
	}
	_ = l.Close()
	return h, port, nil
}
