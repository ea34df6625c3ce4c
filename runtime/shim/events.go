package shim

import (
	"context"
	"net"

	eventsapi "github.com/containerd/containerd/api/services/ttrpc/events/v1"
	"github.com/containerd/log"
	"github.com/containerd/ttrpc"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/emptypb"
)

// eventServer is the ttrpc Events service shims forward their events to
// (TTRPC_ADDRESS).
type eventServer struct {
	srv     *ttrpc.Server
	l       net.Listener
	handler func(ns, topic string, event *anypb.Any)
}

func serveEvents(address string, handler func(ns, topic string, event *anypb.Any)) (*eventServer, error) {
	l, err := listenEvents(address)
	if err != nil {
		return nil, err
	}
	srv, err := ttrpc.NewServer()
	if err != nil {
		l.Close()
		return nil, err
	}
	es := &eventServer{srv: srv, l: l, handler: handler}
	eventsapi.RegisterTTRPCEventsService(srv, es)
	go srv.Serve(context.Background(), &loggedListener{Listener: l})
	return es, nil
}

// loggedListener logs each shim's event connection (debug): a shim whose
// events stop arriving is then told apart from one that never connected.
type loggedListener struct {
	net.Listener
	n int
}

func (l *loggedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n++
		log.L.WithField("connection", l.n).Debug("shim event connection accepted")
	}
	return c, err
}

func (e *eventServer) Forward(_ context.Context, r *eventsapi.ForwardRequest) (*emptypb.Empty, error) {
	if r.Envelope != nil && log.GetLevel() >= log.DebugLevel { // no entry built per event otherwise
		log.L.WithField("topic", r.Envelope.Topic).Debug("shim event")
	}
	if e.handler != nil && r.Envelope != nil {
		e.handler(r.Envelope.Namespace, r.Envelope.Topic, r.Envelope.Event)
	}
	return &emptypb.Empty{}, nil
}

func (e *eventServer) Close() error {
	return e.srv.Close()
}
