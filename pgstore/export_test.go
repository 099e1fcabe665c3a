package pgstore

// ClaimSQL returns the claim statement, for EXPLAIN in benchmarks.
func ClaimSQL(s *Store) string { return s.q.claim }

// BacklogSQL returns Backlog's read statement, for EXPLAIN in benchmarks.
func BacklogSQL(s *Store) string { return s.q.backlog }
