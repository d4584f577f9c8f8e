package store

import (
	"fmt"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// badgerLogger passes Badger's log lines to zap. Badger's Info lines are
// routine chatter (compactions, flushes, replay), so they go out at debug
// level; its warnings and errors keep their level.
type badgerLogger struct{ z *zap.Logger }

func (l badgerLogger) Errorf(f string, args ...any)   { l.logf(zapcore.ErrorLevel, f, args) }
func (l badgerLogger) Warningf(f string, args ...any) { l.logf(zapcore.WarnLevel, f, args) }
func (l badgerLogger) Infof(f string, args ...any)    { l.logf(zapcore.DebugLevel, f, args) }
func (l badgerLogger) Debugf(f string, args ...any)   { l.logf(zapcore.DebugLevel, f, args) }

func (l badgerLogger) logf(level zapcore.Level, format string, args []any) {
	if !l.z.Core().Enabled(level) {
		return
	}
	l.z.Log(level, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
