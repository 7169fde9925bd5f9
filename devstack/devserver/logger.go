package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// slogLogger adapts the Temporal server's tag-based logger interface onto slog, so the embedded
// server writes through the same handler as the rest of the process (and at its own level:
// the server is chatty at info).
type slogLogger struct {
	l     *slog.Logger
	level slog.Level
	// stopping drops everything below error while the server shuts down: its services warn
	// about each other going away, which is expected then and only noise.
	stopping *atomic.Bool
}

var (
	_ log.Logger     = (*slogLogger)(nil)
	_ log.WithLogger = (*slogLogger)(nil)
)

func newSlogLogger(l *slog.Logger, level slog.Level) *slogLogger {
	return &slogLogger{l: l, level: level, stopping: new(atomic.Bool)}
}

// devNoise are server warnings that are expected in this embedded setup and say nothing to a
// developer (the frontend's HTTP API, and with it Nexus, is deliberately off).
var devNoise = []string{
	"HTTP API port has not been set.",
}

func (s *slogLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	if level < s.level || (s.stopping.Load() && level < slog.LevelError) || !s.l.Enabled(context.Background(), level) {
		return
	}
	if level < slog.LevelError {
		for _, prefix := range devNoise {
			if strings.HasPrefix(msg, prefix) {
				return
			}
		}
	}
	attrs := make([]slog.Attr, 0, len(tags))
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), tagValue(t.Value())))
	}
	s.l.LogAttrs(context.Background(), level, msg, attrs...)
}

// tagValue keeps errors and stringers readable in text and JSON handlers alike.
func tagValue(v any) any {
	switch x := v.(type) {
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	default:
		return v
	}
}

func (s *slogLogger) Debug(msg string, tags ...tag.Tag) { s.log(slog.LevelDebug, msg, tags) }
func (s *slogLogger) Info(msg string, tags ...tag.Tag)  { s.log(slog.LevelInfo, msg, tags) }
func (s *slogLogger) Warn(msg string, tags ...tag.Tag)  { s.log(slog.LevelWarn, msg, tags) }
func (s *slogLogger) Error(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }

// DPanic, Panic and Fatal are logged as errors; the server calls Fatal only for unrecoverable
// states and expects the process to end, so Fatal panics rather than exiting silently.
func (s *slogLogger) DPanic(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }
func (s *slogLogger) Panic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(msg)
}
func (s *slogLogger) Fatal(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(fatalPrefix + msg)
}

// fatalPrefix begins the panic of the server's Fatal.
const fatalPrefix = "temporal server fatal: "

func (s *slogLogger) With(tags ...tag.Tag) log.Logger {
	args := make([]any, 0, len(tags))
	for _, t := range tags {
		args = append(args, slog.Any(t.Key(), tagValue(t.Value())))
	}
	return &slogLogger{l: s.l.With(args...), level: s.level, stopping: s.stopping}
}
