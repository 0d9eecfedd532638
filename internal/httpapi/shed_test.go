package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/latch-auth/latch/internal/metrics"
	"github.com/latch-auth/latch/internal/store"
)

// TestShed: past MaxInFlight a request is answered 503 service_unavailable with Retry-After: 1
// at once, without running; a request that starts a login is shed earlier (at 3/4 of the
// limit) than one that finishes a login; health, readiness and metrics are never shed.
func TestShed(t *testing.T) {
	s := &Server{Log: slog.New(slog.DiscardHandler), Metrics: metrics.New(), MaxInFlight: 4}
	release := make(chan struct{})
	entered := make(chan struct{}, 16)
	block := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		w.WriteHeader(http.StatusOK)
	})
	finish := s.admit("POST /cis/v1/auth/otp/authenticate", block)
	start := s.admit("POST /cis/v1/auth/otp/send", block)
	var ran int
	health := s.admit("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { ran++ }))

	serve := func(h http.Handler) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/", nil))
		return rec
	}
	isShed := func(t *testing.T, rec *httptest.ResponseRecorder) {
		t.Helper()
		var body struct {
			Code string `json:"error_code"`
		}
		json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != http.StatusServiceUnavailable || body.Code != "service_unavailable" || rec.Header().Get("Retry-After") != "1" {
			t.Fatalf("got %d %q Retry-After %q, want 503 service_unavailable Retry-After 1", rec.Code, rec.Body.String(), rec.Header().Get("Retry-After"))
		}
	}

	var wg sync.WaitGroup
	hold := func(h http.Handler) {
		wg.Add(1)
		go func() { defer wg.Done(); serve(h) }()
		<-entered
	}
	// Three in flight: a new login (send) is refused already (3 >= 3/4 of 4) ...
	for range 3 {
		hold(finish)
	}
	isShed(t, serve(start))
	// ... one that finishes a login still runs, and then the limit is reached for it too.
	hold(finish)
	isShed(t, serve(finish))
	isShed(t, serve(start))
	if rec := serve(health); rec.Code != http.StatusOK || ran != 1 {
		t.Fatalf("health at the limit: %d, ran %d", rec.Code, ran)
	}
	if got := shedCount(t, s, "POST /cis/v1/auth/otp/send"); got != 2 {
		t.Errorf("latch_http_shed_total for send = %v, want 2", got)
	}
	if got := shedCount(t, s, "POST /cis/v1/auth/otp/authenticate"); got != 1 {
		t.Errorf("latch_http_shed_total for authenticate = %v, want 1", got)
	}
	close(release)
	wg.Wait()
	// Room again: both run.
	release = make(chan struct{})
	close(release)
	go func() { <-entered; <-entered }()
	if rec := serve(start); rec.Code != http.StatusOK {
		t.Fatalf("send after the load went: %d", rec.Code)
	}
	if rec := serve(finish); rec.Code != http.StatusOK {
		t.Fatalf("authenticate after the load went: %d", rec.Code)
	}
}

// TestUnavailableIs503: a request that could not reach the database is a 503
// service_unavailable with Retry-After: 1, never a 500, however deep the error is wrapped.
func TestUnavailableIs503(t *testing.T) {
	for _, err := range []error{
		store.ErrUnavailable,
		fmt.Errorf("consume code: %w", errors.Join(store.ErrUnavailable, errors.New("FATAL: terminating connection due to administrator command (SQLSTATE 57P01)"))),
	} {
		rec := httptest.NewRecorder()
		writeError(rec, httptest.NewRequest(http.MethodPost, "/cis/v1/auth/otp/authenticate", nil), err)
		var body struct {
			Code string `json:"error_code"`
		}
		json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != http.StatusServiceUnavailable || body.Code != "service_unavailable" || rec.Header().Get("Retry-After") != "1" {
			t.Errorf("%v: got %d %s Retry-After %q", err, rec.Code, rec.Body.String(), rec.Header().Get("Retry-After"))
		}
	}
}

// shedCount reads latch_http_shed_total{route} from the server's registry.
func shedCount(t *testing.T, s *Server, route string) float64 {
	t.Helper()
	mfs, err := s.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "latch_http_shed_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && l.GetValue() == route {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
