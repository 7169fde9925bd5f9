// Package config is the one place rimflow's programs read their configuration: the environment,
// and for secrets also a file named by <VAR>_FILE. Every variable is listed in Vars (the
// configuration page and the compose-consistency test are checked against it). Variables come
// in parts; each program loads the parts it uses (ForWorker, ForAPIServer, ForCLI, ForDevstack),
// so a setting one program does not read can never stop it. Errors name the variable; secrets are
// never printed.
//
// config is a leaf: it imports only the leaf libraries whose settings it reads (internal/access,
// internal/codec, internal/webhooks, internal/enterprises, invoicecloud), never the bill's domain
// or the programs' wiring. The policy file (PartPolicy) is listed and read here, but parsed by
// internal/app, because a policy speaks the workflows' vocabulary. The security libraries have
// readers of their own (LoadEnv); Load drives them with the values it read, so their variables are
// listed here, read once, and a secret's _FILE works the same for them.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"rimflow/internal/access"
	"rimflow/internal/codec"
	"rimflow/internal/enterprises"
	"rimflow/internal/webhooks"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/ultimate"
)

// Part is a group of variables one concern reads; parts combine with |.
type Part uint16

const (
	PartTemporal     Part = 1 << iota // the Temporal connection and task queue
	PartCloud                         // Invoice Cloud: the client's ultimate.Config
	PartWorker                        // the worker's own settings (metrics, workflow cache)
	PartAPI                           // the HTTP API's listen address, request timeout, codec server origins
	PartAccess                        // who may call the API and the codec server (internal/access)
	PartLog                           // the log level
	PartPolicy                        // the server-side policy of bills (internal/policy)
	PartCodec                         // payload encryption (internal/codec)
	PartWebhooks                      // where the bills' events go (the worker delivers, the API turns them on per bill)
	PartEnterprises                   // the enterprise registry file (企业授权配置): routing by tax number
	PartTracing                       // OpenTelemetry's standard OTEL_* variables (internal/tracing; the exporter reads them)
	PartWebhookStore                  // the webhooks registered through the API: their secrets' folder, the journal's retention
)

// What each program reads.
const (
	// ForWorker is the worker process: Temporal (payloads sealed), the cloud it calls, the
	// enterprises, its own settings, the webhooks it delivers to.
	ForWorker = PartTemporal | PartCodec | PartCloud | PartEnterprises | PartWorker | PartWebhooks | PartWebhookStore | PartLog | PartTracing
	// ForAPIServer is `starter serve`: Temporal (payloads sealed), the API, its clients and the
	// policy, the enterprises bills are checked against, the webhooks a start turns on.
	ForAPIServer = PartTemporal | PartCodec | PartAPI | PartAccess | PartPolicy | PartWebhooks | PartWebhookStore | PartEnterprises | PartLog | PartTracing
	// ForCLI is the starter verbs: they talk to Temporal (payloads sealed) and start bills as the
	// API would (policy, webhooks, enterprises).
	ForCLI = PartTemporal | PartCodec | PartPolicy | PartWebhooks | PartEnterprises
	// ForDevstack is the one-process stack: it embeds Temporal and points its worker at its own
	// simulator, so only the API's clients, the policy, payload encryption (keys default to a file
	// in its data dir), the webhooks and the log level come from the environment.
	ForDevstack = PartAccess | PartPolicy | PartCodec | PartWebhooks | PartWebhookStore | PartLog
)

// Temporal is how the worker, the API and the CLI reach Temporal.
type Temporal struct {
	Address   string
	Namespace string
	TaskQueue string
	// TLS files (PEM). Cert and Key go together; CA alone verifies the server with a private CA.
	TLSCert string
	TLSKey  string
	TLSCA   string
	// APIKey (Temporal Cloud) is sent as a bearer credential; implies TLS.
	APIKey string
	// Codec seals every payload the client sends and opens what it reads (nil: payloads travel as
	// they are). Loaded with PartCodec; every client temporalclient.Dial makes carries it.
	Codec *codec.Codec
}

// TLS reports whether the connection uses TLS.
func (t Temporal) TLS() bool { return t.TLSCert != "" || t.TLSCA != "" || t.APIKey != "" }

// Worker is the worker process's own settings.
type Worker struct {
	MetricsAddr string // /metrics listen address; empty = off
	// WorkflowCacheSize bounds the bills a worker keeps in memory between their events; an evicted
	// bill is replayed from its (short) history when its next event comes.
	WorkflowCacheSize int
	// MaxWatchers bounds the invoice watchers (one socket or long poll each) this worker runs at
	// once on the watchers' task queue; they never take a slot of the bills' cloud calls.
	MaxWatchers int
	// WatchGrace is how long a watcher keeps listening after its eventCode's pages die.
	WatchGrace time.Duration
	// EnterpriseGrace is how long a step of an enterprise the registry lost is retried before it
	// fails naming the enterprise (activities.Activities.EnterpriseGrace; negative: at once).
	EnterpriseGrace time.Duration
	// WatchHeartbeatTimeout is how long a watcher may go without a heartbeat before the server
	// gives it to another worker (a dead worker's watchers move on then).
	WatchHeartbeatTimeout time.Duration
	// DeductionBatchSize and DeductionInterval shape the batch deduction (options.deduction
	// batch): a period's batch workflow submits once it holds this many invoices, and a partial
	// batch every interval. Read when a period's batch workflow starts; it keeps them.
	DeductionBatchSize int
	DeductionInterval  time.Duration
	// StopTimeout is how long a stopping worker lets running activities finish; longer than the
	// cloud client's timeout, so a call in flight ends by itself.
	StopTimeout time.Duration
	// DeploymentName opts the worker into Worker Versioning: it polls as version
	// <DeploymentName>:<build ID> and the bills it starts stay on it until they continue as new
	// (docs/releases.md). Empty: unversioned, every worker runs every bill.
	DeploymentName string
}

