package pgstore

// ClaimSQL returns the claim statement, for EXPLAIN in benchmarks.
func ClaimSQL(s *Store) string { return s.q.claim }
