package webhook

import (
	"context"
	"fmt"
)

var _ BatchInserter = (*MemoryStore)(nil)

// InsertMessages implements BatchInserter: under one lock it checks every
// message (another tenant's ID fails the whole batch), then stores the new
// ones with their deliveries.
func (s *MemoryStore) InsertMessages(ctx context.Context, batch []MessageInsert) ([]*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ms := make([]*memMessage, len(batch))
	mdss := make([][]memDelivery, len(batch))
	for i, b := range batch {
		ms[i] = &memMessage{msg: copyMessage(b.Message), deliveries: make([]*memDelivery, 0, len(b.Deliveries))}
		mdss[i] = make([]memDelivery, len(b.Deliveries))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	stored := make([]*Message, len(batch))
	ids := make(map[string]int, len(batch))
	for i, b := range batch {
		if j, ok := ids[b.Message.ID]; ok {
			return nil, &BatchError{Index: i, ID: b.Message.ID, Err: fmt.Errorf("%w: message ID repeats item %d's", ErrInvalid, j)}
		}
		ids[b.Message.ID] = i
		if old, ok := s.messages[b.Message.ID]; ok {
			if old.msg.Tenant != b.Message.Tenant {
				return nil, &BatchError{Index: i, ID: b.Message.ID, Err: MessageIDTaken(b.Message.ID)}
			}
			stored[i] = copyMessage(old.msg)
			continue
		}
		for _, d := range b.Deliveries {
			if _, ok := s.deliveries[d.ID]; ok {
				return nil, &BatchError{Index: i, ID: b.Message.ID, Err: fmt.Errorf("%w: delivery %s exists", ErrConflict, d.ID)}
			}
		}
		if ep, ok := repeatedEndpoint(b.Deliveries); ok {
			return nil, &BatchError{Index: i, ID: b.Message.ID, Err: fmt.Errorf("%w: two deliveries of message %s to endpoint %s", ErrConflict, b.Message.ID, ep)}
		}
	}
	due := false
	for i, b := range batch {
		if stored[i] == nil && s.insertLocked(b.Message, ms[i], mdss[i], b.Deliveries) {
			due = true
		}
	}
	if due {
		s.signalLocked()
	}
	s.armTopLocked()
	return stored, nil
}
