package main

import "rimflow/internal/version"

// version prints the build: the release version (set with -ldflags at release), the source
// revision and the build ID the workers of this build declare. It needs no Temporal.
func (c *cli) version(args []string) error {
	fs, _ := c.flags("version")
	positional, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 0 {
		return usageError("args", "version takes no arguments")
	}
	printJSON(c.stdout, version.Get())
	return nil
}
