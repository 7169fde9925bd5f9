package main

import (
	"rimflow/internal/codec"
)

// keyFileOutput answers `starter codec-keys`: the file and its key IDs (never a key).
type keyFileOutput struct {
	File    string   `json:"file"`
	Created bool     `json:"created,omitempty"`
	Rotated string   `json:"rotated,omitempty"`
	KeyIDs  []string `json:"keyIds"`
}

// codecKeys makes sure a payload key file exists (creating it with one fresh key, mode 0600, on
// first run) or, with --rotate ID, puts a fresh key named ID on top of it. Compose runs it once
// before the worker and the API, which read the file through RIMFLOW_CODEC_KEYS_FILE; after a
// rotation restart the workers, then the API.
func (c *cli) codecKeys(args []string) error {
	fs, _ := c.flags("codec-keys")
	file := fs.String("file", "", "the key file (required)")
	rotate := fs.String("rotate", "", "add a fresh key with this ID on top (it encrypts from the next restart; the old keys keep decrypting)")
	positional, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return usageError("args", "codec-keys takes flags only")
	}
	if *file == "" {
		return usageError("--file", "required: where the payload keys are kept")
	}
	out := keyFileOutput{File: *file}
	if *rotate != "" {
		if err := codec.RotateKeyFile(*file, *rotate); err != nil {
			return usageError("--rotate", err.Error())
		}
		out.Rotated = *rotate
	} else if out.Created, err = codec.EnsureKeyFile(*file, "k1"); err != nil {
		return usageError("--file", err.Error())
	}
	keys, err := codec.ReadKeyFile(*file)
	if err != nil {
		return usageError("--file", err.Error())
	}
	out.KeyIDs = keys.IDs()
	printJSON(c.stdout, out)
	return nil
}
