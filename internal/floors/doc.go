// Package floors holds no code: its test keeps rimflow's packages on their floors. A package may
// import rimflow packages on its own floor or below, never above; the floors, bottom up:
//
//  1. leaves: libraries that know nothing of a bill — secretref, jsonlog, metrics, access, codec,
//     config (the settings), temporalclient, webhooks, enterprises, version (the build's name),
//     tracing (OpenTelemetry, off unless configured), voice (the API's signature on its updates),
//     callheader (headers a call carries into its update),
//     query (a workflow's query, asked again after a replay race),
//     invoicecloud and its editions;
//  2. the domain: activities, workflows, the policy (it speaks workflows.Options), the simulator;
//  3. the API (api, api/postman);
//  4. the wiring: internal/app builds the clients, registries, worker and API from configuration;
//  5. programs and what only development uses: worker, starter, cloudsim, deploy, devstack/… (the
//     embedded Temporal server, the harness), bench/…, systest/….
//
// A package not listed is on floor 5. The worker and starter binaries never link the Temporal
// server (go.temporal.io/server): it lives on floor 5, in devstack/devserver and the test servers.
package floors
