//go:build !(dlq_http || dlq_all)

package dlq

import "context"

// httpBuilt reports whether the http backend is compiled in: it needs
// the build tag dlq_http or dlq_all.
const httpBuilt = false

// httpBackend is the stub of the http backend in builds without its tag.
// New refuses a config that enables it, so its methods are never reached.
type httpBackend struct{}

func newHTTPBackend(*Config) (*httpBackend, error) {
	return nil, errNotBuilt(KindHTTP)
}

func (*httpBackend) write(context.Context, *batch) error { return errNotBuilt(KindHTTP) }

func (*httpBackend) sync(context.Context) error { return errNotBuilt(KindHTTP) }

func (*httpBackend) close(context.Context) error { return nil }

func (*httpBackend) prepareAhead(int, []*record) {}
