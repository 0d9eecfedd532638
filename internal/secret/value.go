package secret

import "log/slog"

// Value holds a secret string that prints as [redacted] in logs, fmt and errors.
type Value string

// String redacts the value.
func (Value) String() string { return "[redacted]" }

// GoString redacts the value.
func (Value) GoString() string { return "[redacted]" }

// LogValue redacts the value in slog output.
func (Value) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// Reveal returns the underlying secret for the one place that must use it.
func (v Value) Reveal() string { return string(v) }
