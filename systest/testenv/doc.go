// Package testenv holds the system tests' plain calls, as an ERP, a user or ops make them: HTTP
// requests (Do), imports on a collect page (Collect), a bill's recorded deliveries, and the
// temporal CLI. The servers they call are started by devstack/harness.
package testenv
