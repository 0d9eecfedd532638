package web

import (
	"html"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/latch-auth/latch/internal/store"
)

const (
	outboxListLimit = 100
	outboxFindLimit = 1000
)

// messageView is one outbox message as the page shows it.
type messageView struct {
	ID      string
	Channel string
	To      string
	Subject string
	Text    string
	SrcDoc  string   // the email's HTML for the sandboxed frame (html/template escapes it)
	Links   []string // http(s) links found in the message, clickable without the frame
	Code    string   // the one-time code the message carries, if one is found
	At      string   // readable time
	ISO     string   // machine-readable time
}

type outboxView struct {
	To       string
	Messages []messageView
	Single   bool
}

// outboxList serves GET /dev/outbox: every message, newest first, optionally only those ?to=.
func (h *handler) outboxList(w http.ResponseWriter, r *http.Request) {
	to := strings.TrimSpace(r.URL.Query().Get("to"))
	msgs, err := h.outbox.ListOutbox(r.Context(), to, outboxListLimit)
	if err != nil {
		h.log.Error("web: list outbox", "err", err)
		h.message(w, r, http.StatusInternalServerError, "Dev outbox", "The outbox could not be read.")
		return
	}
	v := outboxView{To: to, Messages: make([]messageView, 0, len(msgs))}
	for _, m := range msgs {
		v.Messages = append(v.Messages, viewMessage(m))
	}
	h.render(w, r, http.StatusOK, "outbox", page{Title: "Dev outbox", Nav: "outbox", Data: v})
}

// outboxMessage serves GET /dev/outbox/{id}: one message.
func (h *handler) outboxMessage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	msgs, err := h.outbox.ListOutbox(r.Context(), "", outboxFindLimit)
	if err != nil {
		h.log.Error("web: list outbox", "err", err)
		h.message(w, r, http.StatusInternalServerError, "Dev outbox", "The outbox could not be read.")
		return
	}
	for _, m := range msgs {
		if m.ID == id {
			v := outboxView{Messages: []messageView{viewMessage(m)}, Single: true}
			title := m.Subject
			if title == "" {
				title = strings.ToUpper(m.Channel) + " to " + m.To
			}
			h.render(w, r, http.StatusOK, "outbox", page{Title: title + " · Dev outbox", Nav: "outbox", Data: v})
			return
		}
	}
	h.render(w, r, http.StatusNotFound, "outbox", page{Title: "Dev outbox", Nav: "outbox",
		Error: "There is no message with that id (the outbox keeps the latest messages only).", Data: outboxView{Single: true}})
}

func viewMessage(m store.OutboxMessage) messageView {
	v := messageView{ID: m.ID, Channel: m.Channel, To: m.To, Subject: m.Subject, Text: m.Text,
		At: m.CreatedAt.UTC().Format("2006-01-02 15:04:05 UTC"), ISO: m.CreatedAt.UTC().Format(time.RFC3339)}
	if m.Channel != "sms" && strings.TrimSpace(m.HTML) != "" {
		v.SrcDoc = srcDoc(m.HTML)
	}
	v.Links = links(m.Text, m.HTML)
	v.Code = oneTimeCode(m.Text)
	return v
}

var (
	codeLine  = regexp.MustCompile(`(?i)\bcode:\s*([0-9]{4,10})\b`)
	codeFirst = regexp.MustCompile(`^\s*([0-9]{4,10})\b`)
	codeAny   = regexp.MustCompile(`(?:^|[^0-9A-Za-z/=._-])([0-9]{4,10})(?:$|[^0-9A-Za-z/=_-])`)
)

// oneTimeCode finds the code in a message's text: Latch's email says "Your code: 123456", its SMS
// starts with the code; a custom text gets its first stand-alone group of 4 to 10 digits.
func oneTimeCode(text string) string {
	for _, re := range []*regexp.Regexp{codeLine, codeFirst, codeAny} {
		if m := re.FindStringSubmatch(text); m != nil {
			return m[1]
		}
	}
	return ""
}

var headTag = regexp.MustCompile(`(?i)<head(\s[^>]*)?>`)

// srcDoc returns the email HTML with <base target="_top"> in its head, so that a link without a
// target of its own leaves the frame for the whole tab (the sandbox allows that on a click).
func srcDoc(doc string) string {
	const base = `<base target="_top">`
	if loc := headTag.FindStringIndex(doc); loc != nil {
		return doc[:loc[1]] + base + doc[loc[1]:]
	}
	return base + doc
}

var (
	textLink = regexp.MustCompile(`https?://[^\s<>"']+`)
	hrefLink = regexp.MustCompile(`(?i)href\s*=\s*"(https?://[^"]+)"`)
)

// links returns the distinct http(s) links of a message, from its text part and its HTML.
func links(text, htmlDoc string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(l string) {
		l = strings.TrimRight(l, ".,;:!?)]")
		if l != "" && !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	for _, l := range textLink.FindAllString(text, -1) {
		add(l)
	}
	for _, m := range hrefLink.FindAllStringSubmatch(htmlDoc, -1) {
		add(html.UnescapeString(m[1]))
	}
	return out
}
