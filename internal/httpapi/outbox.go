package httpapi

import (
	"net/http"
	"time"
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

// outboxJSON lists dev-outbox messages newest first, filtered by ?to= (dev mode only).
func (s *Server) outboxJSON(w http.ResponseWriter, r *http.Request) {
	to := r.URL.Query().Get("to")
	msgs, err := s.Store.ListOutbox(r.Context(), to, 200)
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
