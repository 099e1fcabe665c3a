module github.com/hookline/webhook/bench

go 1.26

require github.com/hookline/webhook v0.0.0

require (
	code.dny.dev/ssrf v0.3.0 // indirect
	github.com/cenkalti/backoff/v4 v4.3.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	golang.org/x/time v0.15.0 // indirect
)

replace github.com/hookline/webhook => ../
