package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"rimflow/cloudsim/simulator"
)

// namesFlag collects -name NAME=VALUE: the simulator's [assumed] paths and names, as a deployment
// sets its cloud's (the same names as an enterprise's paths and messageTypes blocks).
type namesFlag map[string]string

func (f namesFlag) String() string {
	return strings.Join(slices.Sorted(maps.Keys(f)), ",")
}

func (f namesFlag) Set(v string) error {
	name, value, ok := strings.Cut(v, "=")
	if !ok || strings.TrimSpace(value) == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", v)
	}
	f[strings.TrimSpace(name)] = strings.TrimSpace(value)
	return nil
}

// apply sets each name in o, naming one it does not know.
func (f namesFlag) apply(o *simulator.Options) error {
	named := map[string]*string{
		"pollData": &o.Paths.PollData, "pollReceipt": &o.Paths.PollReceipt,
		"unbind": &o.Paths.UnbindMessageType, "voucherReverse": &o.Paths.VoucherReverseMessageType,
		"scanPointsOperate":  &o.Paths.ScanPointsOperate,
		"standard.deduction": &o.StandardPaths.Deduction, "standard.imagePush": &o.StandardPaths.ImagePush,
		"standard.imageOperate": &o.StandardPaths.ImageOperate, "standard.viewPage": &o.StandardPaths.ViewPage,
		"standard.voucherReverse": &o.StandardPaths.VoucherReverse,
	}
	for _, name := range slices.Sorted(maps.Keys(f)) {
		to, ok := named[name]
		if !ok {
			return fmt.Errorf("-name %s: not one of %s", name, strings.Join(slices.Sorted(maps.Keys(named)), ", "))
		}
		*to = f[name]
	}
	return nil
}
