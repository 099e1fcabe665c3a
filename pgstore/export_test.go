package pgstore

// ClaimSQL returns the claim statement, for EXPLAIN in benchmarks.
func ClaimSQL(s *Store) string { return s.q.claim }

// BacklogSQL returns Backlog's read statement, for EXPLAIN in benchmarks.
func BacklogSQL(s *Store) string { return s.q.backlog }

// WaitingForSQL returns the WaitingFor column's expression, for EXPLAIN.
func WaitingForSQL(s *Store) string { return s.q.waitingFor }

// PromoteIDsSQL returns the lock-and-promote statement by delivery IDs, for EXPLAIN.
func PromoteIDsSQL(s *Store) string { return s.oq.promoteIDs }
