package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/latch-auth/latch/internal/apierr"
)

type outboxMessage struct {
	ID        string `json:"id"`
	Channel   string `json:"channel"`
	To        string `json:"to"`
	Subject   string `json:"subject"`
	Text      string `json:"text"`
	HTML      string `json:"html"`
	CreatedAt string `json:"created_at"`
}

// outboxMax is the most messages GET /dev/outbox.json answers.
const outboxMax = 200

// outboxJSON lists dev-outbox messages newest first, filtered by ?to= and at most ?limit= of them
// (default and maximum outboxMax; dev mode only). A test reading the code it was just sent asks
// for one: a recipient's list grows with every send.
func (s *Server) outboxJSON(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	limit := outboxMax
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > outboxMax {
			writeError(w, r, apierr.Invalid("limit", fmt.Sprintf("must be a whole number from 1 to %d", outboxMax)))
			return
		}
		limit = n
	}
	msgs, err := s.Store.ListOutbox(r.Context(), to, limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	out := make([]outboxMessage, 0, len(msgs))
	for _, m := range msgs {
		out = append(out, outboxMessage{ID: m.ID, Channel: m.Channel, To: m.To, Subject: m.Subject, Text: m.Text, HTML: m.HTML,
			CreatedAt: m.CreatedAt.UTC().Format(time.RFC3339Nano)})
	}
	writeJSON(w, http.StatusOK, out)
}
