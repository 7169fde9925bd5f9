package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"rimflow/api"
	"rimflow/internal/app"
	"rimflow/internal/config"
	"rimflow/internal/temporalclient"
	"rimflow/internal/webhooks"
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
	timeout  time.Duration
	resource string
	bill     string
}

func (c *cli) flags(name string) (*flag.FlagSet, *common) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	co := &common{}
	fs.DurationVar(&co.timeout, "timeout", api.DefaultRequestTimeout, "how long to wait for an answer")
	if name != "start" && name != "list" && name != "serve" && name != "enterprises" {
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

// bills connects to Temporal from the environment (config.ForCLI) once per run.
func (c *cli) bills(co *common) (*api.Bills, error) {
	cfg, err := app.Load(c.getenv, config.ForCLI)
	if err != nil {
		return nil, usageError("environment", err.Error())
	}
	if c.temporal == nil {
		dialCtx, cancel := context.WithTimeout(c.ctx, co.timeout)
		defer cancel()
		c.temporal, err = temporalclient.Dial(dialCtx, cfg.Temporal, nil, nil)
		if err != nil {
			return nil, err
		}
	}
	bills := api.NewBills(c.temporal, cfg.Temporal.Namespace, cfg.Temporal.TaskQueue)
	bills.Voice = cfg.Temporal.Codec.Voice() // the CLI holds the payload keys: its decisions are vouched for
	// A bill started here notifies as one started by the API would (a webhook in the file, or one
	// registered through the API).
	registered := &webhooks.Store{Client: c.temporal}
	bills.Notifies = func(resource string) bool { return cfg.Webhooks.Has(resource) || registered.Has(resource) }
	ents, err := app.Enterprises(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, usageError("environment", err.Error())
	}
	if ents != nil {
		bills.Enterprises = ents
	}
	bills.Policy = cfg.Policy // a bill started from the shell is under the same policy as the API's
	if cfg.Temporal.Codec != nil {
		bills.DataConverter = cfg.Temporal.Codec.DataConverter()
	}
	return bills, nil
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
