package sqlstore

import (
	"context"

	"github.com/latch-auth/latch/internal/store"
)

// AddOutboxMessage stores one dev-outbox message.
func (db *DB) AddOutboxMessage(ctx context.Context, m store.OutboxMessage) error {
	_, err := db.exec(ctx, `INSERT INTO outbox (id, channel, recipient, subject, text_body, html_body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.Channel, m.To, m.Subject, m.Text, m.HTML, ms(m.CreatedAt))
	return err
}

// ListOutbox returns messages newest first, filtered by recipient when to is not empty.
func (db *DB) ListOutbox(ctx context.Context, to string, limit int) ([]store.OutboxMessage, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT id, channel, recipient, subject, text_body, html_body, created_at FROM outbox`
	args := []any{}
	if to != "" {
		q += ` WHERE recipient = ?`
		args = append(args, to)
	}
	q += ` ORDER BY created_at DESC, id DESC LIMIT ?`
	args = append(args, limit)
	return scanAll(func(s scanner) (store.OutboxMessage, error) {
		var m store.OutboxMessage
		var at int64
		err := s.Scan(&m.ID, &m.Channel, &m.To, &m.Subject, &m.Text, &m.HTML, &at)
		m.CreatedAt = fromMS(at)
		return m, err
	})(db.query(ctx, q, args...))
}