// API is the HTTP API's settings (`starter serve`).
type API struct {
	Addr string
	// OpsAddr is the ops listener's address ("" none): /metrics and /healthz without a token
	// there, and no /metrics on Addr.
	OpsAddr string
	// Clients are who may call the API and its codec server (PartAccess); none = open, which only
	// a loopback listener may be (access.CheckListen).
	Clients *access.Clients
	// Token is the single client's token when it came from RIMFLOW_API_TOKEN (the devstack's demo
	// uses it); empty with a clients file.
	Token          string
	RequestTimeout time.Duration
	// ReissueMargin is stamped on the bills the API starts (workflows.Options.ReissueMargin).
	ReissueMargin time.Duration
	// CodecOrigins are the Temporal Web origins the codec server answers with CORS.
	CodecOrigins []string
	// PublicURL is the API's address as browsers reach it ("" unknown); https there marks the
	// codec server's session cookie Secure, TLS terminated in front or not.
	PublicURL string
}

// Config is a program's configuration; only the loaded parts are filled.
type Config struct {
	Temporal Temporal
	// Cloud is the Invoice Cloud client's own configuration, validated by the client's rules.
	// The program attaches Logger and Observe before ultimate.New.
	Cloud    ultimate.Config
	Worker   Worker
	API      API
	LogLevel slog.Level
	// Tracing says whether an OTLP endpoint is set (internal/tracing exports spans then).
	Tracing bool
	// Webhooks are the ERP's webhook targets per resource (empty registry: none).
	Webhooks *webhooks.Registry
	// WebhookStore is how the webhooks registered through the API are kept and checked (its
	// Client and TaskQueue are the program's to set).
	WebhookStore webhooks.Settings
	// Enterprises is the registry's content: from EnterprisesFile, else (with PartCloud) the one
	// enterprise Cloud describes, serving any tax number. Nil: no registry known (any tax number).
	Enterprises     []enterprises.Spec
	EnterprisesFile string
	// PushMaxAge refuses a push whose timestamp is further than this from now (PartEnterprises;
	// the push receiver's MaxAge [assumed]).
	PushMaxAge time.Duration
	// Codec is payload encryption as asked for (PartCodec). With PartTemporal the codec is built
	// into Temporal.Codec (on without keys is an error); the devstack builds its own from these
	// settings, creating a key file when none is configured.
	Codec codec.Settings

	loaded Part // what Load filled, so the redacted views show only that
}

// Var documents one environment variable.
type Var struct {
	Name    string
	Default string
	Meaning string
	Secret  bool // also read from <Name>_FILE; never printed
	Part    Part
}

// DefaultTaskQueue is the bills' task queue when RIMFLOW_TASK_QUEUE is unset: workflows.DefaultTaskQueue,
// written out so this leaf needs nothing of the domain (internal/app's tests hold them equal).
const DefaultTaskQueue = "rimflow-bills"

// DefaultAPIRequestTimeout bounds one API call (RIMFLOW_API_REQUEST_TIMEOUT unset); the API
// takes it as its own default.
const DefaultAPIRequestTimeout = 30 * time.Second

