package web

import (
	"net/http"
	"sync"
	"time"
)

const (
	sessionCookie = "latch_demo"
	stateCookie   = "latch_demo_state"
	maxSessions   = 1000
	sessionTTL    = time.Hour
)

// demoSession is one browser's state in the demo. It is kept in memory only, keyed by the
// random id in the browser's HttpOnly cookie; the tokens never leave the server.
type demoSession struct {
	expires   time.Time
	flash     string  // shown once on the next page
	notice    *notice // what was wrong with the last form, shown once on the page it led to
	locks     map[string]time.Time
	pending   *pendingLogin // a code was sent; waiting for it
	user      *signedIn
	enrolment *enrolment   // a new TOTP, shown until the person leaves the page
	recovery  []string     // new recovery codes, shown once
	txn       *transaction // a started transaction, waiting for the TOTP code
	approval  *approval    // the last approved transaction
}

type pendingLogin struct {
	Channel        string // "email", "sms" or "link"
	IdentifierType string // "email" or "phone_number"
	Identifier     string
	SentAt         time.Time // when the last code or link was sent (or would have been)
	ExpiresAt      time.Time // when it stops working
}

// notice is a refused form: which form, which of its fields (or "" for the form as a whole),
// what to tell the person, and what they had typed (never a code), to fill the form again.
type notice struct {
	Form    string
	Field   string
	Message string
	Values  map[string]string
}

// For reports whether the notice belongs to form.
func (n *notice) For(form string) bool { return n != nil && n.Form == form }

// At returns the notice's message when it belongs to form's field, else "".
func (n *notice) At(form, field string) string {
	if n == nil || n.Form != form || n.Field != field {
		return ""
	}
	return n.Message
}

// General returns the notice's message when it belongs to form as a whole, else "".
func (n *notice) General(form string) string { return n.At(form, "") }

// Value is what the person had typed in form's field.
func (n *notice) Value(form, field string) string {
	if n == nil || n.Form != form {
		return ""
	}
	return n.Values[field]
}

type signedIn struct {
	tokens         userTokens
	Claims         map[string]any
	IdentifierType string
	Identifier     string
}

type enrolment struct {
	Secret string
	URI    string
	QRCode string
}

type transaction struct {
	Challenge string
	Amount    string
	Currency  string
}

type approval struct {
	Data   []claimRow
	Claims []claimRow
}

// sessions is a bounded, expiring map of demo sessions.
type sessions struct {
	mu  sync.Mutex
	m   map[string]*demoSession
	max int
	ttl time.Duration
	now func() time.Time
}

func newSessions(max int, ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{m: make(map[string]*demoSession), max: max, ttl: ttl, now: now}
}

// get returns a copy of the session with id, extending its life; ok is false when there is none.
func (s *sessions) get(id string) (demoSession, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.m[id]
	now := s.now()
	if !ok || !now.Before(d.expires) {
		delete(s.m, id)
		return demoSession{}, false
	}
	d.expires = now.Add(s.ttl)
	return *d, true
}

// update changes the session with id, creating it when missing.
func (s *sessions) update(id string, f func(*demoSession)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	d, ok := s.m[id]
	if !ok || !now.Before(d.expires) {
		s.makeRoom(now)
		d = &demoSession{}
		s.m[id] = d
	}
	d.expires = now.Add(s.ttl)
	f(d)
}

// takeMessages returns and clears the session's one-time message and notice.
func (s *sessions) takeMessages(id string) (string, *notice) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.m[id]
	if !ok {
		return "", nil
	}
	f, n := d.flash, d.notice
	d.flash, d.notice = "", nil
	return f, n
}

func (s *sessions) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

// makeRoom drops expired sessions when the map is full, then the one closest to expiry.
func (s *sessions) makeRoom(now time.Time) {
	if len(s.m) < s.max {
		return
	}
	var oldest string
	var oldestAt time.Time
	for id, d := range s.m {
		if !now.Before(d.expires) {
			delete(s.m, id)
			continue
		}
		if oldest == "" || d.expires.Before(oldestAt) {
			oldest, oldestAt = id, d.expires
		}
	}
	if len(s.m) >= s.max {
		delete(s.m, oldest)
	}
}

func (s *sessions) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

// sessionID returns the browser's demo session id, or "" when it has none.
func sessionID(r *http.Request) string {
	c, err := r.Cookie(sessionCookie)
	if err != nil || len(c.Value) < 32 || len(c.Value) > 64 {
		return ""
	}
	return c.Value
}

// ensureSession returns the browser's session id, giving it a new one when it has none.
func (h *handler) ensureSession(w http.ResponseWriter, r *http.Request) string {
	if id := sessionID(r); id != "" {
		return id
	}
	return h.newSession(w)
}

// newSession gives the browser a new session id (at sign-in and sign-out, so that an id seen
// before is never the signed-in one, and a page of the old session is not served from cache).
func (h *handler) newSession(w http.ResponseWriter) string {
	id := randomToken()
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: id, Path: "/demo", HttpOnly: true,
		Secure: h.secure, SameSite: http.SameSiteLaxMode})
	return id
}

// session returns the browser's session (a copy) and its id.
func (h *handler) session(r *http.Request) (string, demoSession, bool) {
	id := sessionID(r)
	if id == "" {
		return "", demoSession{}, false
	}
	d, ok := h.sessions.get(id)
	return id, d, ok
}
