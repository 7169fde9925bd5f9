// Package upgrade proves an upgrade in place: the previous release's devstack leaves bills waiting
// in every stage, the current devstack takes over its data dir, and every bill finishes with the
// cloud's ledger agreeing (upgrade_test.go). The previous release's binary is built from git.
package upgrade

// PreviousRelease is the commit of the release this code must upgrade from in place: the test
// builds its devstack from git. Cutting a release moves it (docs/releases.md).
const PreviousRelease = "a654ef2623abf7274f741006bb410b5057e1a3fd"