// Variable names.
const (
	EnvTemporalAddress   = "RIMFLOW_TEMPORAL_ADDRESS"
	EnvTemporalNamespace = "RIMFLOW_TEMPORAL_NAMESPACE"
	EnvTaskQueue         = "RIMFLOW_TASK_QUEUE"
	EnvTemporalTLSCert   = "RIMFLOW_TEMPORAL_TLS_CERT"
	EnvTemporalTLSKey    = "RIMFLOW_TEMPORAL_TLS_KEY"
	EnvTemporalTLSCA     = "RIMFLOW_TEMPORAL_TLS_CA"
	EnvTemporalAPIKey    = "RIMFLOW_TEMPORAL_API_KEY"
	EnvCloudBaseURL      = "RIMFLOW_CLOUD_BASE_URL"
	EnvCloudAuthMode     = "RIMFLOW_CLOUD_AUTH_MODE"
	EnvCloudTokenPlace   = "RIMFLOW_CLOUD_TOKEN_PLACEMENT"
	EnvCloudAppID        = "RIMFLOW_CLOUD_APP_ID"
	EnvCloudAppSecret    = "RIMFLOW_CLOUD_APP_SECRET"
	EnvCloudTenantID     = "RIMFLOW_CLOUD_TENANT_ID"
	EnvCloudAccountID    = "RIMFLOW_CLOUD_ACCOUNT_ID"
	EnvCloudUser         = "RIMFLOW_CLOUD_USER"
	EnvCloudClientID     = "RIMFLOW_CLOUD_CLIENT_ID"
	EnvCloudClientSecret = "RIMFLOW_CLOUD_CLIENT_SECRET"
	EnvCloudUsername     = "RIMFLOW_CLOUD_USERNAME"
	EnvCloudUnbindType   = "RIMFLOW_CLOUD_UNBIND_MESSAGE_TYPE"
	// EnvCloudVoucherReverseType is the [assumed] voucher reversal's messageType (反记账).
	EnvCloudVoucherReverseType = "RIMFLOW_CLOUD_VOUCHER_REVERSE_MESSAGE_TYPE"
	// EnvCloudScanPointsOperate is the image system's [assumed] operateType listing its scanning points.
	EnvCloudScanPointsOperate = "RIMFLOW_CLOUD_SCAN_POINTS_OPERATE"
	// EnvCloudNothingBound are the [assumed] codes of an unbind of a bill holding nothing (comma-separated).
	EnvCloudNothingBound = "RIMFLOW_CLOUD_NOTHING_BOUND_CODES"
	// EnvCloudBusinessSystemCode is the deduction's businessSystemCode.
	EnvCloudBusinessSystemCode = "RIMFLOW_CLOUD_BUSINESS_SYSTEM_CODE"
	EnvCloudPollPath           = "RIMFLOW_CLOUD_POLL_PATH"
	EnvCloudReceiptPath        = "RIMFLOW_CLOUD_RECEIPT_PATH"
	EnvLogLevel                = "RIMFLOW_LOG_LEVEL"
	EnvMetricsAddr             = "RIMFLOW_METRICS_ADDR"
	EnvWorkflowCacheSize       = "RIMFLOW_WORKFLOW_CACHE_SIZE"
	EnvMaxWatchers             = "RIMFLOW_MAX_WATCHERS"
	EnvWatchGrace              = "RIMFLOW_WATCH_GRACE"
	EnvWatchHeartbeat          = "RIMFLOW_WATCH_HEARTBEAT_TIMEOUT"
	EnvDeductionBatchSize      = "RIMFLOW_DEDUCTION_BATCH_SIZE"
	EnvDeductionInterval       = "RIMFLOW_DEDUCTION_INTERVAL"
	EnvEnterpriseGrace         = "RIMFLOW_ENTERPRISE_GRACE"
	EnvStopTimeout             = "RIMFLOW_WORKER_STOP_TIMEOUT"
	EnvDeploymentName          = "RIMFLOW_DEPLOYMENT_NAME"
	EnvWebhooksFile            = "RIMFLOW_WEBHOOKS_FILE"
	EnvWebhookSecretsDir       = "RIMFLOW_WEBHOOK_SECRETS_DIR"
	EnvWebhookJournalKeep      = "RIMFLOW_WEBHOOK_JOURNAL_KEEP"
	EnvWebhookJournalMax       = "RIMFLOW_WEBHOOK_JOURNAL_MAX"
	EnvEnterprisesFile         = "RIMFLOW_ENTERPRISES_FILE"
	EnvPushMaxAge              = "RIMFLOW_PUSH_MAX_AGE"
	EnvAPIAddr                 = "RIMFLOW_API_ADDR"
	EnvAPIOpsAddr              = "RIMFLOW_API_OPS_ADDR"
	EnvAPIToken                = access.EnvToken
	EnvAPIRequestTimeout       = "RIMFLOW_API_REQUEST_TIMEOUT"
	EnvReissueMargin           = "RIMFLOW_REISSUE_MARGIN"
	EnvCodecOrigins            = "RIMFLOW_CODEC_ORIGINS"
	EnvPublicAPIURL            = "RIMFLOW_PUBLIC_API_URL"
	EnvAPIClientsFile          = access.EnvClientsFile
	EnvAPIClientName           = access.EnvClientName
	EnvAPIClientOps            = access.EnvClientOperations
	EnvAPIClientRes            = access.EnvClientResources
	EnvPolicyFile              = "RIMFLOW_POLICY_FILE" // policy.EnvPolicyFile (internal/app's tests hold them equal)
	EnvPayloadEncryption       = codec.EnvEncryption
	EnvCodecKeys               = codec.EnvKeys
	EnvCloudInsecureHTTP       = "RIMFLOW_CLOUD_INSECURE_HTTP"
	// EnvCloudKeepsOmitted is the [assumed] reading of billSave (docs/invoicecloud.md).
	EnvCloudKeepsOmitted = "RIMFLOW_CLOUD_BILLSAVE_KEEPS_OMITTED"
	// EnvCloudPollKey is the [assumed] derivation of the long poll's key (docs/invoicecloud.md).
	EnvCloudPollKey = "RIMFLOW_CLOUD_POLL_KEY"
)

// OpenTelemetry's own names (not RIMFLOW_): internal/tracing turns tracing on when one of the
// endpoints is set, and the OTLP exporter reads them and the other OTEL_EXPORTER_OTLP_* itself.
const (
	EnvOTLPEndpoint       = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvOTLPTracesEndpoint = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvOTLPHeaders        = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvOTelServiceName    = "OTEL_SERVICE_NAME"
)

