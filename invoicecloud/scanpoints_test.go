package invoicecloud_test

import (
	"context"
	"testing"

	"rimflow/cloudsim/simulator"
	"rimflow/invoicecloud"
	"rimflow/invoicecloud/standard"
	"rimflow/invoicecloud/ultimate"
)

// The image system's scanning-point list is an [assumed] operateType on both editions: a client
// set to the simulator's name lists the points; one left at the default is refused naming
// operateType, so the setting is really sent.
func TestScanPointsOperateIsASetting(t *testing.T) {
	const op = "listScanPoints"
	h := newHarness(t, simulator.Options{Seed: 5, Paths: simulator.Paths{ScanPointsOperate: op}})
	ctx := context.Background()
	for _, c := range []struct {
		name       string
		set, unset invoicecloud.ScanPointLister
	}{
		{"ultimate", h.client(func(c *ultimate.Config) { c.ScanPointsOperate = op }), h.client(nil)},
		{"standard", h.standard(func(c *standard.Config) { c.ScanPointsOperate = op }), h.standard(nil)},
	} {
		points, err := c.set.ScanPoints(ctx, "sp-"+c.name)
		if err != nil || len(points) == 0 || points[0].ID != simulator.DefaultScanPoint.ID {
			t.Errorf("%s with %s: %+v %v, want the tenant's point %s", c.name, op, points, err, simulator.DefaultScanPoint.ID)
		}
		_, err = c.unset.ScanPoints(ctx, "sp-default-"+c.name)
		if e := mustError(t, err); e.Retryable || e.Field != "operateType" {
			t.Errorf("%s with the default name: %+v, want a refusal naming operateType", c.name, e)
		}
	}
}
