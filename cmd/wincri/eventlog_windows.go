package main

import (
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/windows/svc/eventlog"
)

// eventLogHook copies warnings and errors to the Windows event log.
type eventLogHook struct{ l *eventlog.Log }

func (h *eventLogHook) Levels() []logrus.Level {
	return []logrus.Level{logrus.PanicLevel, logrus.FatalLevel, logrus.ErrorLevel, logrus.WarnLevel}
}

func (h *eventLogHook) Fire(e *logrus.Entry) error {
	msg, err := e.String()
	if err != nil {
		msg = e.Message
	}
	if e.Level == logrus.WarnLevel {
		return h.l.Warning(1, msg)
	}
	return h.l.Error(1, msg)
}