// Vars lists every variable any program reads, in a stable order, with its default, meaning and
// part. Secret variables are also read from <Name>_FILE (the file's content, trimmed).
func Vars() []Var {
	paths, types := ultimate.DefaultPaths(), ultimate.DefaultMessageTypes()
	return []Var{
		{Name: EnvTemporalAddress, Default: "127.0.0.1:7233", Meaning: "Temporal frontend host:port", Part: PartTemporal},
		{Name: EnvTemporalNamespace, Default: "default", Meaning: "Temporal namespace", Part: PartTemporal},
		{Name: EnvTaskQueue, Default: DefaultTaskQueue, Meaning: "task queue of the bill workflows", Part: PartTemporal},
		{Name: EnvTemporalTLSCert, Meaning: "client certificate file (PEM) for mTLS; needs " + EnvTemporalTLSKey, Part: PartTemporal},
		{Name: EnvTemporalTLSKey, Meaning: "client key file (PEM) for mTLS; needs " + EnvTemporalTLSCert, Part: PartTemporal},
		{Name: EnvTemporalTLSCA, Meaning: "CA file (PEM) that verifies the Temporal server; empty = system roots", Part: PartTemporal},
		{Name: EnvTemporalAPIKey, Meaning: "Temporal Cloud API key (implies TLS)", Secret: true, Part: PartTemporal},
		{Name: EnvCloudBaseURL, Default: "http://127.0.0.1:8090", Meaning: "Invoice Cloud base URL (default: the local simulator)", Part: PartCloud},
		{Name: EnvCloudAuthMode, Default: string(ultimate.AuthLegacy), Meaning: "legacy (app_token -> access_token) or oauth2", Part: PartCloud},
		{Name: EnvCloudTokenPlace, Default: string(ultimate.TokenInHeader), Meaning: "where the access token travels: header or query", Part: PartCloud},
		{Name: EnvCloudAppID, Meaning: "legacy auth: appId", Part: PartCloud},
		{Name: EnvCloudAppSecret, Meaning: "legacy auth: appSecuret", Secret: true, Part: PartCloud},
		{Name: EnvCloudTenantID, Meaning: "legacy auth: tenantid", Part: PartCloud},
		{Name: EnvCloudAccountID, Meaning: "accountId (data centre id), both auth modes", Part: PartCloud},
		{Name: EnvCloudUser, Meaning: "legacy auth: user (mobile or user name)", Part: PartCloud},
		{Name: EnvCloudClientID, Meaning: "oauth2 auth: client_id", Part: PartCloud},
		{Name: EnvCloudClientSecret, Meaning: "oauth2 auth: client_secret", Secret: true, Part: PartCloud},
		{Name: EnvCloudUsername, Meaning: "oauth2 auth: username", Part: PartCloud},
		{Name: EnvCloudUnbindType, Default: types.Unbind, Meaning: "[assumed] messageType of the unbind call", Part: PartCloud},
		{Name: EnvCloudScanPointsOperate, Default: invoicecloud.DefaultScanPointsOperate, Meaning: "[assumed] operateType of the image system's scanning-point list (operate {operateType, requestId}); an enterprise's scanPointsOperate overrides it", Part: PartCloud},
		{Name: EnvCloudVoucherReverseType, Default: types.VoucherReverse, Meaning: "[assumed] messageType of the voucher reversal (反记账), data {vouchId, vouchNo, resource, serialNoArray, expenseIdArray}", Part: PartCloud},
		{Name: EnvCloudNothingBound, Default: strings.Join(ultimate.DefaultNothingBoundCodes, ","), Meaning: "[assumed] the codes (comma-separated) with which the cloud answers the unbind of a bill holding nothing, counted as done; an enterprise's nothingBoundCodes overrides them", Part: PartCloud},
		{Name: EnvCloudBusinessSystemCode, Default: ultimate.DefaultBusinessSystemCode, Meaning: "the deduction's businessSystemCode, as the tenant registered it; an enterprise's businessSystemCode overrides it", Part: PartCloud},
		{Name: EnvCloudPollPath, Default: paths.PollData, Meaning: "[assumed] long-poll path", Part: PartCloud},
		{Name: EnvCloudReceiptPath, Default: paths.PollReceipt, Meaning: "[assumed] poll receipt path", Part: PartCloud},
		{Name: EnvCloudKeepsOmitted, Default: "false", Meaning: "[assumed] reading of billSave: true = the cloud's billSave only adds and updates the invoices it names (a removed invoice is released alone), false = its list replaces the bill's set; an enterprises file entry may say billSaveKeepsOmitted", Part: PartCloud},
		{Name: EnvCloudPollKey, Default: string(invoicecloud.PollKeyMD5), Meaning: "[assumed] the long poll's key: md5 = MD5(linkKey) (the standard edition's public shape), linkKey = the linkKey itself; an enterprises file entry may say pollKey", Part: PartCloud},
		{Name: EnvCloudInsecureHTTP, Default: "false", Meaning: "true allows a plain http Invoice Cloud URL off loopback (only the compose simulator on its private network); otherwise such a URL must be https", Part: PartCloud},
		{Name: EnvLogLevel, Default: "info", Meaning: "debug, info, warn or error", Part: PartLog},
		{Name: EnvOTLPEndpoint, Meaning: "OpenTelemetry (standard variable): OTLP/HTTP collector base URL, e.g. http://collector:4318; set, the program exports one trace per bill (docs/operations.md); empty = no tracing", Part: PartTracing},
		{Name: EnvOTLPTracesEndpoint, Meaning: "OpenTelemetry (standard variable): the traces endpoint alone, overriding " + EnvOTLPEndpoint + " for traces; set, tracing is on", Part: PartTracing},
		{Name: EnvOTLPHeaders, Meaning: "OpenTelemetry (standard variable): headers sent to the collector (key=value,…), e.g. its API key; read by the exporter only, never logged", Part: PartTracing},
		{Name: EnvOTelServiceName, Meaning: "OpenTelemetry (standard variable): overrides the service name the spans carry (rimflow-worker, rimflow-api)", Part: PartTracing},
		{Name: EnvMetricsAddr, Meaning: "listen address of the worker's /metrics (e.g. :9090 on a private network; served without a token, so a public IP is refused, as for RIMFLOW_API_OPS_ADDR); empty = off", Part: PartWorker},
		{Name: EnvWorkflowCacheSize, Default: "256", Meaning: "bills a worker keeps cached in memory; more are replayed from history on their next event", Part: PartWorker},
		{Name: EnvMaxWatchers, Default: "10000", Meaning: "invoice watchers (sockets, long polls) one worker runs at once, on the watchers' own task queue", Part: PartWorker},
		{Name: EnvWatchGrace, Default: "2m", Meaning: "how long a watcher keeps listening after its eventCode's pages die (at most 25m)", Part: PartWorker},
		{Name: EnvDeductionBatchSize, Default: "100", Meaning: "batch deduction: a period's batch workflow submits once it holds this many invoices (1 to 1000); read when the period's batch starts", Part: PartWorker},
		{Name: EnvDeductionInterval, Default: "1h", Meaning: "batch deduction: how often a partial batch is submitted (10s to 24h); read when the period's batch starts", Part: PartWorker},
		{Name: EnvWatchHeartbeat, Default: "5m", Meaning: "how soon a dead worker's watchers move to another worker (their heartbeat timeout, 1s to 10m); each idle watcher's heartbeat is a server write every 0.8 x this", Part: PartWorker},
		{Name: EnvEnterpriseGrace, Default: "5m", Meaning: "how long a bill's step is retried while its enterprise is missing from the registry (a reload that lost it) before the bill fails naming it; 0 = at once (at most 24h)", Part: PartWorker},
		{Name: EnvStopTimeout, Default: "20s", Meaning: "how long a stopping worker lets running activities finish; must exceed the cloud client's timeout (15s)", Part: PartWorker},
		{Name: EnvDeploymentName, Meaning: "Worker Versioning (opt-in): the worker deployment this worker belongs to; it polls as version <name>:<build ID> (the release version), a new bill stays on the version current at its start and moves to a newer one at its next continue-as-new (docs/releases.md). Empty = unversioned", Part: PartWorker},
		{Name: EnvPushMaxAge, Default: invoicecloud.DefaultPushMaxAge.String(), Meaning: "[assumed] how far a pushed invoice's timestamp may be from now (POST /v1/push): older is refused as a replay, unless it repeats a push already taken (1m to 24h)", Part: PartEnterprises},
		{Name: EnvEnterprisesFile, Meaning: "YAML file of the enterprises (tax number, name, edition, credentials by env:/file: reference, orgNumber, scanPoint, push); reloaded on SIGHUP or change. Empty: RIMFLOW_CLOUD_* describe one enterprise", Part: PartEnterprises},
		{Name: EnvWebhooksFile, Meaning: "YAML file of the ERP's webhooks per resource (URLs, secret by env:/file: reference); empty = no events", Part: PartWebhooks},
		{Name: EnvWebhookSecretsDir, Meaning: "the folder whose files may sign the webhooks clients register through the API (`file:` references must name a file in it; docs/webhooks.md); empty = only `env:" + webhooks.EnvSecretPrefix + "NAME` references. Set alike for the API and the worker", Part: PartWebhookStore},
		{Name: EnvWebhookJournalKeep, Default: "168h", Meaning: "[assumed] how long each resource's journal keeps the events of webhooks registered through the API, for replay (1h to 720h)", Part: PartWebhookStore},
		{Name: EnvWebhookJournalMax, Default: "1000", Meaning: "[assumed] the most events each resource's journal keeps (the oldest go first; 10 to 2000)", Part: PartWebhookStore},
		{Name: EnvAPIAddr, Default: "127.0.0.1:8080", Meaning: "listen address of the HTTP API (starter serve)", Part: PartAPI},
		{Name: EnvAPIOpsAddr, Meaning: "listen address of the API's ops listener (e.g. :9091 on a private network): GET /metrics and GET /healthz without a token, for the scraper and the probes; set, the API's own listener no longer serves /metrics (404). Empty: /metrics is on the API's listener and needs a client with the `metrics` operation. A public IP is refused (docs/security.md)", Part: PartAPI},
		{Name: EnvAPIRequestTimeout, Default: DefaultAPIRequestTimeout.String(), Meaning: "how long one API call may wait for Temporal and the worker", Part: PartAPI},
		{Name: EnvReissueMargin, Default: "2m", Meaning: "a bill started through the API replaces an eventCode expiring within this when a collect or view URL is asked for (1s to 5m; the vendor's eventCode lives 10m)", Part: PartAPI},
		{Name: EnvCodecOrigins, Meaning: "Temporal Web origins (comma-separated, e.g. http://127.0.0.1:8233) the codec server at /v1/codec answers with CORS; empty = programs and the temporal CLI only", Part: PartAPI},
		{Name: EnvPublicAPIURL, Meaning: "the API's URL as browsers reach it (scheme://host[:port], e.g. https://rimflow.example.com behind a TLS-terminating proxy); https marks the codec sign-in cookie Secure; empty = only a TLS request or X-Forwarded-Proto: https does", Part: PartAPI},
		{Name: EnvAPIClientsFile, Meaning: "the API's access clients file (YAML or JSON: token hash or reference, operations, resources per client; docs/security.md)", Part: PartAccess},
		{Name: EnvAPIToken, Meaning: "without a clients file: the token of the one API client; neither = open API (loopback only)", Secret: true, Part: PartAccess},
		// No Default here: access.LoadEnv refuses these without the token, so an unset one must read as unset.
		{Name: EnvAPIClientName, Meaning: "with " + EnvAPIToken + ": that client's name, recorded on its decisions (default `default`)", Part: PartAccess},
		{Name: EnvAPIClientOps, Meaning: "with " + EnvAPIToken + ": that client's operations, comma-separated (default `admin`; docs/security.md)", Part: PartAccess},
		{Name: EnvAPIClientRes, Meaning: "with " + EnvAPIToken + ": the resources it may act on, comma-separated (default `*`, every resource)", Part: PartAccess},
		{Name: EnvPolicyFile, Meaning: "the policy file: approval chain, image mode, options a caller may choose, segregation of duties, Temporal Web signals, per billType/resource; empty = the built-in default", Part: PartPolicy},
		{Name: EnvPayloadEncryption, Default: "on", Meaning: "on: every Temporal payload is encrypted (AES-256-GCM); off: new payloads in clear (configured keys still decrypt old ones)", Part: PartCodec},
		{Name: EnvCodecKeys, Meaning: "payload keys, newest first: k2:<base64 32 bytes>,k1:…; the first encrypts, all decrypt (devstack: a key file in its data dir); keys derived from them sign the API's and the CLI's updates, and the worker believes an update's actor only under such a signature (keep the old keys for replay too)", Secret: true, Part: PartCodec},
	}
}

