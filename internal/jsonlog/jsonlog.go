// Package jsonlog builds the structured JSON logger every rimflow process writes (worker, API),
// so their lines look the same wherever they run.
package jsonlog

import (
	"io"
	"log/slog"
)

// New returns a slog logger writing one JSON object per line to w, at level and above.
func New(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
