package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"rimflow/api"
	"rimflow/internal/config"
	"rimflow/internal/workerapp"
	"rimflow/workflows"
)

// billOps is what a verb needs; *api.Bills (straight to Temporal) and *httpBills (--api URL)
// both provide it, so both ways share the same decoding, validation and error shapes.
type billOps interface {
	Start(ctx context.Context, in workflows.BillInput) (api.StartResponse, bool, error)
	State(ctx context.Context, ref api.BillRef) (workflows.BillState, error)
	CollectURL(ctx context.Context, ref api.BillRef, clientKind string) (workflows.CollectURLResponse, error)
	Invoices(ctx context.Context, ref api.BillRef, msg workflows.InvoicesSignal) error
	Submit(ctx context.Context, ref api.BillRef, req workflows.SubmitRequest) (workflows.BillState, error)
	Approve(ctx context.Context, ref api.BillRef, req workflows.ApproveRequest) (workflows.BillState, error)
	Images(ctx context.Context, ref api.BillRef, req workflows.ImagesRequest) (workflows.BillState, error)
	Voucher(ctx context.Context, ref api.BillRef, req workflows.VoucherRequest) (workflows.BillState, error)
	Cancel(ctx context.Context, ref api.BillRef, req workflows.CancelRequest) (workflows.BillState, error)
	Retry(ctx context.Context, ref api.BillRef, req workflows.RetryRequest) (workflows.BillState, error)
	List(ctx context.Context, f api.ListFilter) (api.ListResponse, error)
}

var (
	_ billOps = (*api.Bills)(nil)
	_ billOps = (*httpBills)(nil)
)

var errHelp = errors.New("help shown")

type cli struct {
	ctx            context.Context
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	temporal       client.Client
}

func (c *cli) close() {
	if c.temporal != nil {
		c.temporal.Close()
	}
}

// common are the flags every verb takes.
type common struct {
	apiURL   string
	token    string
	timeout  time.Duration
	resource string
	bill     string
}

func (c *cli) flags(name string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	co := &common{}
	fs.StringVar(&co.apiURL, "api", "", "base URL of a running rimflow API (default: talk to Temporal directly)")
	fs.StringVar(&co.token, "token", "", "bearer token for --api (default $RIMFLOW_API_TOKEN)")
	fs.DurationVar(&co.timeout, "timeout", api.DefaultRequestTimeout, "how long to wait for an answer")
	if name != "start" && name != "list" && name != "serve" {
		fs.StringVar(&co.resource, "resource", "", "the bill's resource (source system)")
		fs.StringVar(&co.bill, "bill", "", "the bill's billId")
	}
	return fs, co
}

// parse accepts flags before and after positional arguments ("approve OA/B-1 --role finance").
func (c *cli) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintf(c.stdout, "usage of starter %s:\n", fs.Name())
				fs.SetOutput(c.stdout)
				fs.PrintDefaults()
				return nil, errHelp
			}
			return nil, usageError(flagName(err.Error()), err.Error())
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
}

// flagName pulls the flag out of the flag package's messages ("invalid value … for flag -x: …").
func flagName(msg string) string {
	for _, marker := range []string{"flag: -", "for flag -", "flag provided but not defined: -", "flag needs an argument: -"} {
		if i := strings.Index(msg, marker); i >= 0 {
			name := msg[i+len(marker):]
			if j := strings.IndexAny(name, ": "); j >= 0 {
				name = name[:j]
			}
			return "--" + strings.TrimLeft(name, "-")
		}
	}
	return "flags"
}

// ref reads the bill from "R/B" or --resource/--bill.
func (co *common) ref(positional []string) (api.BillRef, error) {
	switch {
	case len(positional) > 1:
		return api.BillRef{}, usageError("args", fmt.Sprintf("unexpected arguments %q", positional[1:]))
	case len(positional) == 1:
		if co.resource != "" || co.bill != "" {
			return api.BillRef{}, usageError("args", "name the bill either as R/B or with --resource and --bill, not both")
		}
		ref, err := api.ParseBillRef(positional[0])
		if err != nil {
			return api.BillRef{}, err
		}
		return ref, nil
	}
	ref, err := api.ParseBillRef(co.resource + "/" + co.bill)
	if err != nil {
		return api.BillRef{}, err
	}
	return ref, nil
}

// ops connects: to the API when --api is set, else to Temporal from the environment.
func (c *cli) ops(co *common) (billOps, error) {
	if co.apiURL != "" {
		token := co.token
		if token == "" {
			env, err := api.LoadEnv(c.getenv)
			if err != nil {
				return nil, err
			}
			token = env.Token
		}
		return newHTTPBills(co.apiURL, token)
	}
	cfg, err := config.Load(c.getenv)
	if err != nil {
		return nil, usageError("environment", err.Error())
	}
	if c.temporal == nil {
		dialCtx, cancel := context.WithTimeout(c.ctx, co.timeout)
		defer cancel()
		c.temporal, err = workerapp.Dial(dialCtx, cfg, nil, nil)
		if err != nil {
			return nil, err
		}
	}
	return api.NewBills(c.temporal, cfg.Temporal.Namespace, cfg.Temporal.TaskQueue), nil
}

// readInput reads --file: a path, or "-" for stdin.
func (c *cli) readInput(file string) ([]byte, error) {
	if file == "-" {
		return io.ReadAll(io.LimitReader(c.stdin, api.MaxBodyBytes+1))
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, usageError("--file", fmt.Sprintf("cannot read %q: %v", file, errors.Unwrap(err)))
	}
	return b, nil
}

// withTimeout bounds one operation.
func (c *cli) withTimeout(co *common) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.ctx, co.timeout)
}