// VarsFor lists the variables of the given parts, in Vars' order.
func VarsFor(parts Part) []Var {
	var out []Var
	for _, v := range Vars() {
		if parts&v.Part != 0 {
			out = append(out, v)
		}
	}
	return out
}

// Load reads the given parts through getenv (os.Getenv in production, a map in tests). Variables
// of other parts are not read at all. Every error names the variable; all problems are reported
// at once, the cloud settings' as the client's one verdict.
func Load(getenv func(string) string, parts Part) (Config, error) {
	vals := map[string]string{}
	var errs []error
	unread := map[string]bool{}
	for _, v := range VarsFor(parts) {
		val, err := read(getenv, v)
		if err != nil {
			errs = append(errs, err)
			unread[v.Name] = true
			continue
		}
		vals[v.Name] = val
	}
	l := loader{get: func(name string) string { return vals[name] }, raw: getenv, unread: unread}
	c := Config{loaded: parts}
	if parts&PartTemporal != 0 {
		c.Temporal = l.temporal()
	}
	if parts&PartEnterprises != 0 {
		c.EnterprisesFile = l.get(EnvEnterprisesFile)
		if d, err := time.ParseDuration(l.get(EnvPushMaxAge)); err != nil || d < time.Minute || d > 24*time.Hour {
			l.bad(EnvPushMaxAge, "want a duration from 1m to 24h, got %q", l.get(EnvPushMaxAge))
		} else {
			c.PushMaxAge = d
		}
	}
	if parts&PartCloud != 0 {
		c.Cloud = l.cloud(c.EnterprisesFile == "")
		if c.EnterprisesFile == "" {
			c.Enterprises = enterprises.FromEnv(c.Cloud)
		}
	}
	if c.EnterprisesFile != "" {
		// The file describes every enterprise; RIMFLOW_CLOUD_* give only what they share (the
		// [assumed] names). Credentials in both places would be ambiguous.
		for _, f := range cloudFields(&ultimate.Config{}) {
			if credentialVar(f.env) && parts&PartCloud != 0 && l.get(f.env) != "" {
				l.bad(f.env, "the enterprises come from %s: set credentials there, not here", EnvEnterprisesFile)
			}
		}
		specs, err := enterprises.ReadFile(c.EnterprisesFile, c.Cloud, getenv)
		if err != nil {
			l.bad(EnvEnterprisesFile, "%v", err)
		}
		c.Enterprises = specs
	}
	if parts&PartWorker != 0 {
		c.Worker = l.worker()
	}
	if parts&(PartAPI|PartAccess) != 0 {
		c.API = l.api(parts)
	}
	if parts&PartWebhooks != 0 {
		// The file's secrets are references to variables or files, resolved here too.
		r, err := webhooks.Load(l.get(EnvWebhooksFile), getenv)
		if err != nil {
			l.bad(EnvWebhooksFile, "%v", err)
		}
		c.Webhooks = r
	}
	if parts&PartWebhookStore != 0 {
		c.WebhookStore = l.webhookStore()
	}
	if parts&PartCodec != 0 {
		c.Codec = l.codec()
		if parts&PartTemporal != 0 && !l.unread[EnvCodecKeys] && !l.failed(EnvCodecKeys, EnvPayloadEncryption) {
			var err error
			if c.Temporal.Codec, err = codec.NewFromSettings(c.Codec); err != nil {
				l.errs = append(l.errs, err) // ErrNoKeys names RIMFLOW_CODEC_KEYS first
			}
		}
	}
	if parts&PartLog != 0 {
		if err := c.LogLevel.UnmarshalText([]byte(l.get(EnvLogLevel))); err != nil {
			l.bad(EnvLogLevel, "want debug, info, warn or error, got %q", l.get(EnvLogLevel))
		}
	}
	if parts&PartTracing != 0 {
		c.Tracing = l.get(EnvOTLPEndpoint) != "" || l.get(EnvOTLPTracesEndpoint) != ""
	}
	if errs = append(errs, l.errs...); len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// loader turns the read values into a part's settings and collects what is wrong with them.
type loader struct {
	get    func(name string) string
	raw    func(name string) string // the environment itself, for what a file references (env:VAR)
	unread map[string]bool          // variables whose reading failed (already reported)
	errs   []error
}

func (l *loader) bad(name, format string, args ...any) {
	l.errs = append(l.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

// failed reports whether an error about one of the variables was already recorded.
func (l *loader) failed(names ...string) bool {
	for _, err := range l.errs {
		for _, n := range names {
			if strings.HasPrefix(err.Error(), n+":") {
				return true
			}
		}
	}
	return false
}

// getenv is what the libraries' own readers see: for rimflow's variables the values Load read (a
// secret's _FILE already resolved into the variable, so their _FILE lookups find nothing); any
// other name is a variable a clients file references (token: env:VAR), read from the environment.
func (l *loader) getenv(name string) string {
	if isVar(strings.TrimSuffix(name, "_FILE")) {
		return l.get(name)
	}
	return l.raw(name)
}

func isVar(name string) bool {
	for _, v := range Vars() {
		if v.Name == name {
			return true
		}
	}
	return false
}

func (l *loader) temporal() Temporal {
	t := Temporal{
		Address:   l.get(EnvTemporalAddress),
		Namespace: l.get(EnvTemporalNamespace),
		TaskQueue: l.get(EnvTaskQueue),
		TLSCert:   l.get(EnvTemporalTLSCert),
		TLSKey:    l.get(EnvTemporalTLSKey),
		TLSCA:     l.get(EnvTemporalTLSCA),
		APIKey:    l.get(EnvTemporalAPIKey),
	}
	if _, _, err := net.SplitHostPort(t.Address); err != nil {
		l.bad(EnvTemporalAddress, "want host:port, got %q", t.Address)
	}
	if (t.TLSCert == "") != (t.TLSKey == "") {
		l.bad(EnvTemporalTLSCert, "%s and %s must be set together", EnvTemporalTLSCert, EnvTemporalTLSKey)
	}
	for _, f := range []struct{ name, path string }{
		{EnvTemporalTLSCert, t.TLSCert}, {EnvTemporalTLSKey, t.TLSKey}, {EnvTemporalTLSCA, t.TLSCA},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			l.bad(f.name, "cannot read file %q", f.path)
		}
	}
	return t
}

// cloudField ties a RIMFLOW_CLOUD_* variable to the ultimate.Config field it sets, under the
// field name invoicecloud's Validate reports, so the client's verdict can name the variable.
type cloudField struct {
	env, field string
	dst        *string
}

func cloudFields(c *ultimate.Config) []cloudField {
	return []cloudField{
		{EnvCloudBaseURL, "baseURL", &c.BaseURL},
		{EnvCloudAuthMode, "authMode", (*string)(&c.AuthMode)},
		{EnvCloudTokenPlace, "tokenPlacement", (*string)(&c.TokenPlacement)},
		{EnvCloudAppID, "appId", &c.AppID},
		{EnvCloudAppSecret, "appSecret", &c.AppSecret},
		{EnvCloudTenantID, "tenantId", &c.TenantID},
		{EnvCloudAccountID, "accountId", &c.AccountID},
		{EnvCloudUser, "user", &c.User},
		{EnvCloudClientID, "clientId", &c.ClientID},
		{EnvCloudClientSecret, "clientSecret", &c.ClientSecret},
		{EnvCloudUsername, "username", &c.Username},
		{EnvCloudUnbindType, "messageTypes.unbind", &c.MessageTypes.Unbind},
		{EnvCloudVoucherReverseType, "messageTypes.voucherReverse", &c.MessageTypes.VoucherReverse},
		{EnvCloudScanPointsOperate, "scanPointsOperate", &c.ScanPointsOperate},
		{EnvCloudPollPath, "paths.pollData", &c.Paths.PollData},
		{EnvCloudReceiptPath, "paths.pollReceipt", &c.Paths.PollReceipt},
		{EnvCloudPollKey, "pollKey", (*string)(&c.PollKey)},
		{EnvCloudBusinessSystemCode, "businessSystemCode", &c.BusinessSystemCode},
	}
}

// cloud fills the client's configuration and judges it once, by the client's own rules
// (WithDefaults().Validate(): the same check ultimate.New makes), naming the variable.
// credentialVar: the RIMFLOW_CLOUD_* variables that name an enterprise's credentials.
func credentialVar(env string) bool {
	switch env {
	case EnvCloudAppID, EnvCloudAppSecret, EnvCloudTenantID, EnvCloudAccountID, EnvCloudUser,
		EnvCloudClientID, EnvCloudClientSecret, EnvCloudUsername:
		return true
	}
	return false
}

func (l *loader) cloud(judge bool) ultimate.Config {
	var c ultimate.Config
	fields := cloudFields(&c)
	for _, f := range fields {
		if l.unread[f.env] || l.unread[EnvCloudInsecureHTTP] {
			return c // a secret file failed: that error says it; a verdict on the rest would mislead
		}
		*f.dst = l.get(f.env)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if insecure, err := strconv.ParseBool(l.get(EnvCloudInsecureHTTP)); err != nil {
		l.bad(EnvCloudInsecureHTTP, "want true or false, got %q", l.get(EnvCloudInsecureHTTP))
	} else {
		c.AllowInsecureHTTP = insecure
	}
	codes := strings.Split(l.get(EnvCloudNothingBound), ",")
	for i := range codes {
		codes[i] = strings.TrimSpace(codes[i])
	}
	if invoicecloud.CodesProblem(codes) != "" {
		l.bad(EnvCloudNothingBound, "%s", invoicecloud.CodesProblem(codes))
	} else {
		c.NothingBoundCodes = codes
	}
	if keeps, err := strconv.ParseBool(l.get(EnvCloudKeepsOmitted)); err != nil {
		l.bad(EnvCloudKeepsOmitted, "want true or false, got %q", l.get(EnvCloudKeepsOmitted))
	} else {
		c.BillSaveKeepsOmitted = keeps
	}
	c.AuthMode = ultimate.AuthMode(strings.ToLower(string(c.AuthMode)))
	c.TokenPlacement = ultimate.TokenPlacement(strings.ToLower(string(c.TokenPlacement)))
	if !judge {
		return c // the enterprises file holds the credentials; each entry is judged there
	}
	if err := c.WithDefaults().Validate(); err != nil {
		name, msg := "Invoice Cloud configuration", err.Error()
		var ce *invoicecloud.Error
		if errors.As(err, &ce) {
			for _, f := range fields {
				if f.field == ce.Field {
					name, msg = f.env, ce.Message
				}
			}
		}
		l.bad(name, "%s", msg)
	}
	// The variable is not a secret, so it must not carry credentials (Validate allows user info).
	if u, err := url.Parse(c.BaseURL); err == nil && u.User != nil {
		l.bad(EnvCloudBaseURL, "must not carry user info")
	}
	return c
}

func (l *loader) webhookStore() webhooks.Settings {
	st := webhooks.Settings{SecretsDir: l.get(EnvWebhookSecretsDir)}
	if st.SecretsDir != "" && !filepath.IsAbs(st.SecretsDir) {
		l.bad(EnvWebhookSecretsDir, "want an absolute path, got %q", st.SecretsDir)
	}
	if d, err := time.ParseDuration(l.get(EnvWebhookJournalKeep)); err != nil || d < time.Hour || d > 720*time.Hour {
		l.bad(EnvWebhookJournalKeep, "want a duration from 1h to 720h, got %q", l.get(EnvWebhookJournalKeep))
	} else {
		st.Keep = d
	}
	if n, err := strconv.Atoi(l.get(EnvWebhookJournalMax)); err != nil || n < 10 || n > webhooks.MaxJournalMax {
		l.bad(EnvWebhookJournalMax, "want a whole number from 10 to %d, got %q", webhooks.MaxJournalMax, l.get(EnvWebhookJournalMax))
	} else {
		st.Max = n
	}
	return st
}

func (l *loader) worker() Worker {
	w := Worker{MetricsAddr: l.get(EnvMetricsAddr)}
	// The worker's /metrics has no token, like the API's ops listener: the same rule.
	if w.MetricsAddr != "" {
		if err := access.CheckOpsListen(w.MetricsAddr); err != nil {
			l.bad(EnvMetricsAddr, "%v", err)
		}
	}
	if n, err := strconv.Atoi(l.get(EnvWorkflowCacheSize)); err != nil || n < 1 {
		l.bad(EnvWorkflowCacheSize, "want a whole number of at least 1, got %q", l.get(EnvWorkflowCacheSize))
	} else {
		w.WorkflowCacheSize = n
	}
	if n, err := strconv.Atoi(l.get(EnvMaxWatchers)); err != nil || n < 1 {
		l.bad(EnvMaxWatchers, "want a whole number of at least 1, got %q", l.get(EnvMaxWatchers))
	} else {
		w.MaxWatchers = n
	}
	if d, err := time.ParseDuration(l.get(EnvWatchGrace)); err != nil || d < time.Second || d > 25*time.Minute {
		l.bad(EnvWatchGrace, "want a duration from 1s to 25m, got %q", l.get(EnvWatchGrace))
	} else {
		w.WatchGrace = d
	}
	if d, err := time.ParseDuration(l.get(EnvEnterpriseGrace)); err != nil || d < 0 || d > 24*time.Hour {
		l.bad(EnvEnterpriseGrace, "want a duration from 0s to 24h, got %q", l.get(EnvEnterpriseGrace))
	} else {
		w.EnterpriseGrace = cmp.Or(d, -1) // 0 in the environment: at once
	}
	if d, err := time.ParseDuration(l.get(EnvWatchHeartbeat)); err != nil || d < time.Second || d > 10*time.Minute {
		l.bad(EnvWatchHeartbeat, "want a duration from 1s to 10m, got %q", l.get(EnvWatchHeartbeat))
	} else {
		w.WatchHeartbeatTimeout = d
	}
	if n, err := strconv.Atoi(l.get(EnvDeductionBatchSize)); err != nil || n < 1 || n > 1000 {
		l.bad(EnvDeductionBatchSize, "want a whole number from 1 to 1000, got %q", l.get(EnvDeductionBatchSize))
	} else {
		w.DeductionBatchSize = n
	}
	if d, err := time.ParseDuration(l.get(EnvDeductionInterval)); err != nil || d < 10*time.Second || d > 24*time.Hour {
		l.bad(EnvDeductionInterval, "want a duration from 10s to 24h, got %q", l.get(EnvDeductionInterval))
	} else {
		w.DeductionInterval = d
	}
	if d, err := time.ParseDuration(l.get(EnvStopTimeout)); err != nil || d <= invoicecloud.DefaultTimeout {
		l.bad(EnvStopTimeout, "want a duration longer than the cloud client's timeout (%s), got %q", invoicecloud.DefaultTimeout, l.get(EnvStopTimeout))
	} else {
		w.StopTimeout = d
	}
	// The server's rules for a deployment name: its version is named <name>:<build ID> (and was
	// <name>.<build ID>), and a leading "__" is reserved.
	if name := l.get(EnvDeploymentName); name != "" {
		if strings.ContainsAny(name, ".: \t") || strings.HasPrefix(name, "__") || len(name) > 100 {
			l.bad(EnvDeploymentName, "want a name of at most 100 characters without '.', ':', spaces or a leading '__', got %q", name)
		} else {
			w.DeploymentName = name
		}
	}
	return w
}

func (l *loader) api(parts Part) API {
	var a API
	if parts&PartAccess != 0 && !l.unread[EnvAPIToken] {
		clients, err := access.LoadEnv(l.getenv)
		if err != nil {
			l.errs = append(l.errs, err) // it names the variable or the file's field, never a token
		}
		a.Clients = clients
		if l.get(EnvAPIClientsFile) == "" {
			a.Token = l.get(EnvAPIToken)
		}
	}
	if parts&PartAPI == 0 {
		return a
	}
	a.Addr = l.get(EnvAPIAddr)
	if a.OpsAddr = l.get(EnvAPIOpsAddr); a.OpsAddr != "" {
		if err := access.CheckOpsListen(a.OpsAddr); err != nil {
			l.bad(EnvAPIOpsAddr, "%v", err)
		}
	}
	s := l.get(EnvAPIRequestTimeout)
	if d, err := time.ParseDuration(s); err != nil || d <= 0 {
		l.bad(EnvAPIRequestTimeout, "must be a positive duration like 30s, got %q", s)
	} else {
		a.RequestTimeout = d
	}
	s = l.get(EnvReissueMargin)
	if d, err := time.ParseDuration(s); err != nil || d < time.Second || d > 5*time.Minute {
		l.bad(EnvReissueMargin, "must be a duration from 1s to 5m like 2m, got %q", s)
	} else {
		a.ReissueMargin = d
	}
	for i, origin := range access.SplitList(l.get(EnvCodecOrigins)) {
		norm, err := codec.NormalizeOrigin(origin)
		if err != nil {
			l.bad(EnvCodecOrigins, "entry %d: %v", i+1, err)
			continue
		}
		a.CodecOrigins = append(a.CodecOrigins, norm)
	}
	if pub := l.get(EnvPublicAPIURL); pub != "" {
		if u, err := url.Parse(pub); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			l.bad(EnvPublicAPIURL, "want http(s)://host[:port], got %q", pub)
		} else {
			a.PublicURL = pub
		}
	}
	return a
}

func (l *loader) codec() codec.Settings {
	if l.unread[EnvCodecKeys] {
		return codec.Settings{}
	}
	s, err := codec.ReadEnv(l.getenv)
	if err != nil {
		l.errs = append(l.errs, err) // names the variable, never key material
	}
	return s
}

// read returns a variable's value: the variable, else its _FILE for secrets, else the default.
// Values are trimmed, from the variable and from the file alike.
func read(getenv func(string) string, v Var) (string, error) {
	val := strings.TrimSpace(getenv(v.Name))
	if v.Secret {
		file := strings.TrimSpace(getenv(v.Name + "_FILE"))
		if file != "" {
			if val != "" {
				return "", fmt.Errorf("%s: set either %s or %s_FILE, not both", v.Name, v.Name, v.Name)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				// The path is not secret; the content is never echoed.
				return "", fmt.Errorf("%s_FILE: cannot read %q", v.Name, file)
			}
			val = strings.TrimSpace(string(b))
			if val == "" {
				return "", fmt.Errorf("%s_FILE: file %q is empty", v.Name, file)
			}
		}
	}
	if v.Secret && access.Placeholder(val) {
		// A value copied from an example (deploy/env.example's was change-me-too) must not
		// become a credential; the value itself is never echoed.
		return "", fmt.Errorf("%s: a placeholder, not a secret: generate one (openssl rand -hex 32)", v.Name)
	}
	if val == "" {
		val = v.Default
	}
	return val, nil
}

// ReloadEnterprises reads the enterprise registry again (the file, with the [assumed] names the
// RIMFLOW_CLOUD_* variables share), for a reload without a restart.
func ReloadEnterprises(getenv func(string) string) ([]enterprises.Spec, error) {
	c, err := Load(getenv, PartCloud|PartEnterprises)
	return c.Enterprises, err
}
